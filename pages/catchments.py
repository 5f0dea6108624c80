"""catchments page (being built)."""

import streamlit as st

st.title("catchments")
st.info("This page is being built.")
