"""A network is checked against the workspace's stores and customers before it is used."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from geo.errors import NetworkWarning
from geo.network.coverage import network_coverage
from geo.network.load import load_network
from geo.network.routing import Router
from tests.conftest import SHARED_OSM


@pytest.fixture(scope="module")
def andorra_walk(tmp_path_factory) -> Router:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(SHARED_OSM / "andorra.osm.pbf", "walk",
                         cache_dir=tmp_path_factory.mktemp("cache"))
    return Router.from_graph(G)


def test_coverage_counts_stores_and_customers(andorra_walk):
    stores = pd.read_csv(SHARED_OSM / "andorra-stores-50.csv")
    moved = stores.copy()
    moved.loc[:9, ["lat", "lon"]] = [[47.14, 9.52]] * 10          # ten stores in Liechtenstein
    customers = pd.concat([stores[["lat", "lon"]]] * 3 + [moved.loc[:9, ["lat", "lon"]]])
    c = network_coverage(andorra_walk, moved, customers)
    assert (c.stores, c.stores_placed, c.usable, c.complete) == (50, 40, True, False)
    assert c.customer_share == pytest.approx(150 / 160)
    assert c.summary("Andorra") == ("Andorra covers 40 of 50 stores (80%) and 94% of the "
                                    "customers")
    assert set(c.placement.unplaced["store_id"]) == set(moved.loc[:9, "store_id"])


def test_a_network_far_from_every_store_is_not_usable(andorra_walk):
    far = pd.DataFrame({"store_id": ["X"], "name": ["x"], "lat": [60.17], "lon": [24.94]})
    c = network_coverage(andorra_walk, far, None)
    assert not c.usable and c.customers_checked == 0 and c.store_share == 0.0


def test_large_tables_are_checked_on_a_fixed_sample(andorra_walk):
    stores = pd.read_csv(SHARED_OSM / "andorra-stores-50.csv")
    customers = pd.concat([stores[["lat", "lon"]]] * 30, ignore_index=True)
    c = network_coverage(andorra_walk, stores, customers, sample=500)
    assert (c.customers, c.customers_checked, c.customers_snapped) == (1500, 500, 500)
    assert "of a sample of 500" in c.summary("Andorra")
