"""funnel page (being built)."""

import streamlit as st

st.title("funnel")
st.info("This page is being built.")
