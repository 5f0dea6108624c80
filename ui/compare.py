"""Radius versus travel time on the pages: cached distances, the Catchments section and the Reach line.

Every number shown comes from `geo.catchments.compare` (`compare_counts`,
`classify`, `sentence`); this module only caches and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from geo.catchments.compare import Distances, classify, compare_counts, distances, sentence, store_table
from geo.modes import Mode
from geo.views.aggregate import aggregated
from geo.views.maps import OSM_ATTRIBUTION, compare_deck, compare_legend, compare_points_json
from ui import cache, cell_layers, engine
from ui.selection import Selection


@st.cache_resource(show_spinner="Measuring straight-line and road distances…", max_entries=4)
def store_distances(sel: Selection) -> Distances:
    """Great-circle km and travel minutes between every customer and chosen store of ``sel``.

    Shared and read-only (customers x stores arrays: 800 MB at 1M customers and
    50 stores, never pickled or copied per rerun).
    """
    return distances(engine.router(sel.source, sel.mode), sel.chosen_stores(), sel.customers(),
                     mode=sel.mode, traffic=sel.traffic)


@st.cache_data(show_spinner=False, max_entries=64)
def counts(sel: Selection, km: float, minutes: float) -> dict[str, Any]:
    """`compare_counts` of ``sel`` for ``km`` and ``minutes``."""
    return compare_counts(store_distances(sel), sel.customers(), km, minutes)


@st.cache_data(show_spinner=False, max_entries=32)
def points_url(sel: Selection, km: float, minutes: float) -> str:
    """URL of the customers coloured by radius / travel time (static JSON)."""
    kinds = classify(store_distances(sel), km, minutes)
    return cache.publish_static("compare", compare_points_json(sel.customers(), kinds))


@st.cache_data(show_spinner="Counting customers per area…", max_entries=32)
def cells_url(sel: Selection, km: float, minutes: float) -> str:
    """URL of the customers by radius / travel time per H3 cell (`geo.views.aggregate.kind_cells`)."""
    from geo.views.aggregate import cells_json, kind_cells

    kinds = classify(store_distances(sel), km, minutes)
    return cache.publish_static("compare-cells", cells_json(kind_cells(sel.customers(), kinds)))


def _legend(minutes: float, km: float) -> None:
    rows = "".join(
        f"<div><span style='display:inline-block;width:12px;height:12px;border-radius:6px;"
        f"background:rgb({c[0]},{c[1]},{c[2]});margin-right:6px'></span>{label}</div>"
        for label, c in compare_legend(minutes, km))
    st.markdown(f"<div style='font-size:0.85rem'>{rows}<div><span style='display:inline-block;"
                f"width:12px;height:12px;border:2px solid rgb(214,39,40);border-radius:6px;"
                f"margin-right:6px'></span>{km:g} km radius around each store</div></div>",
                unsafe_allow_html=True)


def radius_versus_time(sel: Selection, bands: list[float], *,
                       catchments: Callable[[float], dict[str, Any] | str | None] | None = None,
                       roads_url: str | None = None, view: Any = None) -> None:
    """The Catchments page's comparison: minutes and km sliders, counts, the sentence, the map, the table.

    ``catchments(minutes)`` gives the GeoJSON (or its URL) of that band, drawn under the circles.
    """
    mode = Mode.parse(sel.mode)
    st.markdown(f"#### Radius versus travel time ({mode.value})")
    minutes = float(st.select_slider("Travel time (minutes)", options=[float(b) for b in bands],
                                     value=float(bands[0]), format_func=lambda b: f"{b:g} min",
                                     key="cmp_minutes"))
    suggested = sorted(counts(sel, 1.0, minutes)["by_store"].values(),
                       key=lambda c: c["best_km"])
    default_km = round(float(suggested[len(suggested) // 2]["best_km"]), 1) if suggested else 2.0
    km = st.slider("Radius a radius segment would use (km)", 0.2, 20.0,
                   min(max(default_km, 0.2), 20.0), 0.1, key="cmp_km",
                   help="Great-circle distance, as Mailchimp's or Klaviyo's radius segments use.")
    c = counts(sel, float(km), float(minutes))
    overall, addr = c["overall"], c["overall_addresses"]
    m1, m2, m3 = st.columns(3)
    m1.metric("In both", f"{overall['both']:,}", help=f"{addr['both']:,} consenting addresses")
    m2.metric("Radius only: wasted mails", f"{overall['radius_only']:,}",
              help=f"{addr['radius_only']:,} consenting addresses; more than {minutes:g} min away")
    m3.metric("Travel time only: missed", f"{overall['time_only']:,}",
              help=f"{addr['time_only']:,} consenting addresses; beyond {km:g} km")
    table = store_table(c, sel.chosen_stores())
    names = dict(zip(table["store_id"], table["name"], strict=True))
    focus = st.selectbox("Sentence for", list(names), format_func=lambda s: names[s], key="cmp_store")
    st.info(sentence(names[focus], c["by_store"][focus], km, minutes, sel.mode))
    n = len(sel.customers())
    if _map_asked(n):
        _compare_map(sel, float(km), float(minutes), n, catchments=catchments, roads_url=roads_url, view=view)
    st.markdown("**Per store** (counts for each store alone; best radius: the radius whose customers "
                f"best match its {minutes:g}-minute catchment, and what still differs there)")
    st.dataframe(table, hide_index=True, width="stretch", key="cmp_table")


def _map_asked(n_customers: int) -> bool:
    """Below the aggregation threshold the map is always drawn; above it, on request (a second heavy map)."""
    if not aggregated(n_customers):
        return True
    return st.toggle("Show the comparison map", key="cmp_show_map",
                     help=f"With {n_customers:,} customers the comparison map (customers per area and the "
                          "roads) is drawn on request, so the page opens fast.")


def _compare_map(sel: Selection, km: float, minutes: float, n: int, *,
                 catchments: Callable[[float], dict[str, Any] | str | None] | None,
                 roads_url: str | None, view: Any) -> None:
    """The comparison map and its legend: points below the threshold, cells by kind above it."""
    left, right = st.columns([4, 1])
    with left:
        deck = compare_deck(sel.chosen_stores(), km=float(km),
                            points_url="" if aggregated(n) else points_url(sel, km, minutes),
                            view=view, catchments=catchments(minutes) if catchments else None,
                            roads_url=roads_url)
        deck = cell_layers.compare_layers(deck, lambda: cells_url(sel, km, minutes), n)
        st.pydeck_chart(deck, height=520, key="cmp_map")
        st.caption(f"Map data {OSM_ATTRIBUTION}. Radius: great-circle distance from each store.")
    with right:
        _legend(minutes, km)


def reach_compare_line(sel: Selection, km: float, minutes: float) -> None:
    """One line for the Reach page: what a ``km`` radius would get wrong against ``minutes``."""
    if not Mode.parse(sel.mode).is_travel or not sel.stores:
        return
    c = counts(sel, float(km), float(minutes))
    o = c["overall"]
    st.caption(f"Against a {km:g} km radius: {o['radius_only']:,} customers inside the radius are "
               f"more than {minutes:g} minutes away (wasted mails), and {o['time_only']:,} within "
               f"{minutes:g} minutes lie outside it (missed). See Catchments for the map.")
