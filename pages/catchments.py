"""Catchments: travel-time bands or radius rings per store, nearest-store assignment, what-if stores."""

import streamlit as st

from geo import trade_area
from geo.catchments import to_geojson
from geo.mapdeck import catchment_geojson, catchments_deck, geojson_bytes, store_palette
from geo.sources import PLACE, bbox_source, describe, save_network_file
from ui import cache, engine
from ui.errors import shown_as_message
from ui.network_notes import show_network_notes
from ui.state import active_workspace, data_root, ensure_app_shell

ensure_app_shell()
ws = active_workspace()
root = str(data_root())
settings = ws.settings()
st.title("Catchments")
customers, stores, cv, sv = cache.customers_and_stores(ws)
source = settings.get("network", "demo")
st.caption(f"Road network: **{describe(source)}**. Map data © OpenStreetMap contributors (ODbL).")

with st.expander("Road network"):
    kind = st.radio("Source", ["demo", "file", "place", "stores' area"], horizontal=True,
                    key="net_kind", format_func={"demo": "Embedded demo (central Helsinki)",
                                                 "file": "Upload an OSM file",
                                                 "place": "Download by place name",
                                                 "stores' area": "Download around the stores"}.get)
    new_source = None
    if kind == "demo":
        new_source = "demo" if st.button("Use the demo network", key="net_demo") else None
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
        mode_now = st.session_state.get("catch_mode", settings.get("mode", "walk"))
        check_mode = "walk" if mode_now == "radius" else mode_now
        with st.spinner(f"Loading the {check_mode} network of {describe(new_source)}…"), \
                shown_as_message(f"Could not use {describe(new_source)}; the network stays "
                                 f"{describe(source)}"):
            engine.router(new_source, check_mode)
            ws.update_settings(network=new_source)
            st.rerun()

all_ids = stores["store_id"].astype(str).tolist()
if "catch_stores" not in st.session_state:
    st.session_state["catch_stores"] = all_ids
MODE_LABELS = {"walk": "Walk", "bike": "Bike", "drive": "Drive", "radius": "Radius (crow flies)"}


def add_clicked_store() -> None:
    """A click on a store marker adds it to the selection; a click on a road node places a candidate."""
    objects = st.session_state["catch_map"]["selection"]["objects"]
    for obj in objects.get("stores", []):
        if obj["store_id"] not in st.session_state["catch_stores"]:
            st.session_state["catch_stores"] = st.session_state["catch_stores"] + [obj["store_id"]]
    for obj in objects.get("sites", []):
        st.session_state["cand_lat"], st.session_state["cand_lon"] = obj["lat"], obj["lon"]
        st.session_state["cand_on"] = True


@st.fragment
def catchments_view() -> None:
    """Controls, map and live tables; a slider move reruns only this fragment."""
    left, right = st.columns([1, 3])
    with left:
        chosen = st.multiselect("Stores", all_ids, key="catch_stores",
                                format_func=lambda s: f"{s} · {stores.set_index('store_id').name[s]}",
                                help="Or click a store on the map to add it.")
        default_mode = settings.get("mode", "walk")
        mode = st.radio("Mode", ["walk", "bike", "drive", "radius"], key="catch_mode",
                        index=["walk", "bike", "drive", "radius"].index(default_mode),
                        format_func=MODE_LABELS.get, horizontal=True)
        n_bands = st.select_slider("Bands", [1, 2, 3, 4], value=3, key="catch_nbands")
        if mode == "radius":
            longest = st.slider("Largest ring (km)", 0.1, 10.0, 1.0, 0.1, key="catch_km")
            traffic = 1.0
        else:
            longest = st.slider("Longest band (minutes)", 1, 60,
                                int(settings.get("longest_min", {}).get(mode, 15)),
                                key=f"catch_min_{mode}")
            traffic = (st.slider("Traffic factor (drive speed × factor)", 0.3, 1.0, 1.0, 0.05,
                                 key="catch_traffic",
                                 help="1.0 = free flow (off-peak); 0.6 = peak hour, speeds 40 % lower.")
                       if mode == "drive" else 1.0)
        bands = trade_area.even_bands(longest, n_bands)
        st.caption("Bands: " + ", ".join(f"{b:g}" for b in bands) + (" km" if mode == "radius"
                                                                         else " min"))
        with st.expander("What-if: a candidate store", expanded=st.session_state.get("cand_on", False)):
            st.toggle("Add a candidate store", key="cand_on",
                      help="Click a road on the map, or type its coordinates.")
            st.number_input("Latitude", -90.0, 90.0, float(stores["lat"].mean()), format="%.5f",
                            key="cand_lat")
            st.number_input("Longitude", -180.0, 180.0, float(stores["lon"].mean()), format="%.5f",
                            key="cand_lon")
    if not chosen:
        right.info("Choose at least one store.")
        return
    ids = tuple(sorted(chosen))
    palette = store_palette(all_ids)
    shown_stores = stores[stores["store_id"].astype(str).isin(ids)]
    with right, shown_as_message("Could not compute the catchments"):
        if mode == "radius":
            assigned = engine.radius_assignment(root, ws.name, cv, sv, float(bands[-1]), ids)
            polys = engine.rings(root, ws.name, cv, sv, ids, tuple(bands))
            points_url = engine.assigned_points_url(root, ws.name, cv, sv, source, "walk", 1.0,
                                                    ids, float(bands[-1]))
            table = trade_area.band_table(assigned, customers, shown_stores, bands, by="crow_km")
            nodes_url = roads_url = None
            pairs = None
        else:
            show_network_notes(root, ws.name, sv, source, mode, ids)
            assigned = engine.assignment(root, ws.name, cv, sv, source, mode, traffic, ids)
            polys = engine.travel_catchments(root, ws.name, cv, sv, source, mode, traffic, ids,
                                             tuple(bands))
            points_url = engine.assigned_points_url(root, ws.name, cv, sv, source, mode, traffic,
                                                    ids, None)
            nodes_url = engine.sites_url(source, mode)
            roads_url = cache.road_paths_url(source, mode)
            table = trade_area.band_table(assigned, customers, shown_stores, bands)
            pairs = engine.store_overlaps(root, ws.name, cv, sv, source, mode, traffic, ids,
                                          float(bands[-1]))
        candidate = cand_polys = whatif = None
        if st.session_state.get("cand_on") and mode != "radius":
            candidate = {"lat": st.session_state["cand_lat"], "lon": st.session_state["cand_lon"]}
            whatif = engine.what_if(root, ws.name, cv, sv, source, mode, traffic, ids,
                                    candidate["lat"], candidate["lon"], tuple(bands))
            cand_polys = cache.publish_static(
                "candidate", geojson_bytes(catchment_geojson(whatif.catchment, {})))
        unit = "km" if mode == "radius" else "min"
        polys_url = cache.publish_static(
            "catchments", geojson_bytes(catchment_geojson(polys, palette, unit=unit)))
        deck = catchments_deck(shown_stores, catchments=polys_url,
                               points_url=points_url, nodes_url=nodes_url, roads_url=roads_url,
                               view=cache.dataset_view(root, ws.name, cv, sv), palette=palette,
                               candidate=candidate, candidate_catchments=cand_polys)
        st.pydeck_chart(deck, height=560, key="catch_map", on_select=add_clicked_store,
                        selection_mode="single-object")
        lost = trade_area.unreachable_counts(assigned)
        c1, c2, c3 = st.columns(3)
        c1.metric(f"Customers within {bands[-1]:g} {unit}",
                  f"{int(table.iloc[-1][trade_area.band_label(bands[-1], unit)]):,}")
        c2.metric("Of whom opted in", f"{int(table.iloc[-1]['opted_in']):,}")
        c3.metric("Unreachable", f"{sum(lost.values()):,}",
                  help="No store by road: " + (", ".join(f"{k} {v:,}" for k, v in lost.items())
                                               or "none"))
        st.markdown("**Customers per store and band** (each customer counted once, at the "
                    "store nearest by travel time; ties go to the lower store id)")
        st.dataframe(table, hide_index=True, width="stretch", key="catch_table")
        if pairs is not None and len(pairs):
            st.markdown(f"**Overlaps**: {pairs.attrs.get('customers_in_two_or_more', 0):,} "
                        f"customers are inside the {bands[-1]:g}-minute band of two or more stores")
            st.dataframe(pairs.head(20), hide_index=True, width="stretch")
        if whatif is not None:
            st.markdown(f"**Candidate store** would win {len(whatif.won):,} customers within "
                        f"{bands[-1]:g} min, from:")
            st.dataframe(whatif.by_store, hide_index=True)
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
    thr_mode = st.session_state.get("catch_mode", "walk")
    if thr_mode == "radius":
        st.caption("Pick a travel mode above (not radius) to use this.")
    elif st.button("Compute", key="thr_go"):
        with shown_as_message("Could not compute the threshold"):
            minutes = engine.threshold(root, ws.name, cv, sv, source, thr_mode, store, int(n))
            st.success(f"{store} holds {int(n):,} customers within **{minutes:.1f} minutes** "
                       f"({MODE_LABELS[thr_mode].lower()}).")
