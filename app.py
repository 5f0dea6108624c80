"""Entry point: page set-up, navigation and the sidebar shared by every page."""

import streamlit as st

from geo.views.maps import OSM_ATTRIBUTION
from ui.auth import gate, sidebar_user
from ui.cache import ensure_demo
from ui.memory import heap_trimmer
from ui.state import data_root, workspace_picker

# No page_icon: an icon name makes the browser fetch it from a font CDN; the default is local.
st.set_page_config(page_title="O2O geo-targeting", layout="wide")
actor = gate()                  # sign-in and allow-list: nothing below runs for anyone refused
ensure_demo(str(data_root()))   # built once per server, on its first run
heap_trimmer()                  # one thread per server returns freed memory to the system

PAGES = [
    st.Page("app_pages/map.py", title="Map", url_path="map", default=True),
    st.Page("app_pages/catchments.py", title="Catchments", url_path="catchments"),
    st.Page("app_pages/reach.py", title="Reach & targets", url_path="reach"),
    st.Page("app_pages/export.py", title="Export", url_path="export"),
    st.Page("app_pages/funnel.py", title="Funnel", url_path="funnel"),
    st.Page("app_pages/data.py", title="Data & workspaces", url_path="data"),
]

nav = st.navigation(PAGES)

with st.sidebar:
    workspace_picker()
    sidebar_user(actor)
    st.caption(f"Map data {OSM_ATTRIBUTION}")

nav.run()
