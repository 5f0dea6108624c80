"""Map: stores, customers, density and roads of the active workspace, with headline counts."""

import streamlit as st

from geo.campaign_settings import load_settings
from geo.views.maps import OSM_ATTRIBUTION, STORE_COLOUR, density_legend, overview_deck
from ui import cache, cell_layers
from ui.errors import shown_as_message
from ui.legend import show_legend
from ui.page import start_page

MAP_HEIGHT_PX = 600

page = start_page("Customers and stores")
ws, root = page.ws, page.root
settings = ws.settings()

customers, stores, cv, sv = cache.customers_and_stores(ws)

counts = cache.headline(root, ws.name, cv, sv)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Customers", f"{counts['customers']:,}")
c2.metric("Opted in", f"{counts['opted_in']:,}", help="Opted in and not unsubscribed.")
c3.metric("Unsubscribed", f"{counts['unsubscribed']:,}")
c4.metric("Stores", f"{counts['stores']:,}")

controls = st.columns([2, 1, 1, 1, 1, 1, 2])
colour_by = controls[0].radio("Colour customers by", ["consent", "segment"], horizontal=True,
                              key="map_colour_by")
show = {
    "customers": controls[1].toggle("Customers", True, key="map_show_customers"),
    "density": controls[2].toggle("Density (hexagons)", True, key="map_show_density"),
    "stores": controls[3].toggle("Stores", True, key="map_show_stores"),
    "store-labels": controls[4].toggle("Store names", True, key="map_show_labels"),
    "roads": controls[5].toggle("Roads", True, key="map_show_roads"),
}
online = controls[6].toggle("Online basemap (Carto, needs internet)", False, key="map_basemap",
                            help="Off: the map draws the OpenStreetMap roads it has, with no internet.")

hex_m = cache.density_hex_m(root, ws.name, cv)
map_col, legend_col = st.columns([5, 1])
with map_col:
    with shown_as_message("Could not load the road network"):
        roads_url = cache.road_paths_url(settings.get("network", "demo"),
                                         load_settings(ws).mode.network) if show["roads"] else None
    deck = overview_deck(
        stores,
        customers_url=cell_layers.points_url(root, ws.name, cv, len(customers)),
        roads_url=roads_url,
        view=cache.dataset_view(root, ws.name, cv, sv),
        colour_by=colour_by, show=show, basemap="light" if online else "none", hex_radius_m=hex_m)
    deck = cell_layers.overview_layers(deck, root, ws.name, cv, len(customers), colour_by, show)
    st.pydeck_chart(deck, height=MAP_HEIGHT_PX, key="overview_map")
    st.caption(f"Map data {OSM_ATTRIBUTION}."
               + (" The demo's customers are synthetic." if settings.get("demo") else ""))
with legend_col:
    show_legend("Customers", cache.customer_legend(root, ws.name, cv, colour_by))
    show_legend("Stores", [("store (name on hover; labels thinned where they would overlap)",
                            STORE_COLOUR)])
    if show["density"]:
        show_legend("Density", density_legend(hex_m))
    if show["roads"]:
        show_legend("Roads", [("OpenStreetMap roads of the network", [80, 80, 95])], line=True)
