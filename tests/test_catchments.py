"""Tests for geo.catchments.polygons: polygons hold every reachable node, exclude far ones, nest; rings; what-if."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree

from geo.catchments.assign import (
    assign_customers,
    band_counts,
    haversine_km,
    radius_assign,
)
from geo.catchments.polygons import (
    CATCHMENT_COLUMNS,
    DEFAULT_MAX_HOLE_KM2,
    catchment_polygons,
    radius_rings,
    to_geojson,
    what_if_store,
)
from geo.errors import NetworkError, NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from tests.conftest import SHARED_OSM, placeable_nodes

KREMS = SHARED_OSM / "krems.osm.gz"


@pytest.fixture(scope="session")
def net_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "engine-netcache"


def _router(source, mode, cache) -> Router:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        return Router.from_graph(load_network(source, mode, cache_dir=cache))


@pytest.fixture(scope="module")
def krems(net_cache) -> Router:
    return _router(KREMS, "drive", net_cache)


@pytest.fixture(scope="module")
def helsinki_walk(net_cache) -> Router:
    return _router("demo", "walk", net_cache)


def _stores(router: Router, idx: list[int]) -> pd.DataFrame:
    """Stores at the ``idx``-th placeable nodes (core nodes inside the extract's bounds)."""
    node = placeable_nodes(router)[idx]
    return pd.DataFrame({"store_id": [f"S{i}" for i in range(len(idx))], "name": "x",
                         "lat": router.lat[node], "lon": router.lon[node]})


def _check_polygons(router: Router, stores: pd.DataFrame, bands: list[float], mode: str, direction: str):
    gdf = catchment_polygons(router, stores, bands, mode=mode, direction=direction)
    assert list(gdf.columns) == CATCHMENT_COLUMNS and gdf.crs.to_epsg() == 4326
    assert len(gdf) == len(stores) * len(bands)
    assert gdf.geometry.is_valid.all() and (gdf["area_km2"] > 0).all()
    T = router.store_times(stores, direction=direction)
    coo = router.seconds.tocoo()
    seg = np.hypot(*(router.xy[coo.row] - router.xy[coo.col]).T)
    for i, sid in enumerate(T.store_ids):
        polys = gdf[gdf["store_id"] == sid].sort_values("band_min").geometry.tolist()
        # bands nest (up to centimetres from reprojecting the grid to EPSG:4326)
        for small, big in zip(polys, polys[1:], strict=False):
            assert big.buffer(1e-6).contains(small)
        store_row = stores[stores["store_id"] == sid].iloc[0]
        assert polys[0].contains(shapely.Point(store_row["lon"], store_row["lat"]))  # no hole around the store
        for band, poly in zip(bands, polys, strict=True):
            ok = T.seconds[i] <= band * 60
            assert shapely.contains_xy(poly, router.lon[ok], router.lat[ok]).all()  # every reachable node inside
            # nodes far from everything reachable stay outside (no convex hull)
            reach_tree = cKDTree(router.xy[ok])
            margin = seg.max() + 3 * 150 + np.sqrt(DEFAULT_MAX_HOLE_KM2[mode] * 1e6 / np.pi)
            far = reach_tree.query(router.xy, k=1)[0] > margin
            assert not shapely.contains_xy(poly, router.lon[far], router.lat[far]).any()
    return gdf


def test_drive_polygons_on_krems(krems):
    gdf = _check_polygons(krems, _stores(krems, [30, 900, 1250]), [1, 2, 4], "drive", "to_store")
    hull = shapely.MultiPoint(np.column_stack([krems.lon, krems.lat])).convex_hull
    assert gdf.geometry.iloc[-1].area < hull.area
    assert gdf["customers"].isna().all()


def test_from_store_direction_on_krems(krems):
    _check_polygons(krems, _stores(krems, [200]), [2, 3], "drive", "from_store")


def test_walk_polygons_on_helsinki(helsinki_walk):
    _check_polygons(helsinki_walk, _stores(helsinki_walk, [100, 3000]), [5, 10], "walk", "to_store")


def test_customers_filled_from_assignment(krems):
    stores = _stores(krems, [30, 900])
    rng = np.random.default_rng(1)
    pick = rng.integers(0, len(krems.lat), 800)
    customers = pd.DataFrame({"customer_id": np.arange(800).astype(str), "lat": krems.lat[pick],
                              "lon": krems.lon[pick]})
    assigned = assign_customers(krems, stores, customers, mode="drive")
    gdf = catchment_polygons(krems, stores, [2, 4], mode="drive", assigned=assigned)
    counts = band_counts(assigned, [2, 4]).set_index(["store_id", "band_min"])["customers"]
    for _, row in gdf.iterrows():
        assert row["customers"] == counts.get((row["store_id"], row["band_min"]), 0)
    assert gdf["customers"].sum() > 0


def test_mode_and_band_errors(krems):
    stores = _stores(krems, [30])
    with pytest.raises(NetworkError, match="mode 'walk'"):
        catchment_polygons(krems, stores, [5], mode="walk")
    with pytest.raises(NetworkError, match="bands must be positive"):
        catchment_polygons(krems, stores, [0, 5], mode="drive")


def test_radius_rings_are_geodesic_and_nested(krems):
    stores = _stores(krems, [30, 900])
    gdf = radius_rings(stores, [1, 2])
    assert list(gdf.columns) == CATCHMENT_COLUMNS and (gdf["mode"] == "radius").all()
    for r, area in zip(gdf["band_min"], gdf["area_km2"], strict=True):
        assert area == pytest.approx(np.pi * r**2, rel=0.01)
    a, b = gdf[gdf["store_id"] == "S0"].geometry
    assert b.contains(a)


def test_radius_rings_count_the_customers_within_each_ring(krems):
    nodes = placeable_nodes(krems)
    west, east = nodes[np.argmin(krems.lon[nodes])], nodes[np.argmax(krems.lon[nodes])]
    stores = pd.DataFrame({"store_id": ["S0", "S1"], "name": "x", "lat": krems.lat[[west, east]],
                           "lon": krems.lon[[west, east]]})
    # a is 0.5 km and b 1.5 km north of S0; S1 is far east, so S0 is nearer to both
    lat = krems.lat[west] + np.array([0.5, 1.5]) / 111.2
    customers = pd.DataFrame({"customer_id": ["a", "b"], "lat": lat, "lon": krems.lon[[west, west]]})
    assert haversine_km(krems.lat[west], krems.lon[west], krems.lat[east], krems.lon[east]) > 4
    counted = radius_rings(stores, [1, 2], assigned=radius_assign(stores, customers, 2))
    got = {(s, b): c for s, b, c in zip(counted["store_id"], counted["band_min"], counted["customers"], strict=True)}
    assert got == {("S0", 1.0): 1, ("S0", 2.0): 2, ("S1", 1.0): 0, ("S1", 2.0): 0}


def test_to_geojson(krems):
    gdf = catchment_polygons(krems, _stores(krems, [30]), [1, 2], mode="drive")
    data = json.loads(to_geojson(gdf))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 2
    props = data["features"][0]["properties"]
    assert set(props) == {"store_id", "band_min", "mode", "area_km2", "customers"}
    assert props["customers"] is None


def test_what_if_store(krems):
    stores = _stores(krems, [30, 1250])
    rng = np.random.default_rng(5)
    pick = rng.integers(0, len(krems.lat), 1500)
    customers = pd.DataFrame({"customer_id": np.arange(1500).astype(str), "lat": krems.lat[pick],
                              "lon": krems.lon[pick]})
    before = assign_customers(krems, stores, customers, mode="drive")
    site = _stores(krems, [900]).iloc[0]
    res = what_if_store(krems, stores, customers, site["lat"], site["lon"], mode="drive", minutes=[2, 4],
                        assigned=before)
    assert len(res.catchment) == 2 and (res.catchment["store_id"] == "candidate").all()
    assert len(res.won) > 0
    assert (res.won["new_travel_min"] <= 4).all()
    prev = before.set_index("customer_id").loc[res.won["customer_id"]]
    assert (res.won["new_travel_min"].to_numpy() < prev["travel_min"].fillna(np.inf).to_numpy()).all()
    assert res.by_store["customers"].sum() == len(res.won)
    assert res.summary()["customers_won"] == len(res.won)
    assert res.catchment["customers"].sum() > 0


def test_polygons_do_not_depend_on_the_batch_of_stores_nor_read_the_dense_times(krems):
    stores = _stores(krems, [30, 200, 900, 1250])
    times = krems.store_times(stores, limit_min=4)
    whole = catchment_polygons(krems, stores, [1, 2, 4], mode="drive", times=times)
    one_by_one = catchment_polygons(krems, stores, [1, 2, 4], mode="drive", times=times, batch_samples=1)
    assert "_dense" not in times.__dict__  # the stores x nodes array was never built
    assert len(whole) == 12 and whole.drop(columns="geometry").equals(one_by_one.drop(columns="geometry"))
    assert shapely.to_wkb(whole.geometry.to_numpy()).tolist() == shapely.to_wkb(one_by_one.geometry.to_numpy()).tolist()


def _reference_cells(router: Router, times, band_s: np.ndarray, cell: float) -> tuple[pd.DataFrame, int]:
    """Smallest band per (store, cell), sampling every edge of the network against the dense times.

    Also returns how many (store, sample) pairs were within the longest band.
    """
    coo = router.seconds.tocoo()
    u, v, t = coo.row, coo.col, coo.data
    seg = router.xy[v] - router.xy[u]
    count = np.ceil(np.hypot(*seg.T) / cell).astype(int) + 1
    edge = np.repeat(np.arange(len(u)), count)
    frac = (np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count)) / np.repeat(
        np.maximum(count - 1, 1), count)
    pts = np.vstack([router.xy[u[edge]] + seg[edge] * frac[:, None], router.xy])
    to_store = times.direction == "to_store"
    read = np.concatenate([(v if to_store else u)[edge], np.arange(len(router.xy))])
    extra = np.concatenate([((1.0 - frac) if to_store else frac) * (t[edge] / times.traffic),
                            np.zeros(len(router.xy))])
    x0, y0 = router.xy.min(axis=0) - 3 * cell
    row, col = ((pts[:, 1] - y0) // cell).astype(int), ((pts[:, 0] - x0) // cell).astype(int)
    frames = []
    for i, dense in enumerate(times.reached.dense_rows()):
        sec = dense[read] + extra
        ok = sec <= band_s[-1]
        frames.append(pd.DataFrame({"store": i, "row": row[ok], "col": col[ok],
                                    "level": np.searchsorted(band_s, sec[ok])}))
    raw = pd.concat(frames)
    return raw.groupby(["store", "row", "col"])["level"].min().reset_index(), len(raw)


@pytest.mark.parametrize("direction, traffic", [("to_store", 1.0), ("from_store", 0.7)])
def test_sparse_samples_mark_the_cells_of_every_edge_sampled_against_the_dense_times(krems, direction, traffic):
    from geo.catchments.polygons import _band_samples, _edges

    stores = _stores(krems, [30, 200, 900, 1250])
    times = krems.store_times(stores, limit_min=4, direction=direction, traffic=traffic)
    band_s, cell = np.array([60.0, 120.0, 240.0]), 50.0
    store, row, col, level = _band_samples(krems, _edges(krems, cell, direction), times, 0, 4, band_s)
    mine = (pd.DataFrame({"store": store, "row": row, "col": col, "level": level.astype(int)})
            .groupby(["store", "row", "col"])["level"].min().reset_index())
    ref, ref_samples = _reference_cells(krems, times, band_s, cell)
    assert len(ref) > 1000 and set(ref["level"]) == {0, 1, 2}
    assert mine.equals(ref)
    assert len(store) < 0.8 * ref_samples  # samples dominated in their cell are left out


def test_grid_cells_equal_the_floor_division_even_on_cell_borders():
    from geo.catchments.polygons import _cell_of

    rng = np.random.default_rng(3)
    for cell in (50.0, 15.0, 33.3, 0.7):
        k = np.arange(0, 20_000, dtype=float)
        on = k * cell                                    # on the borders, up to rounding
        off = np.concatenate([rng.uniform(0, 1e6, 50_000), on, np.nextafter(on, np.inf), np.nextafter(on, 0)])
        off = off[off >= 0]
        assert np.array_equal(_cell_of(off, cell), (off // cell).astype(np.int64))
