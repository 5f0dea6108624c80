"""reach page (being built)."""

import streamlit as st

st.title("reach")
st.info("This page is being built.")
