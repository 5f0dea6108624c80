"""Tests for geo.routing: travel times equal networkx's, snapping rules, traffic, CSR details."""

from __future__ import annotations

import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SHARED_OSM
from geo.errors import NetworkError
from geo.network import NetworkWarning, add_travel_times, load_network
from geo.routing import REASONS, Router

KREMS = SHARED_OSM / "krems.osm.gz"


@pytest.fixture(scope="session")
def net_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "engine-netcache"


@pytest.fixture(scope="module")
def krems(net_cache):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(KREMS, "drive", cache_dir=net_cache)
    return G, Router.from_graph(G)


def test_from_store_times_equal_networkx_dijkstra(krems):
    G, R = krems
    rng = np.random.default_rng(3)
    src = rng.choice(len(R.node_ids), 5, replace=False)
    sec = R.node_seconds(src, direction="from_store")
    for row, s in zip(sec, src):
        ref = nx.single_source_dijkstra_path_length(G, int(R.node_ids[s]), weight="travel_time")
        ours = {int(n): t for n, t in zip(R.node_ids, row) if np.isfinite(t)}
        assert ours.keys() == ref.keys()
        assert all(abs(ours[n] - ref[n]) < 1e-9 for n in ref)


def test_to_store_times_use_the_reversed_graph(krems):
    G, R = krems
    s = int(np.flatnonzero(R.node_ids == next(iter(G.nodes)))[0])
    row = R.node_seconds([s])[0]  # default direction: customer -> store
    ref = nx.single_source_dijkstra_path_length(G.reverse(copy=False), int(R.node_ids[s]), weight="travel_time")
    ours = {int(n): t for n, t in zip(R.node_ids, row) if np.isfinite(t)}
    assert ours.keys() == ref.keys()
    assert max(abs(ours[n] - ref[n]) for n in ref) < 1e-9
    fwd = R.node_seconds([s], direction="from_store")[0]
    assert not np.allclose(np.nan_to_num(fwd, posinf=-1), np.nan_to_num(row, posinf=-1))  # one-way streets


def test_min_only_equals_multi_source_dijkstra(krems):
    G, R = krems
    src = [0, 100, 900]
    best = R.node_seconds(src, direction="from_store", min_only=True)
    ref = nx.multi_source_dijkstra_path_length(G, {int(R.node_ids[i]) for i in src}, weight="travel_time")
    for n, t in zip(R.node_ids, best):
        assert (int(n) in ref) == np.isfinite(t)
        if np.isfinite(t):
            assert t == pytest.approx(ref[int(n)], abs=1e-9)


def test_limit_matches_ego_graph(krems):
    G, R = krems
    node = int(R.node_ids[42])
    for minutes in (1, 3):
        ego = nx.ego_graph(G, node, radius=minutes * 60, distance="travel_time")
        sec = R.node_seconds([42], direction="from_store", limit_s=minutes * 60)[0]
        assert set(R.node_ids[np.isfinite(sec)].tolist()) == set(ego.nodes)


def test_traffic_scales_drive_times_only(krems, net_cache):
    _, R = krems
    free = R.node_seconds([7])[0]
    peak = R.node_seconds([7], traffic=0.5)[0]
    ok = np.isfinite(free)
    assert np.allclose(peak[ok], free[ok] / 0.5)
    with pytest.raises(NetworkError, match="traffic factor must be a positive number"):
        R.node_seconds([7], traffic=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        W = Router.from_graph(load_network(KREMS, "walk", cache_dir=net_cache))
    assert np.array_equal(W.node_seconds([3], traffic=0.5), W.node_seconds([3]))


def test_parallel_edges_keep_the_fastest_and_zero_length_edges_count():
    G = nx.MultiDiGraph(crs="epsg:4326")
    for n, x in ((1, 15.0), (2, 15.001), (3, 15.002)):
        G.add_node(n, x=x, y=48.0)
    G.add_edge(1, 2, length=100.0, highway="residential", maxspeed="30")
    G.add_edge(1, 2, length=50.0, highway="residential", maxspeed="30")
    G.add_edge(2, 3, length=0.0, highway="residential", maxspeed="30")
    G = add_travel_times(G, "drive")
    R = Router.from_graph(G)
    sec = R.node_seconds([0], direction="from_store")[0]
    assert sec[1] == pytest.approx(50 / (30 / 3.6))
    assert sec[2] == sec[1]


def test_snapping_rules(krems):
    _, R = krems
    i = 10
    lat0, lon0 = R.lat[i], R.lon[i]
    far_lat = R.lat.max() + 0.05  # ~5.5 km north of the northernmost node
    snap = R.snap(np.array([lat0, far_lat, np.nan]), np.array([lon0, lon0, lon0]))
    assert snap.node[0] == i and snap.dist_m[0] < 1e-6 and snap.access_s[0] == 0
    assert snap.node[1] == -1 and REASONS[snap.reason[1]] == "off_network" and snap.dist_m[1] > 5000
    assert np.isnan(snap.access_s[1])
    assert snap.node[2] == -1
    # just outside the convex hull but within snap_max_m of a node: outside the network's area
    top = int(np.argmax(R.lat))
    snap = R.snap(np.array([R.lat[top] + 0.002]), np.array([R.lon[top]]))  # ~220 m north
    assert snap.dist_m[0] < R.snap_max_m and REASONS[snap.reason[0]] == "outside_area" and snap.node[0] == -1
    # the off-network leg is costed at the access speed
    near = R.snap(np.array([lat0 + 0.0009]), np.array([lon0]))
    if near.ok[0]:
        assert near.access_s[0] == pytest.approx(near.dist_m[0] / (R.access_kmh / 3.6))


def test_stores_off_the_network_are_named_with_their_distance(krems):
    _, R = krems
    stores = pd.DataFrame({"store_id": ["S1", "S2"], "lat": [R.lat[0], R.lat.max() + 0.1],
                           "lon": [R.lon[0], R.lon[0]]})
    with pytest.raises(NetworkError, match=r"1 store\(s\) cannot be placed.*S2 \(\d[\d,]* m from the nearest road\)"):
        R.store_times(stores)


def test_store_times_sorted_by_id_and_best_two(krems):
    _, R = krems
    stores = pd.DataFrame({"store_id": ["b", "a", "c"], "lat": R.lat[[5, 500, 1500]], "lon": R.lon[[5, 500, 1500]]})
    T = R.store_times(stores)
    assert T.store_ids.tolist() == ["a", "b", "c"]
    s1, d1, s2, d2 = T.best_two()
    cols = np.arange(T.seconds.shape[1])
    assert np.array_equal(d1, T.seconds.min(axis=0))
    both = s2 >= 0
    assert both.sum() > 100
    assert (s1[both] != s2[both]).all()
    assert (d2 >= d1).all()
    assert np.array_equal(T.seconds[s2[both], cols[both]], d2[both])
    assert (s1[~np.isfinite(d1)] == -1).all()
