"""Entry point: page set-up, navigation and the sidebar shared by every page."""

import streamlit as st

from geo.views.maps import OSM_ATTRIBUTION
from ui.state import mark_shell, workspace_picker

# No page_icon: an icon name makes the browser fetch it from a font CDN; the default is local.
st.set_page_config(page_title="O2O geo-targeting", layout="wide")
mark_shell()

PAGES = [
    st.Page("pages/map.py", title="Map", url_path="map", default=True),
    st.Page("pages/catchments.py", title="Catchments", url_path="catchments"),
    st.Page("pages/reach.py", title="Reach & targets", url_path="reach"),
    st.Page("pages/export.py", title="Export", url_path="export"),
    st.Page("pages/funnel.py", title="Funnel", url_path="funnel"),
    st.Page("pages/data.py", title="Data & workspaces", url_path="data"),
]

nav = st.navigation(PAGES)

with st.sidebar:
    workspace_picker()
    st.caption(f"Map data {OSM_ATTRIBUTION}")

nav.run()
