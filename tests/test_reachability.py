"""Issue 11: customers near a network's edge get a time; pieces, one-way dead ends and unplaceable stores.

Every expected answer is computed here independently of `geo.network.routing`: pieces and
cores with networkx components, nearest nodes by brute force, times with
networkx Dijkstra on the same graph.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pytest
import shapely

from geo.catchments.assign import assign_customers
from geo.catchments.polygons import catchment_polygons, what_if_store
from geo.errors import NetworkError, NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from geo.targeting.audience import prepare_audience
from geo.targeting.live import overlap_index
from geo.targeting.preview import (
    preview_map_json,
    reach_curve,
    slider_steps,
    targets_by_store,
)
from geo.targeting.reach import index_reach
from tests.conftest import placeable_nodes

CLIP_BOX = (15.605, 48.380, 15.640, 48.410)
M_PER_DEG_LAT = 111_200.0
LAT0, LON0 = 48.0, 15.0
M_PER_DEG_LON = M_PER_DEG_LAT * np.cos(np.radians(LAT0))


# --- independent answers ---------------------------------------------------------


def _cores(G: nx.MultiDiGraph) -> dict:
    """Node id -> piece number for the nodes in their piece's largest strongly connected set (networkx)."""
    out = {}
    for k, piece in enumerate(nx.weakly_connected_components(G)):
        core = max(nx.strongly_connected_components(G.subgraph(piece)), key=len)
        if len(core) > 1:
            out.update({n: k for n in core})
    return out


def _expected_minutes(G: nx.MultiDiGraph, R: Router, store_nodes: list[int], lat: np.ndarray,
                      lon: np.ndarray) -> np.ndarray:
    """Minutes to the nearest store: nearest core node of a piece with a store (brute force) + networkx Dijkstra.

    NaN where no such node is within the router's snap limit.
    """
    cores = _cores(G)
    served = {cores[n] for n in store_nodes}
    ids = np.array([n for n, k in cores.items() if k in served])
    xy_nodes = R.xy[pd.Index(R.node_ids).get_indexer(ids)]
    to_store = nx.multi_source_dijkstra_path_length(G.reverse(copy=False), set(store_nodes), weight="travel_time")
    xy = R.to_xy(lat, lon)
    dist = np.hypot(*(xy[:, None, :] - xy_nodes[None, :, :]).transpose(2, 0, 1))
    near, d = ids[dist.argmin(axis=1)], dist.min(axis=1)
    sec = np.array([to_store.get(n, np.inf) for n in near]) + d / (R.access_kmh / 3.6)
    return np.where(d <= R.snap_max_m, sec / 60.0, np.nan)


def _near_edges(R: Router, n: int, seed: int, *, near_hull_m: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Points 5-250 m to the side of random edges of the router's graph (lat, lon).

    With ``near_hull_m``, only edges starting within that many metres of the
    border of the nodes' convex hull are used.
    """
    rng = np.random.default_rng(seed)
    coo = R.seconds.tocoo()
    edges = np.arange(len(coo.row))
    if near_hull_m is not None:
        border = shapely.MultiPoint(R.xy).convex_hull.boundary
        edges = edges[shapely.dwithin(border, shapely.points(R.xy[coo.row]), near_hull_m)]
    e = rng.choice(edges, n)
    a, b = R.xy[coo.row[e]], R.xy[coo.col[e]]
    seg = b - a
    normal = np.column_stack([-seg[:, 1], seg[:, 0]]) / np.maximum(np.hypot(*seg.T), 1e-9)[:, None]
    pts = a + seg * rng.random(n)[:, None] + normal * (rng.uniform(5, 250, n) * rng.choice([-1, 1], n))[:, None]
    lon, lat = R.to_lonlat(pts[:, 0], pts[:, 1])
    return np.asarray(lat), np.asarray(lon)


def _xy_to_lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    return LON0 + x_m / M_PER_DEG_LON, LAT0 + y_m / M_PER_DEG_LAT


def _write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict]],
               bounds_m: tuple[float, float, float, float] | None = None) -> Path:
    """A small OSM XML file: nodes at (x, y) metres from (LON0, LAT0), ways with tags, optional <bounds>."""
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6'>"]
    if bounds_m is not None:
        (w, s), (e, n) = _xy_to_lonlat(*bounds_m[:2]), _xy_to_lonlat(*bounds_m[2:])
        lines.append(f"<bounds minlat='{s:.7f}' minlon='{w:.7f}' maxlat='{n:.7f}' maxlon='{e:.7f}'/>")
    for i, (x, y) in nodes.items():
        lon, lat = _xy_to_lonlat(x, y)
        lines.append(f"<node id='{i}' version='1' lat='{lat:.7f}' lon='{lon:.7f}'/>")
    for wid, refs, tags in ways:
        body = "".join(f"<nd ref='{r}'/>" for r in refs) + "".join(f"<tag k='{k}' v='{v}'/>" for k, v in tags.items())
        lines.append(f"<way id='{wid}' version='1'>{body}</way>")
    path.write_text("\n".join(lines + ["</osm>"]) + "\n")
    return path


def _store_at(R: Router, G: nx.MultiDiGraph, node_id: int, store_id: str = "S1") -> pd.DataFrame:
    return pd.DataFrame({"store_id": [store_id], "name": [store_id], "lat": [G.nodes[node_id]["y"]],
                         "lon": [G.nodes[node_id]["x"]]})


def _customers(lat: np.ndarray, lon: np.ndarray) -> pd.DataFrame:
    n = len(lat)
    return pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "lat": lat, "lon": lon})


# --- a clipped extract ----------------------------------------------------------------


@pytest.fixture(scope="module")
def clipped_krems(tmp_path_factory, shared_osm_dir) -> Path:
    """Krems cut to a rectangle (ways cut at its edge, as osmium's "simple" strategy does), with <bounds>.

    The rectangle reaches south beyond the town, where only a few roads cross
    the Danube flats: the hull of the nodes leaves a wide strip of the rectangle.
    """
    west, south, east, north = CLIP_BOX
    out = tmp_path_factory.mktemp("clip") / "krems-clipped.osm"
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(west, south), osmium.osm.Location(east, north)))
    src = str(shared_osm_dir / "krems.osm.gz")
    with osmium.SimpleWriter(str(out), header=header) as writer:
        for node in osmium.FileProcessor(src, osmium.osm.NODE):
            if west <= node.location.lon <= east and south <= node.location.lat <= north:
                writer.add_node(node)
        for way in osmium.FileProcessor(src, osmium.osm.WAY):
            if "highway" in way.tags:
                writer.add_way(way)
    return out


@pytest.fixture(scope="module")
def shared_osm_dir() -> Path:
    from tests.conftest import SHARED_OSM

    return SHARED_OSM


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_points_near_the_edge_of_a_clipped_extract_get_exact_times(clipped_krems, mode):
    with pytest.warns(NetworkWarning, match="the extract is clipped"):
        G = load_network(clipped_krems, mode, use_cache=False)
    R = Router.from_graph(G)
    nodes = placeable_nodes(R)
    store_nodes = [int(R.node_ids[i]) for i in nodes[np.linspace(0, len(nodes) - 1, 4).astype(int)]]
    stores = pd.concat([_store_at(R, G, n, f"S{i}") for i, n in enumerate(store_nodes)], ignore_index=True)
    lat, lon = (np.concatenate(v) for v in zip(_near_edges(R, 1500, seed=1),
                                                 _near_edges(R, 1000, seed=2, near_hull_m=200), strict=True))
    box = shapely.box(*CLIP_BOX)
    inside = shapely.contains_xy(box, lon, lat)
    lat, lon = lat[inside], lon[inside]
    out = assign_customers(R, stores, _customers(lat, lon), mode=mode)
    expected = _expected_minutes(G, R, store_nodes, lat, lon)
    got = out["travel_min"].to_numpy(float)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-9)
    # inside the box but outside the hull of the nodes: the old area test refused all of these
    hull = shapely.MultiPoint(np.column_stack([R.lon, R.lat])).convex_hull
    beyond_hull = ~shapely.contains_xy(hull, lon, lat)
    assert (beyond_hull & ~np.isnan(got)).sum() >= 10  # 22 on foot, 129 by car with these seeds
    assert "outside_area" not in set(out["unreachable_reason"].astype(str))
    assert any("clipped" in n for n in R.notes())


# --- one-way dead ends ------------------------------------------------------------------


def _one_way_town(tmp_path: Path) -> Path:
    """A two-way square (200 m sides), a one-way street leaving it eastwards for 1.2 km, one entering from the west."""
    nodes = {1: (0, 0), 2: (0, 200), 3: (200, 200), 4: (200, 0)}
    nodes.update({10 + k: (200 + 200 * (k + 1), 200) for k in range(6)})    # 10..15, leaving from 3
    nodes.update({20 + k: (-200 * (k + 1), 0) for k in range(3)})           # 20..22, entering at 1
    tags = {"highway": "residential", "maxspeed": "50"}
    ways = [(1, [1, 2, 3, 4, 1], tags),
            (2, [3, 10, 11, 12, 13, 14, 15], {**tags, "oneway": "yes"}),
            (3, [22, 21, 20, 1], {**tags, "oneway": "yes"})]
    return _write_osm(tmp_path / "oneway.osm", nodes, ways, bounds_m=(-1000, -500, 2000, 700))


def test_one_way_dead_ends_are_set_aside_and_do_not_give_no_route(tmp_path):
    G = load_network(_one_way_town(tmp_path), "drive", use_cache=False)
    R = Router.from_graph(G)
    assert R.set_aside_nodes == 9
    assert set(R.node_ids[~R.core].tolist()) == {10, 11, 12, 13, 14, 15, 20, 21, 22}
    assert any("9 of 13 nodes lie on one-way dead ends" in n for n in R.notes())
    assert "The network is one connected piece of 13 nodes." in R.notes()
    stores = _store_at(R, G, 1)
    # 20 m beside the one-way street at 400 m, 600 m (both within 500 m of the square) and at 1.2 km
    pts = [(600, 220), (400, 180), (-400, 20), (1400, 220), (1200, 180)]
    lon, lat = (np.array(v) for v in zip(*(_xy_to_lonlat(x, y) for x, y in pts), strict=True))
    out = assign_customers(R, stores, _customers(lat, lon), mode="drive")
    expected = _expected_minutes(G, R, [1], lat, lon)
    got = out["travel_min"].to_numpy(float)
    assert out["reachable"].tolist() == [True, True, True, False, False]
    assert np.allclose(got[:3], expected[:3], rtol=1e-9) and np.isnan(expected[3:]).all()
    # beyond 500 m from the square only the one-way street is near: no route (not "off the network")
    assert out["unreachable_reason"].astype(str).tolist()[3:] == ["no_route", "no_route"]
    # a store beside the far end of the one-way street cannot be placed, and says why
    far = R.place_stores(pd.DataFrame({"store_id": ["F"], "lat": [lat[3]], "lon": [lon[3]]}))
    assert far.unplaced["reason"].tolist() == ["no_route"]
    assert "a one-way dead end of piece #1 of 1 (13 nodes)" in far.unplaced["detail"].iloc[0]


def test_drive_times_equal_networkx_on_krems_with_its_one_way_dead_ends(shared_osm_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(shared_osm_dir / "krems.osm.gz", "drive", use_cache=False)
    R = Router.from_graph(G)
    assert R.set_aside_nodes > 100  # one-way streets leaving the extract
    nodes = placeable_nodes(R)
    store_nodes = [int(R.node_ids[i]) for i in nodes[[20, 400, 900]]]
    stores = pd.concat([_store_at(R, G, n, f"S{i}") for i, n in enumerate(store_nodes)], ignore_index=True)
    lat, lon = _near_edges(R, 1200, seed=2)
    keep = shapely.contains_xy(R.bounds, lon, lat)
    lat, lon = lat[keep], lon[keep]
    out = assign_customers(R, stores, _customers(lat, lon), mode="drive")
    expected = _expected_minutes(G, R, store_nodes, lat, lon)
    got = out["travel_min"].to_numpy(float)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-9)


# --- pieces -----------------------------------------------------------------------------


def _islands(tmp_path: Path) -> Path:
    """Piece A (a square at the origin), piece B (a square 3 km east), piece C (a lane 300 m north of A)."""
    nodes = {1: (0, 0), 2: (0, 200), 3: (200, 200), 4: (200, 0),
             11: (3000, 0), 12: (3000, 200), 13: (3200, 200), 14: (3200, 0),
             21: (0, 500), 22: (200, 500)}
    tags = {"highway": "residential"}
    ways = [(1, [1, 2, 3, 4, 1], tags), (2, [11, 12, 13, 14, 11], tags), (3, [21, 22], tags)]
    return _write_osm(tmp_path / "islands.osm", nodes, ways, bounds_m=(-1000, -1000, 4500, 1500))


def test_a_piece_without_a_store_gives_no_route(tmp_path):
    G = load_network(_islands(tmp_path), "walk", use_cache=False)
    R = Router.from_graph(G)
    assert R.n_pieces == 3 and sorted(R.piece_nodes.tolist()) == [2, 4, 4]
    pts = [(100, -30), (3100, -30), (3250, 100), (100, 530)]  # near A, near B (twice), near C
    lon, lat = (np.array(v) for v in zip(*(_xy_to_lonlat(x, y) for x, y in pts), strict=True))
    customers = _customers(lat, lon)
    out = assign_customers(R, _store_at(R, G, 1), customers, mode="walk")
    assert out["reachable"].tolist() == [True, False, False, True]
    assert out["unreachable_reason"].astype(str).tolist()[1:3] == ["no_route", "no_route"]
    # C has no store but A is within 500 m: the customer walks to A (its nearest node, 345 m away)
    expected = _expected_minutes(G, R, [1], lat, lon)
    assert out["travel_min"].iloc[3] == pytest.approx(expected[3], rel=1e-9)
    assert out["snap_m"].iloc[3] == pytest.approx(np.hypot(100, 330), rel=0.01)
    # with a store on B as well, B's customers are routed within B, to B's store only
    both = pd.concat([_store_at(R, G, 1, "A"), _store_at(R, G, 11, "B")], ignore_index=True)
    out = assign_customers(R, both, customers, mode="walk")
    assert out["store_id"].astype(str).tolist() == ["A", "B", "B", "A"]
    assert out["second_store_id"].isna().all()  # no customer reaches both pieces
    expected = _expected_minutes(G, R, [1, 11], lat, lon)
    assert np.allclose(out["travel_min"].to_numpy(float), expected, rtol=1e-9)


def test_andorra_walk_places_all_50_stores_and_keeps_every_piece(shared_osm_dir, tmp_path_factory):
    G = load_network(shared_osm_dir / "andorra.osm.pbf", "walk",
                     cache_dir=tmp_path_factory.getbasetemp() / "engine-netcache")
    R = Router.from_graph(G)
    stores = pd.read_csv(shared_osm_dir / "andorra-stores-50.csv", dtype={"store_id": str})
    T = R.store_times(stores, limit_min=5)
    assert len(T.unplaced) == 0 and len(T.store_ids) == 50 and (T.snap_m < 25).all()
    assert R.n_pieces == len(list(nx.weakly_connected_components(G))) == 45
    largest = max(nx.weakly_connected_components(G), key=len)
    off_largest = ~np.isin(R.node_ids[T.node], list(largest))
    assert off_largest.sum() >= 16  # the stores the issue found "2-4 km from the nearest road"
    gdf = catchment_polygons(R, stores, [5], mode="walk", times=T)
    assert len(gdf) == 50 and (gdf["area_km2"] > 0).all()
    assert any("45 separate pieces (37,524 nodes" in n for n in R.notes())


# --- a store that cannot be placed blocks only itself ---------------------------------


@pytest.fixture(scope="module")
def krems_walk(tmp_path_factory, shared_osm_dir) -> tuple[nx.MultiDiGraph, Router]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(shared_osm_dir / "krems.osm.gz", "walk",
                         cache_dir=tmp_path_factory.getbasetemp() / "engine-netcache")
    return G, Router.from_graph(G)


def test_a_store_off_the_network_blocks_only_itself(krems_walk):
    G, R = krems_walk
    nodes = placeable_nodes(R)
    stores = pd.DataFrame({"store_id": ["K1", "K2", "K9"], "name": ["a", "b", "far"],
                           "lat": [R.lat[nodes[100]], R.lat[nodes[2500]], R.lat.max() + 0.3],
                           "lon": [R.lon[nodes[100]], R.lon[nodes[2500]], R.lon[nodes[0]]]})
    lat, lon = _near_edges(R, 800, seed=3)
    keep = shapely.contains_xy(R.bounds, lon, lat)
    customers = _customers(lat[keep], lon[keep])
    out = assign_customers(R, stores, customers, mode="walk")
    assert set(out["store_id"].dropna().astype(str)) == {"K1", "K2"}
    expected = _expected_minutes(G, R, [int(R.node_ids[nodes[100]]), int(R.node_ids[nodes[2500]])],
                                 customers["lat"].to_numpy(), customers["lon"].to_numpy())
    assert np.allclose(out["travel_min"].to_numpy(float), expected, rtol=1e-9, equal_nan=True)
    gdf = catchment_polygons(R, stores, [5, 10], mode="walk", assigned=out)
    assert gdf["store_id"].tolist() == ["K1", "K1", "K2", "K2"] and (gdf["customers"] > 0).all()
    site = R.lat[nodes[1800]], R.lon[nodes[1800]]
    assert len(what_if_store(R, stores, customers, *site, mode="walk", minutes=[5], assigned=out).won) > 0
    # the live preview works with the placed stores; the unplaced one has no targets
    people = customers.assign(email=[f"p{i}@example.com" for i in range(len(customers))], opted_in=True,
                              unsubscribed=False)
    index = index_reach(prepare_audience(people, today="2026-06-01"), out, stores, mode="walk")
    steps = slider_steps("walk")
    by_store = targets_by_store(index, steps)
    assert by_store[2].sum() == 0 and by_store[:2, -1].sum() == out["reachable"].sum()
    curve = reach_curve(index, overlap_index(out, stores, mode="walk"), steps, holdout=0.0)
    assert curve["targets"].iloc[-1] == out["reachable"].sum()
    assert len(preview_map_json(index, steps)) > 0
    with pytest.raises(NetworkError, match=r"no store can be placed on the walk network: K9 \(outside the extract's"):
        catchment_polygons(R, stores.iloc[[2]], [5], mode="walk")
