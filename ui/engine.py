"""Cached travel-time engine for the pages: one router per network and mode, results by parameters.

A slider move changes only cheap keys (minutes, km): the road graph and router
stay in memory (`st.cache_resource`), and assignments, catchments and overlaps
are cached by plain parameters (`st.cache_data`), never by DataFrames.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.catchments.assign import assign_customers, overlaps, radius_assign
from geo.catchments.polygons import catchment_polygons, radius_rings
from geo.network.routing import Router
from ui import cache


@st.cache_resource(show_spinner="Preparing the road network for routing…", max_entries=6)
def router(source: str, mode: str) -> Router:
    """The `Router` (CSR travel-time matrix, snapping tree) of ``source`` for ``mode``."""
    return Router.from_graph(cache.road_network(source, mode))


@st.cache_data(show_spinner=False, max_entries=8)
def network_notes(source: str, mode: str) -> list[str]:
    """What the ``mode`` network's load found and how it routes (`Router.notes`), one sentence each."""
    return router(source, mode).notes()


@st.cache_data(show_spinner=False, max_entries=32)
def unplaced_stores(root: str, ws: str, sv: str, source: str, mode: str,
                    store_ids: tuple[str, ...]) -> pd.DataFrame:
    """The selected stores the ``mode`` network cannot place, with the reason (`Router.place_stores`)."""
    stores = cache.load_table(root, ws, "stores", sv)
    stores = stores[stores["store_id"].astype(str).isin(store_ids)].reset_index(drop=True)
    return router(source, mode).place_stores(stores).unplaced


def _tables(root: str, ws: str, cv: str, sv: str, store_ids: tuple[str, ...]):
    customers = cache.load_table(root, ws, "customers", cv)
    stores = cache.load_table(root, ws, "stores", sv)
    stores = stores[stores["store_id"].astype(str).isin(store_ids)].reset_index(drop=True)
    return customers, stores


@st.cache_data(show_spinner="Routing customers to their nearest store…", max_entries=32)
def assignment(root: str, ws: str, cv: str, sv: str, source: str, mode: str, traffic: float,
               store_ids: tuple[str, ...]) -> pd.DataFrame:
    """Nearest store by travel time for every customer (no minute limit: bands filter later)."""
    customers, stores = _tables(root, ws, cv, sv, store_ids)
    return assign_customers(router(source, mode), stores, customers, mode=mode, traffic=traffic)


@st.cache_data(show_spinner="Checking the network against the stores and customers…",
               max_entries=8)
def coverage(root: str, ws: str, cv: str, sv: str, source: str, mode: str):
    """How much of the workspace's stores and customers the network of ``source`` covers."""
    from geo.network.coverage import network_coverage

    customers = cache.load_table(root, ws, "customers", cv)
    stores = cache.load_table(root, ws, "stores", sv)
    return network_coverage(router(source, mode), stores, customers)


@st.cache_data(show_spinner=False, max_entries=32)
def radius_assignment(root: str, ws: str, cv: str, sv: str, km: float,
                      store_ids: tuple[str, ...]) -> pd.DataFrame:
    """Nearest store by crow-flies distance, within ``km`` kilometres."""
    customers, stores = _tables(root, ws, cv, sv, store_ids)
    return radius_assign(stores, customers, km)


@st.cache_data(show_spinner="Drawing catchments…", max_entries=64)
def travel_catchments(root: str, ws: str, cv: str, sv: str, source: str, mode: str,
                      traffic: float, store_ids: tuple[str, ...],
                      minutes: tuple[float, ...]) -> gpd.GeoDataFrame:
    """Travel-time band polygons per store, with customers assigned within each band."""
    _, stores = _tables(root, ws, cv, sv, store_ids)
    assigned = assignment(root, ws, cv, sv, source, mode, traffic, store_ids)
    return catchment_polygons(router(source, mode), stores, list(minutes), mode=mode,
                              traffic=traffic, assigned=assigned)


@st.cache_data(show_spinner=False, max_entries=64)
def rings(root: str, ws: str, cv: str, sv: str, store_ids: tuple[str, ...],
          km: tuple[float, ...]) -> gpd.GeoDataFrame:
    """Geodesic rings per store, with customers assigned within each ring."""
    _, stores = _tables(root, ws, cv, sv, store_ids)
    assigned = radius_assignment(root, ws, cv, sv, max(km), store_ids)
    return radius_rings(stores, list(km), assigned=assigned)


@st.cache_data(show_spinner=False, max_entries=32)
def store_overlaps(root: str, ws: str, cv: str, sv: str, source: str, mode: str, traffic: float,
                   store_ids: tuple[str, ...], minutes: float) -> pd.DataFrame:
    """Customers inside the ``minutes`` band of two stores at once, per store pair."""
    customers, stores = _tables(root, ws, cv, sv, store_ids)
    return overlaps(router(source, mode), stores, customers, mode=mode, minutes=minutes,
                    traffic=traffic)


@st.cache_data(show_spinner=False, max_entries=32)
def assigned_points_url(root: str, ws: str, cv: str, sv: str, source: str, mode: str,
                        traffic: float, store_ids: tuple[str, ...], km: float | None) -> str:
    """URL of customers coloured by assigned store (static JSON; unchanged by minute moves)."""
    from geo.views.maps import assigned_points_json, store_palette

    customers = cache.load_table(root, ws, "customers", cv)
    if km is None:
        assigned = assignment(root, ws, cv, sv, source, mode, traffic, store_ids)
        payload = assigned_points_json(customers, assigned, store_palette(list(store_ids)))
    else:
        assigned = radius_assignment(root, ws, cv, sv, km, store_ids)
        payload = assigned_points_json(customers, assigned, store_palette(list(store_ids)),
                                       unit="km")
    return cache.publish_static("assigned", payload)


@st.cache_data(show_spinner=False, max_entries=8)
def sites_url(source: str, mode: str) -> str:
    """URL of the network's nodes as clickable candidate sites (static JSON)."""
    from geo.views.maps import node_points_json

    return cache.publish_static(f"sites-{mode}", node_points_json(cache.road_network(source, mode)))


@st.cache_data(show_spinner="Routing the candidate store…", max_entries=16)
def what_if(root: str, ws: str, cv: str, sv: str, source: str, mode: str, traffic: float,
            store_ids: tuple[str, ...], lat: float, lon: float, minutes: tuple[float, ...]):
    """Catchment of a candidate store and the customers it would win, by losing store."""
    from geo.catchments.polygons import what_if_store

    customers, stores = _tables(root, ws, cv, sv, store_ids)
    assigned = assignment(root, ws, cv, sv, source, mode, traffic, store_ids)
    return what_if_store(router(source, mode), stores, customers, lat, lon, mode=mode,
                         minutes=list(minutes), traffic=traffic, assigned=assigned)


@st.cache_data(show_spinner=False, max_entries=32)
def threshold(root: str, ws: str, cv: str, sv: str, source: str, mode: str, store_id: str,
              n: int) -> float:
    """Minutes a store's band must reach to hold ``n`` customers."""
    from geo.catchments.assign import threshold_minutes

    customers, stores = _tables(root, ws, cv, sv, (store_id,))
    return threshold_minutes(router(source, mode), stores.iloc[0], customers, n)
