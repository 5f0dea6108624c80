"""Untapped areas (`geo.targeting.untapped`): homes and customers per H3 cell, reach to a store, ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.catchments.assign import haversine_km
from geo.cells import cell_hex, cell_ids
from geo.errors import GeoError
from geo.targeting.untapped import M2_PER_HOME, UNTAPPED_COLUMNS, untapped_cells

STORES = pd.DataFrame({"store_id": ["N", "S"], "lat": [47.20, 47.10], "lon": [9.52, 9.52]})


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(8)
    b = pd.DataFrame({"lat": rng.uniform(47.08, 47.25, 3000), "lon": rng.uniform(9.48, 9.58, 3000),
                      "floor_m2": rng.uniform(50, 2000, 3000)})
    b.loc[:9, "floor_m2"] = 0.0  # non-residential: no homes
    c = pd.DataFrame({"customer_id": [f"c{i}" for i in range(1500)],
                      "lat": rng.normal(47.2, 0.01, 1500), "lon": rng.normal(9.52, 0.01, 1500)})
    return b, c


def test_cells_hold_every_home_and_customer(scene):
    b, c = scene
    out = untapped_cells(c, b, STORES, mode="radius", max_cost=3.0, resolution=8)
    assert list(out.columns) == UNTAPPED_COLUMNS
    assert out["homes"].sum() == pytest.approx(b["floor_m2"].sum() / M2_PER_HOME)
    assert out["customers"].sum() == len(c)
    assert out["buildings"].sum() == (b["floor_m2"] > 0).sum()
    ids = cell_hex(cell_ids(c["lat"].to_numpy(), c["lon"].to_numpy(), 8))
    assert out.set_index("cell")["customers"].to_dict() == {**{k: 0 for k in out["cell"]},
                                                           **pd.Series(ids).value_counts().to_dict()}


def test_ranking_puts_untapped_homes_within_reach_first(scene):
    b, c = scene
    out = untapped_cells(c, b, STORES, mode="radius", max_cost=3.0, resolution=8)
    km = np.minimum(haversine_km(out["lat"], out["lon"], 47.20, 9.52), haversine_km(out["lat"], out["lon"], 47.10, 9.52))
    assert np.allclose(out["minutes_to_store"].fillna(np.inf).clip(upper=99), np.where(km <= 3.0, km, 99),
                       atol=1e-6)
    reach = out[out["within_reach"]]
    assert (reach["rank"] == np.arange(1, len(reach) + 1)).all()
    assert reach["untapped_homes"].is_monotonic_decreasing
    assert (out.loc[~out["within_reach"], "rank"] == 0).all()
    assert np.allclose(out["untapped_homes"], np.maximum(out["homes"] - out["customers"], 0))
    # the customers' own area (around store N) is the most tapped: the top cells lie elsewhere
    top = reach.head(10)
    assert top["penetration"].mean() < reach["penetration"].mean()


def test_travel_mode_needs_a_router_and_buildings_need_columns(scene):
    b, c = scene
    with pytest.raises(GeoError, match="road network"):
        untapped_cells(c, b, STORES, mode="walk", max_cost=10)
    with pytest.raises(GeoError, match="floor_m2"):
        untapped_cells(c, b.drop(columns="floor_m2"), STORES, mode="radius", max_cost=3)


def test_travel_minutes_come_from_the_nearest_store_assignment(tmp_path):
    import warnings

    from geo.catchments.assign import assign_customers
    from geo.errors import NetworkWarning
    from geo.network.load import load_network
    from geo.network.routing import Router
    from tests.conftest import SHARED_OSM, placeable_nodes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        router = Router.from_graph(load_network(SHARED_OSM / "krems.osm.gz", "walk", cache_dir=tmp_path))
    rng = np.random.default_rng(1)
    nodes = placeable_nodes(router)
    st = rng.choice(nodes, 2, replace=False)
    stores = pd.DataFrame({"store_id": ["A", "B"], "lat": router.lat[st], "lon": router.lon[st]})
    bn = rng.choice(nodes, 400)
    b = pd.DataFrame({"lat": router.lat[bn], "lon": router.lon[bn], "floor_m2": 300.0})
    c = pd.DataFrame({"customer_id": ["x", "y"], "lat": router.lat[bn[:2]], "lon": router.lon[bn[:2]]})
    out = untapped_cells(c, b, stores, mode="walk", max_cost=12.0, router=router, resolution=9)
    ref = assign_customers(router, stores, out.rename(columns={"cell": "customer_id"}), mode="walk")
    assert np.allclose(out["minutes_to_store"], ref["travel_min"], equal_nan=True)
    assert (out["within_reach"] == (ref["travel_min"] <= 12.0)).all()
    assert out["within_reach"].any() and (~out["within_reach"]).any()
