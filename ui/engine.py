"""Cached travel-time engine for the pages: one router per network and mode, results per `Selection`.

A slider move changes only cheap keys (minutes, km): the road graph and router
stay in memory (`st.cache_resource`), and assignments, catchments and overlaps
are cached per `ui.selection.Selection` plus the few numbers that only one
computation needs (`st.cache_data`), never per DataFrame.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.catchments.assign import assign_customers, overlaps, radius_assign
from geo.catchments.polygons import catchment_polygons, radius_rings
from geo.network.coverage import Coverage, network_coverage
from geo.network.routing import Router
from ui import cache
from ui.selection import Selection


@st.cache_resource(show_spinner="Preparing the road network for routing…", max_entries=6)
def router(source: str, mode: str) -> Router:
    """The `Router` (CSR travel-time matrix, snapping tree) of ``source`` for ``mode``."""
    return Router.from_graph(cache.road_network(source, mode))


@st.cache_data(show_spinner=False, max_entries=8)
def network_notes(source: str, mode: str) -> list[str]:
    """What the ``mode`` network's load found and how it routes (`Router.notes`), one sentence each."""
    return router(source, mode).notes()


@st.cache_data(show_spinner=False, max_entries=32)
def unplaced_stores(sel: Selection) -> pd.DataFrame:
    """The selected stores the network cannot place, with the reason (`Router.place_stores`)."""
    return router(sel.source, sel.mode).place_stores(sel.chosen_stores()).unplaced


@st.cache_resource(show_spinner="Routing customers to their nearest store…", max_entries=8)
def assignment(sel: Selection) -> pd.DataFrame:
    """Nearest store by travel time for every customer (no minute limit: bands filter later).

    Shared and read-only: one frame per selection for every page and session,
    never unpickled per call (a copy of a 1M-row frame per rerun otherwise).
    """
    return assign_customers(router(sel.source, sel.mode), sel.chosen_stores(), sel.customers(),
                            mode=sel.mode, traffic=sel.traffic)


@st.cache_data(show_spinner="Checking the network against the stores and customers…",
               max_entries=8)
def coverage(sel: Selection) -> Coverage:
    """How much of the workspace's stores and customers the network of ``sel.source`` covers."""
    return network_coverage(router(sel.source, sel.mode), sel.stores_table(), sel.customers())


@st.cache_resource(show_spinner=False, max_entries=8)
def radius_assignment(sel: Selection, km: float) -> pd.DataFrame:
    """Nearest store by crow-flies distance, within ``km`` kilometres (shared, read-only)."""
    return radius_assign(sel.chosen_stores(), sel.customers(), km)


@st.cache_data(show_spinner="Drawing catchments…", max_entries=64)
def travel_catchments(sel: Selection, minutes: tuple[float, ...]) -> gpd.GeoDataFrame:
    """Travel-time band polygons per store, with customers assigned within each band."""
    return catchment_polygons(router(sel.source, sel.mode), sel.chosen_stores(), list(minutes),
                              mode=sel.mode, traffic=sel.traffic, assigned=assignment(sel))


@st.cache_data(show_spinner=False, max_entries=64)
def rings(sel: Selection, km: tuple[float, ...]) -> gpd.GeoDataFrame:
    """Geodesic rings per store, with customers assigned within each ring."""
    return radius_rings(sel.chosen_stores(), list(km), assigned=radius_assignment(sel, max(km)))


@st.cache_data(show_spinner=False, max_entries=32)
def store_overlaps(sel: Selection, minutes: float) -> pd.DataFrame:
    """Customers inside the ``minutes`` band of two stores at once, per store pair."""
    return overlaps(router(sel.source, sel.mode), sel.chosen_stores(), sel.customers(),
                    mode=sel.mode, minutes=minutes, traffic=sel.traffic)


@st.cache_data(show_spinner=False, max_entries=32)
def assigned_points_url(sel: Selection, km: float | None) -> str:
    """URL of customers coloured by assigned store (static JSON; unchanged by minute moves)."""
    from geo.views.maps import assigned_points_json, store_palette

    palette = store_palette(list(sel.stores))
    if km is None:
        payload = assigned_points_json(sel.customers(), assignment(sel), palette)
    else:
        payload = assigned_points_json(sel.customers(), radius_assignment(sel, km), palette,
                                       unit="km")
    return cache.publish_static("assigned", payload)


@st.cache_data(show_spinner=False, max_entries=8)
def sites_url(source: str, mode: str) -> str:
    """URL of the network's nodes as clickable candidate sites (static JSON)."""
    from geo.views.maps import node_points_json

    return cache.publish_static(f"sites-{mode}", node_points_json(cache.road_network(source, mode)))


@st.cache_data(show_spinner="Routing the candidate store…", max_entries=16)
def what_if(sel: Selection, lat: float, lon: float, minutes: tuple[float, ...]):  # noqa: ANN201
    """Catchment of a candidate store and the customers it would win, by losing store."""
    from geo.catchments.polygons import what_if_store

    return what_if_store(router(sel.source, sel.mode), sel.chosen_stores(), sel.customers(), lat,
                         lon, mode=sel.mode, minutes=list(minutes), traffic=sel.traffic,
                         assigned=assignment(sel))


@st.cache_data(show_spinner=False, max_entries=32)
def threshold(sel: Selection, store_id: str, n: int) -> float:
    """Minutes store ``store_id``'s band must reach to hold ``n`` customers."""
    from geo.catchments.assign import threshold_minutes

    store = sel.with_(stores=(store_id,)).chosen_stores()
    return threshold_minutes(router(sel.source, sel.mode), store.iloc[0], sel.customers(), n)


@st.cache_data(show_spinner=False, max_entries=64)
def band_table(sel: Selection, bands: tuple[float, ...], km: float | None = None) -> pd.DataFrame:
    """`geo.catchments.trade_area.band_table` of the selection's stores (by km when ``km`` is given)."""
    from geo.catchments import trade_area

    stores = sel.chosen_stores()
    if km is None:
        return trade_area.band_table(assignment(sel), sel.customers(), stores, list(bands))
    return trade_area.band_table(radius_assignment(sel, km), sel.customers(), stores, list(bands),
                                 by="crow_km")
