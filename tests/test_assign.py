"""Tests for geo.catchments.assign.

Nearest store by travel time against brute force, ties, radius, overlaps, thresholds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.catchments.assign import (
    ASSIGN_COLUMNS,
    assign_customers,
    band_counts,
    customer_seconds,
    haversine_km,
    overlaps,
    radius_assign,
    snap_customers,
    threshold_minutes,
)
from geo.errors import NetworkError, NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from tests.conftest import SHARED_OSM, placeable_nodes

KREMS = SHARED_OSM / "krems.osm.gz"


@pytest.fixture(scope="session")
def net_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "engine-netcache"


@pytest.fixture(scope="module")
def router(net_cache) -> Router:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        return Router.from_graph(load_network(KREMS, "drive", cache_dir=net_cache))


@pytest.fixture(scope="module")
def stores(router) -> pd.DataFrame:
    idx = placeable_nodes(router)[[30, 500, 900, 1250]]
    return pd.DataFrame({"store_id": ["S4", "S2", "S3", "S1"], "name": "x", "lat": router.lat[idx],
                         "lon": router.lon[idx]})


@pytest.fixture(scope="module")
def customers(router) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 3000
    near = rng.choice(placeable_nodes(router), n)
    lat = router.lat[near] + rng.normal(0, 120, n) / 111_320
    lon = router.lon[near] + rng.normal(0, 120, n) / 74_000
    lat[:20] = router.lat.max() + 0.2  # 22 km away: outside the extract
    return pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "lat": lat, "lon": lon})


def test_assignment_equals_brute_force(router, stores, customers):
    out = assign_customers(router, stores, customers, mode="drive")
    assert list(out.columns) == ASSIGN_COLUMNS
    assert out["customer_id"].tolist() == customers["customer_id"].tolist()
    T = router.store_times(stores)
    sec = customer_seconds(T, snap_customers(router, customers, T))
    order = np.argsort(sec, axis=1, kind="stable")  # stable: ties to the lower (sorted) store id
    best = sec[np.arange(len(sec)), order[:, 0]]
    second = sec[np.arange(len(sec)), order[:, 1]]
    reach = np.isfinite(best)
    assert (out["reachable"].to_numpy() == reach).all()
    assert (out.loc[reach, "store_id"].astype(str).to_numpy() == T.store_ids[order[reach, 0]]).all()
    assert np.allclose(out.loc[reach, "travel_min"].to_numpy(float), best[reach] / 60)
    has2 = np.isfinite(second)
    assert (out.loc[has2, "second_store_id"].astype(str).to_numpy() == T.store_ids[order[has2, 1]]).all()
    assert np.allclose(out.loc[has2, "second_travel_min"].to_numpy(float), second[has2] / 60)
    # crow-flies km to the assigned store
    st = stores.set_index("store_id").loc[out.loc[reach, "store_id"].astype(str)]
    ref = haversine_km(customers.loc[reach, "lat"].to_numpy(), customers.loc[reach, "lon"].to_numpy(),
                       st["lat"].to_numpy(), st["lon"].to_numpy())
    assert np.allclose(out.loc[reach, "crow_km"].to_numpy(float), ref)


def test_unreachable_customers_are_kept_and_never_get_a_time(router, stores, customers):
    out = assign_customers(router, stores, customers, mode="drive")
    far = out.iloc[:20]
    assert not far["reachable"].any()
    assert far["store_id"].isna().all() and far["travel_min"].isna().all() and far["crow_km"].isna().all()
    assert (far["unreachable_reason"].astype(str) == "outside_area").all()
    assert (far["snap_m"] > 20_000).all()
    assert len(out) == len(customers)


def test_ties_go_to_the_lower_store_id(router, customers):
    twin = pd.DataFrame({"store_id": ["Z", "A"], "lat": [router.lat[500]] * 2, "lon": [router.lon[500]] * 2})
    out = assign_customers(router, twin, customers, mode="drive")
    reach = out["reachable"]
    assert (out.loc[reach, "store_id"].astype(str) == "A").all()
    assert (out.loc[reach, "second_store_id"].astype(str) == "Z").all()
    assert np.allclose(out.loc[reach, "travel_min"], out.loc[reach, "second_travel_min"])


def test_max_minutes_and_mode_mismatch(router, stores, customers):
    out = assign_customers(router, stores, customers, mode="drive", max_minutes=2)
    assert (out["travel_min"].dropna() <= 2).all()
    assert (out.loc[~out["reachable"], "unreachable_reason"].astype(str).isin(
        ["beyond_max_minutes", "off_network", "outside_area", "no_route"])).all()
    assert (out["unreachable_reason"].astype(str) == "beyond_max_minutes").sum() > 0
    with pytest.raises(NetworkError, match="built on a drive network but mode 'walk'"):
        assign_customers(router, stores, customers, mode="walk")


def test_traffic_slows_travel(router, stores, customers):
    free = assign_customers(router, stores, customers, mode="drive")
    peak = assign_customers(router, stores, customers, mode="drive", traffic=0.5)
    assert (peak["travel_min"].dropna().sum()) > free["travel_min"].dropna().sum()


def test_radius_assign_equals_brute_force(stores, customers):
    out = radius_assign(stores, customers, 1.5)
    st = stores.sort_values("store_id")
    d = haversine_km(customers["lat"].to_numpy()[:, None], customers["lon"].to_numpy()[:, None],
                     st["lat"].to_numpy()[None, :], st["lon"].to_numpy()[None, :])
    best = d.argmin(axis=1)
    inside = d.min(axis=1) <= 1.5
    assert (out["reachable"].to_numpy() == inside).all()
    assert (out.loc[inside, "store_id"].astype(str).to_numpy() == st["store_id"].to_numpy()[best[inside]]).all()
    assert np.allclose(out.loc[inside, "crow_km"].to_numpy(float), d.min(axis=1)[inside], atol=1e-6)
    assert out["travel_min"].isna().all()
    assert (out.loc[~inside, "unreachable_reason"].astype(str) == "beyond_radius").all()
    with pytest.raises(NetworkError, match="radius must be a positive"):
        radius_assign(stores, customers, 0)


def test_overlaps_count_shared_customers_per_pair(router, stores, customers):
    res = overlaps(router, stores, customers, mode="drive", minutes=4)
    T = router.store_times(stores)
    inside = customer_seconds(T, snap_customers(router, customers, T)) <= 240
    for _, row in res.iterrows():
        a, b = list(T.store_ids).index(row["store_a"]), list(T.store_ids).index(row["store_b"])
        assert row["customers"] == int((inside[:, a] & inside[:, b]).sum())
    assert res.attrs["customers_in_two_or_more"] == int((inside.sum(axis=1) >= 2).sum())
    assert res.attrs["customers_in_two_or_more"] > 0


def test_threshold_minutes_reaches_n_customers(router, stores, customers):
    store = stores.iloc[1]
    minutes = threshold_minutes(router, store, customers, 500)
    T = router.store_times(stores.iloc[[1]])
    t = customer_seconds(T, snap_customers(router, customers, T))[:, 0] / 60
    assert (t <= minutes).sum() >= 500 and (t < minutes).sum() < 500
    with pytest.raises(NetworkError, match=r"only [\d,]+ of 3,000 customers can reach it"):
        threshold_minutes(router, store, customers, 10_000)


def test_band_counts(router, stores, customers):
    out = assign_customers(router, stores, customers, mode="drive")
    counts = band_counts(out, [2, 5])
    for _, row in counts.iterrows():
        sel = (out["store_id"].astype(str) == row["store_id"]) & (out["travel_min"] <= row["band_min"])
        assert row["customers"] == sel.sum()
