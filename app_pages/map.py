"""Map: stores, customers, density and roads of the active workspace, with headline counts."""

import streamlit as st

from geo.campaign_settings import load_settings
from geo.views.maps import legend, overview_deck
from geo.views.summary import headline_counts
from ui import cache, cell_layers
from ui.errors import shown_as_message
from ui.page import start_page

page = start_page("Customers and stores")
ws, root = page.ws, page.root
settings = ws.settings()

customers, stores, cv, sv = cache.customers_and_stores(ws)

counts = headline_counts(customers, stores)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Customers", f"{counts['customers']:,}")
c2.metric("Opted in", f"{counts['opted_in']:,}", help="Opted in and not unsubscribed.")
c3.metric("Unsubscribed", f"{counts['unsubscribed']:,}")
c4.metric("Stores", f"{counts['stores']:,}")

left, right = st.columns([1, 4])
with left:
    colour_by = st.radio("Colour customers by", ["consent", "segment"], horizontal=True,
                         key="map_colour_by")
    show = {
        "customers": st.toggle("Customers", True, key="map_show_customers"),
        "density": st.toggle("Density (hexagons)", True, key="map_show_density"),
        "stores": st.toggle("Stores", True, key="map_show_stores"),
        "store-labels": st.toggle("Store names", True, key="map_show_labels"),
        "roads": st.toggle("Roads", True, key="map_show_roads"),
    }
    online = st.toggle("Online basemap (Carto, needs internet)", False, key="map_basemap",
                       help="Off: the map draws the OpenStreetMap roads it has, with no internet.")
    st.markdown("**Legend**")
    items = legend(customers, colour_by) + [("store", [213, 33, 106])]
    st.markdown("  \n".join(
        f"<span style='color:rgb({r},{g},{b})'>●</span> {label}"
        for label, (r, g, b, *_) in items), unsafe_allow_html=True)

with right:
    with shown_as_message("Could not load the road network"):
        roads_url = cache.road_paths_url(settings.get("network", "demo"),
                                         load_settings(ws).mode.network) if show["roads"] else None
    deck = overview_deck(
        stores,
        customers_url=cell_layers.points_url(root, ws.name, cv, len(customers)),
        roads_url=roads_url,
        view=cache.dataset_view(root, ws.name, cv, sv),
        colour_by=colour_by, show=show, basemap="light" if online else "none")
    deck = cell_layers.overview_layers(deck, root, ws.name, cv, len(customers), colour_by, show)
    st.pydeck_chart(deck, height=620, key="overview_map")
    st.caption("Map data © OpenStreetMap contributors (ODbL)."
               + (" The demo's customers are synthetic." if settings.get("demo") else ""))
