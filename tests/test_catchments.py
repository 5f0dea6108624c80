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
