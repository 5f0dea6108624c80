"""Tests for geo.network.routing: travel times equal networkx's, snapping rules, traffic, CSR details."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.catchments.assign import haversine_km
from geo.errors import NetworkError, NetworkWarning
from geo.network.graph import add_travel_times
from geo.network.load import load_network
from geo.network.routing import REASONS, Router
from tests.conftest import SHARED_OSM, placeable_nodes

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
    for row, s in zip(sec, src, strict=True):
        ref = nx.single_source_dijkstra_path_length(G, int(R.node_ids[s]), weight="travel_time")
        ours = {int(n): t for n, t in zip(R.node_ids, row, strict=True) if np.isfinite(t)}
        assert ours.keys() == ref.keys()
        assert all(abs(ours[n] - ref[n]) < 1e-9 for n in ref)


def test_to_store_times_use_the_reversed_graph(krems):
    G, R = krems
    s = int(np.flatnonzero(R.node_ids == next(iter(G.nodes)))[0])
    row = R.node_seconds([s])[0]  # default direction: customer -> store
    ref = nx.single_source_dijkstra_path_length(G.reverse(copy=False), int(R.node_ids[s]), weight="travel_time")
    ours = {int(n): t for n, t in zip(R.node_ids, row, strict=True) if np.isfinite(t)}
    assert ours.keys() == ref.keys()
    assert max(abs(ours[n] - ref[n]) for n in ref) < 1e-9
    fwd = R.node_seconds([s], direction="from_store")[0]
    assert not np.allclose(np.nan_to_num(fwd, posinf=-1), np.nan_to_num(row, posinf=-1))  # one-way streets


def test_min_only_equals_multi_source_dijkstra(krems):
    G, R = krems
    src = [0, 100, 900]
    best = R.node_seconds(src, direction="from_store", min_only=True)
    ref = nx.multi_source_dijkstra_path_length(G, {int(R.node_ids[i]) for i in src}, weight="travel_time")
    for n, t in zip(R.node_ids, best, strict=True):
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


def _far_from_roads(R: Router, low_m: float, high_m: float) -> tuple[float, float, float]:
    """A point inside the declared bounds whose nearest node is ``low_m``..``high_m`` away (brute force)."""
    west, south, east, north = R.bounds.bounds
    glon, glat = (a.ravel() for a in np.meshgrid(np.linspace(west, east, 122)[1:-1],
                                                 np.linspace(south, north, 62)[1:-1]))
    road_m = haversine_km(glat[:, None], glon[:, None], R.lat[None, :], R.lon[None, :]).min(axis=1) * 1000
    pick = np.flatnonzero((road_m > low_m) & (road_m < high_m))
    assert len(pick), f"no point {low_m}-{high_m} m from the roads inside the bounds"
    return float(glat[pick[0]]), float(glon[pick[0]]), float(road_m[pick[0]])


def test_snapping_rules(krems):
    _, R = krems
    i = placeable_nodes(R)[10]
    snap = R.snap(np.array([R.lat[i], np.nan]), np.array([R.lon[i], R.lon[i]]))
    assert snap.node[0] == i and snap.dist_m[0] < 1e-6 and snap.access_s[0] == 0
    assert snap.node[1] == -1 and REASONS[snap.reason[1]] == "off_network" and np.isnan(snap.access_s[1])
    # inside the declared bounds but farther than snap_max_m from every road: off the network
    lat, lon, road_m = _far_from_roads(R, 700, 1500)
    far = R.snap(np.array([lat]), np.array([lon]))
    assert far.node[0] == -1 and REASONS[far.reason[0]] == "off_network" and np.isnan(far.access_s[0])
    assert far.dist_m[0] == pytest.approx(road_m, rel=0.01)
    # outside the declared bounds: on a road there (complete ways reach beyond the box) it snaps;
    # farther than snap_max_m from every road it is outside the area (not off the network)
    beyond = np.flatnonzero(~shapely.contains_xy(R.bounds, R.lon, R.lat) & R.core)
    assert len(beyond) > 100
    on_road = R.snap(R.lat[beyond], R.lon[beyond])
    assert np.array_equal(on_road.node, beyond) and (on_road.dist_m < 1e-6).all()
    lat_out = R.bounds.bounds[3] + np.array([0.0065, 0.05])   # about 0.7 and 5.5 km north of the box
    out = R.snap(lat_out, np.full(2, R.lon[i]))
    assert (out.node == -1).all() and [REASONS[r] for r in out.reason] == ["outside_area"] * 2
    assert (out.dist_m > R.snap_max_m).all()
    # the off-network leg goes to the nearest core node (brute force) and is costed at the access speed
    rng = np.random.default_rng(11)
    pts = R.xy[placeable_nodes(R)[rng.integers(0, 1000, 200)]] + rng.uniform(-150, 150, (200, 2))
    plon, plat = R.to_lonlat(pts[:, 0], pts[:, 1])
    near = R.snap(plat, plon)
    core = np.flatnonzero(R.core)
    dist = np.hypot(*(pts[:, None, :] - R.xy[core][None, :, :]).transpose(2, 0, 1))
    assert near.ok.all() and np.array_equal(near.node, core[dist.argmin(axis=1)])
    assert np.allclose(near.dist_m, dist.min(axis=1), atol=1e-6)
    assert np.allclose(near.access_s, near.dist_m / (R.access_kmh / 3.6))


def test_route_snap_equals_a_snap_for_the_served_pieces(krems):
    _, R = krems
    assert R.n_pieces > 2
    rng = np.random.default_rng(4)
    pts = R.xy[rng.integers(0, len(R.xy), 3000)] + rng.uniform(-400, 400, (3000, 2))
    lon, lat = R.to_lonlat(pts[:, 0], pts[:, 1])
    anywhere = R.snap(lat, lon)
    for served in (np.arange(R.n_pieces) == 0, np.arange(R.n_pieces) % 2 == 1, np.ones(R.n_pieces, bool)):
        direct, moved = R.snap(lat, lon, served=served), R.route_snap(anywhere, served)
        for a, b in ((direct, moved), (direct, R.route_snap(moved, ~served | (np.arange(R.n_pieces) == 0)))):
            b = R.route_snap(b, served)
            assert np.array_equal(a.node, b.node) and np.array_equal(a.reason, b.reason)
            assert np.allclose(a.dist_m, b.dist_m, equal_nan=True)
        assert (served[R.piece[direct.node[direct.ok]]]).all()
    # points whose only road within reach is a piece without a store get no_route
    only = R.snap(lat, lon, served=np.arange(R.n_pieces) == 0)
    assert (only.reason == REASONS.index("no_route")).sum() > 0


def test_stores_off_the_network_block_only_themselves(krems):
    _, R = krems
    lat, lon, road_m = _far_from_roads(R, 700, 1500)
    on = placeable_nodes(R)[0]
    stores = pd.DataFrame({"store_id": ["S3", "S1", "S2"], "lat": [R.lat.max() + 0.1, R.lat[on], lat],
                           "lon": [R.lon[0], R.lon[on], lon]})
    T = R.store_times(stores)
    assert T.store_ids.tolist() == ["S1"] and T.seconds.shape == (1, len(R.node_ids))
    un = T.unplaced.set_index("store_id")
    assert un.index.tolist() == ["S2", "S3"] and un["reason"].tolist() == ["off_network", "outside_area"]
    assert un.loc["S2", "dist_m"] == pytest.approx(road_m, rel=0.01)
    assert re.fullmatch(r"[\d,]+ m from the nearest road; the limit is 500 m", un.loc["S2", "detail"])
    assert un.loc["S3", "detail"].startswith("outside the extract's bounds (<bounds> element), ")
    message = R.place_stores(stores).message()
    assert message.startswith("2 of 3 stores cannot be placed on the drive network and have no catchment: S2 (")
    with pytest.raises(NetworkError, match=r"no store can be placed on the drive network: S2 \([\d,]+ m from the "
                                           r"nearest road; the limit is 500 m\); S3 \(outside the extract's bounds"):
        R.store_times(stores[stores["store_id"] != "S1"])


def test_store_times_sorted_by_id_and_best_two(krems):
    _, R = krems
    idx = placeable_nodes(R)[[5, 500, 1200]]
    stores = pd.DataFrame({"store_id": ["b", "a", "c"], "lat": R.lat[idx], "lon": R.lon[idx]})
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
