"""Catchments: travel-time bands or radius rings per store, nearest-store assignment, what-if stores."""

import streamlit as st

from geo.campaign_settings import load_settings
from geo.catchments import trade_area
from geo.catchments.polygons import to_geojson
from geo.demo.build import REGIONS, network_source
from geo.modes import MODES, Mode
from geo.network.sources import PLACE, bbox_source, describe, save_network_file
from geo.views.maps import (
    catchment_geojson,
    catchment_legend,
    catchments_deck,
    geojson_bytes,
    store_palette,
)
from ui import cache, cell_layers, engine
from ui.compare import radius_versus_time
from ui.errors import shown_as_message, shown_inline
from ui.legend import show_legend
from ui.market import visitors_taken_section
from ui.network_notes import show_network_notes
from ui.page import start_page
from ui.pickers import store_picker
from ui.selection import Selection
from ui.settings import save_even_bands, save_on_change

page = start_page("Catchments")
ws, root = page.ws, page.root
settings = ws.settings()
plan = load_settings(ws)
customers, stores, cv, sv = cache.customers_and_stores(ws)
source = settings.get("network", "demo")
st.caption(f"Road network: **{describe(source)}**. Map data © OpenStreetMap contributors (ODbL).")
NETWORK_NOTE = "catch_network_note"
if NETWORK_NOTE in st.session_state:
    st.warning(st.session_state.pop(NETWORK_NOTE), icon="⚠️")

with st.expander("Road network"):
    demo_region = REGIONS[settings.get("demo_region", "helsinki")]
    kind = st.radio("Source", ["demo", "file", "place", "stores' area"], horizontal=True,
                    key="net_kind", format_func={"demo": f"Embedded demo ({demo_region.label})",
                                                 "file": "Upload an OSM file",
                                                 "place": "Download by place name",
                                                 "stores' area": "Download around the stores"}.get)
    new_source = None
    if kind == "demo":
        new_source = (network_source(demo_region) if st.button("Use the demo network", key="net_demo")
                      else None)
    elif kind == "file":
        up = st.file_uploader("OSM extract (.osm, .osm.gz, .osm.bz2, .osm.pbf, .graphml)",
                              key="net_file", max_upload_size=500)
        if up is not None and st.button("Use this file", key="net_use_file"):
            with shown_as_message("Could not store the network file"):
                new_source = str(save_network_file(ws.path / "networks", up.name, up.getvalue()))
    elif kind == "place":
        place = st.text_input("Place", key="net_place", placeholder="Krems an der Donau, Austria")
        if place and st.button("Download", key="net_dl_place"):
            new_source = PLACE + place
    else:
        margin = st.slider("Margin around the stores (km)", 0.5, 20.0, 2.0, 0.5, key="net_margin")
        if st.button("Download", key="net_dl_bbox"):
            new_source = bbox_source(stores["lat"], stores["lon"], margin)
    if new_source is not None and new_source != source:
        check_mode = plan.mode.network
        kept = f"the network stays {describe(source)}"
        with st.spinner(f"Loading the {check_mode} network of {describe(new_source)}…"), \
                shown_inline(f"Could not use {describe(new_source)}; {kept}"):
            coverage = engine.coverage(Selection.of(ws, source=new_source, mode=check_mode))
            if not coverage.usable:
                st.error(f"{coverage.summary(describe(new_source))}: it cannot be used for this "
                         f"workspace; {kept}. Load an extract or download an area that holds "
                         "the stores.", icon="⚠️")
            else:
                if not coverage.complete:
                    st.session_state[NETWORK_NOTE] = (
                        f"{coverage.summary(describe(new_source))}. Stores it cannot place have "
                        "no catchment and customers off its roads get no time.")
                ws.update_settings(network=new_source)
                st.rerun()

all_ids = stores["store_id"].astype(str).tolist()
store_names = dict(zip(all_ids, stores["name"].astype(str), strict=True))


def add_clicked_store() -> None:
    """A click on a store marker adds it to the selection; with the what-if on, a click on a road places the candidate."""
    objects = st.session_state["catch_map"]["selection"]["objects"]
    for obj in objects.get("stores", []):
        if obj["store_id"] not in st.session_state["catch_stores"]:
            st.session_state["catch_stores"] = st.session_state["catch_stores"] + [obj["store_id"]]
    for obj in objects.get("sites", []):
        st.session_state["cand_lat"], st.session_state["cand_lon"] = obj["lat"], obj["lon"]
        st.session_state["cand_on"] = True


def show_catchment_legend(shown, palette, bands, unit: str) -> None:  # noqa: ANN001
    """Beside the map: each store's colour and name, and the band shades in minutes (or km)."""
    store_rows, band_rows = catchment_legend(shown, palette, list(bands), unit)
    show_legend("Bands", band_rows)
    show_legend("Stores", store_rows)


def show_radius_comparison(sel: Selection, polys, bands: list[float], roads_url) -> None:  # noqa: ANN001
    """Radius versus travel time below the catchments: counts, sentence, map and best radius per store."""
    def band_url(minutes: float) -> str:
        band = polys[polys["band_min"] == minutes] if len(polys) else polys
        return cache.publish_static("compare-catchments", geojson_bytes(catchment_geojson(band, {})))

    radius_versus_time(sel, bands, catchments=band_url, roads_url=roads_url,
                       view=cache.dataset_view(root, ws.name, cv, sv))


@st.fragment
def catchments_view() -> None:
    """Controls, map and live tables; a slider move reruns only this fragment."""
    left, right = st.columns([1, 3])
    with left:
        chosen = store_picker("Stores", store_names, "catch_stores",
                              help="Or click a store on the map to add it.")
        now = load_settings(ws)   # the settings as saved by any page, this one included
        mode = Mode.parse(st.radio(
            "Mode", [m.value for m in MODES], key="catch_mode",
            index=[m.value for m in MODES].index(now.mode.value),
            format_func=lambda m: Mode(m).label, horizontal=True,
            on_change=save_on_change, args=(ws, "mode", "catch_mode"),
            help="Kept for the workspace: the Reach page and the saved campaign use it."))
        kept = now.bands_for(mode)
        count_key, longest_key = f"catch_nbands_{mode}", f"catch_longest_{mode}"
        save_bands = {"on_change": save_even_bands, "args": (ws, mode, count_key, longest_key)}
        n_bands = st.select_slider("Bands", [1, 2, 3, 4], value=min(len(kept), 4),
                                   key=count_key, **save_bands)
        if mode is Mode.RADIUS:
            longest = st.slider("Largest ring (km)", 0.1, 10.0, min(max(kept), 10.0), 0.1,
                                key=longest_key, **save_bands)
        else:
            longest = st.slider("Longest band (minutes)", 1, 60, int(min(max(kept), 60)),
                                key=longest_key, **save_bands)
        traffic = (st.slider("Traffic factor (drive speed × factor)", 0.3, 1.0,
                             min(max(now.traffic, 0.3), 1.0), 0.05, key="catch_traffic",
                             on_change=save_on_change, args=(ws, "traffic", "catch_traffic"),
                             help="1.0 = free flow (off-peak); 0.6 = peak hour, speeds 40 % lower.")
                   if mode is Mode.DRIVE else 1.0)
        bands = trade_area.even_bands(longest, n_bands)
        st.caption("Bands: " + ", ".join(f"{b:g}" for b in bands) + f" {mode.unit} (kept for "
                   "the workspace: Reach and the saved campaign use them)")
        with st.expander("What-if: a candidate store", expanded=st.session_state.get("cand_on", False)):
            st.toggle("Add a candidate store", key="cand_on", disabled=mode is Mode.RADIUS,
                      help="Click a road on the map, or type its coordinates."
                      if mode.is_travel else "The what-if routes on roads: choose walk, bike or "
                                              "drive to use it.")
            st.number_input("Latitude", -90.0, 90.0, float(stores["lat"].mean()), format="%.5f",
                            key="cand_lat")
            st.number_input("Longitude", -180.0, 180.0, float(stores["lon"].mean()), format="%.5f",
                            key="cand_lon")
    if not chosen:
        right.info("Choose at least one store (or press All stores).")
        return
    ids = tuple(sorted(chosen))
    sel = Selection.of(ws, stores=ids, source=source, mode=mode.value, traffic=traffic)
    palette = store_palette(all_ids)
    shown_stores = stores[stores["store_id"].astype(str).isin(ids)]
    with right, shown_as_message("Could not compute the catchments"):
        if mode is Mode.RADIUS:
            assigned = engine.radius_assignment(sel, float(bands[-1]))
            polys = engine.rings(sel, tuple(bands))
            points_url = cell_layers.assigned_points(sel, float(bands[-1]), len(customers))
            table = engine.band_table(sel, tuple(bands), float(bands[-1]))
            nodes_url = roads_url = None
            pairs = None
        else:
            show_network_notes(sel)
            assigned = engine.assignment(sel)
            polys = engine.travel_catchments(sel, tuple(bands))
            points_url = cell_layers.assigned_points(sel, None, len(customers))
            # the road nodes are only clickable sites for a candidate: sent when the what-if is on
            nodes_url = engine.sites_url(source, mode.value) if st.session_state.get("cand_on") else None
            roads_url = cache.road_paths_url(source, mode.value)
            table = engine.band_table(sel, tuple(bands))
            pairs = engine.store_overlaps(sel, float(bands[-1]))
        candidate = cand_polys = whatif = None
        if st.session_state.get("cand_on") and mode.is_travel:
            candidate = {"lat": st.session_state["cand_lat"], "lon": st.session_state["cand_lon"]}
            whatif = engine.what_if(sel, candidate["lat"], candidate["lon"], tuple(bands))
            cand_polys = cache.publish_static(
                "candidate", geojson_bytes(catchment_geojson(whatif.catchment, {})))
        unit = mode.unit
        polys_url = cache.publish_static(
            "catchments", geojson_bytes(catchment_geojson(polys, palette, unit=unit, names=store_names)))
        deck = catchments_deck(shown_stores, catchments=polys_url,
                               points_url=points_url, nodes_url=nodes_url, roads_url=roads_url,
                               view=cache.dataset_view(root, ws.name, cv, sv), palette=palette,
                               candidate=candidate, candidate_catchments=cand_polys)
        deck = cell_layers.catchment_layers(deck, sel, float(bands[-1]) if mode is Mode.RADIUS else None,
                                            len(customers))
        st.pydeck_chart(deck, height=600, key="catch_map", on_select=add_clicked_store,
                        selection_mode="single-object")
        with left:
            show_catchment_legend(shown_stores, palette, bands, unit)
        lost = trade_area.unreachable_counts(assigned)
        c1, c2, c3 = st.columns(3)
        c1.metric(f"Customers within {bands[-1]:g} {unit}",
                  f"{int(table.iloc[-1][trade_area.band_label(bands[-1], unit)]):,}")
        c2.metric("Of whom opted in", f"{int(table.iloc[-1]['opted_in']):,}",
                  help="Every record of their address opted in and none unsubscribed.")
        c3.metric(trade_area.unreachable_title(mode, bands[-1]), f"{sum(lost.values()):,}",
                  help=trade_area.unreachable_words(lost, mode))
        st.markdown(f"**Customers per store and band** (each customer counted once, at the "
                    f"store nearest {'in a straight line' if mode is Mode.RADIUS else 'by travel time'}"
                    "; ties go to the lower store id)")
        st.dataframe(table, hide_index=True, width="stretch", key="catch_table")
        if pairs is not None and len(pairs):
            st.markdown(f"**Overlaps**: {pairs.attrs.get('customers_in_two_or_more', 0):,} "
                        f"customers are inside the {bands[-1]:g}-minute band of two or more stores")
            st.dataframe(pairs.head(20), hide_index=True, width="stretch")
        if whatif is not None:
            st.markdown(f"**Candidate store** would win {len(whatif.won):,} customers within "
                        f"{bands[-1]:g} min, from:")
            st.dataframe(whatif.by_store, hide_index=True)
            visitors_taken_section(sel, candidate["lat"], candidate["lon"], float(bands[-1]))
        if mode.is_travel:
            show_radius_comparison(sel, polys, [float(b) for b in bands], roads_url)
        st.download_button("Catchments as GeoJSON", data=lambda: to_geojson(polys),
                           file_name=f"catchments-{mode}.geojson", mime="application/geo+json",
                           on_click="ignore")
        miss = trade_area.unreachable(assigned)
        if len(miss):
            st.download_button(f"Unreachable customers ({len(miss):,}) as CSV",
                               data=lambda: miss.to_csv(index=False).encode(),
                               file_name="unreachable.csv", mime="text/csv", on_click="ignore")


catchments_view()

with st.expander("Threshold trade area: how far must a store reach to hold N customers?"):
    col1, col2 = st.columns(2)
    store = col1.selectbox("Store", all_ids, key="thr_store")
    n = col2.number_input("Customers", 1, len(customers), min(1000, len(customers)), key="thr_n")
    thr_mode = load_settings(ws).mode
    if not thr_mode.is_travel:
        st.caption("Pick a travel mode above (not radius) to use this.")
    elif st.button("Compute", key="thr_go"):
        with shown_inline("Could not compute the threshold"):
            minutes = engine.threshold(Selection.of(ws, source=source, mode=thr_mode.value),
                                       store, int(n))
            st.success(f"{store} holds {int(n):,} customers within **{minutes:.1f} minutes** "
                       f"({thr_mode.label.lower()}).")
