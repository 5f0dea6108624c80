"""AppTest: a store the road network cannot place is named in the page; the others keep their catchments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.network.load import load_network
from geo.network.routing import Router
from geo.workspace import create_workspace
from tests.conftest import placeable_nodes, run_app


@pytest.fixture()
def krems_far_store(tmp_path, monkeypatch, shared_osm):
    """Krems on foot: stores K1-K3 on its roads and KX 30 km away; 400 customers near the roads."""
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    network = shared_osm / "krems.osm.gz"
    R = Router.from_graph(load_network(network, "walk", cache_dir=tmp_path / "cache" / "networks"))
    rng = np.random.default_rng(5)
    nodes = placeable_nodes(R)
    at = rng.choice(nodes, 3, replace=False)
    near = rng.choice(nodes, 400)
    ws = create_workspace("krems", tmp_path)
    ws.save_table("stores", pd.DataFrame({
        "store_id": ["K1", "K2", "K3", "KX"], "name": ["A", "B", "C", "Far"],
        "lat": [*R.lat[at], R.lat.max() + 0.27], "lon": [*R.lon[at], R.lon[at[0]]], "address": pd.NA}))
    ws.save_table("customers", pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(400)], "email": [f"c{i}@example.com" for i in range(400)],
        "first_name": "X", "lat": R.lat[near] + rng.normal(0, 0.0003, 400),
        "lon": R.lon[near] + rng.normal(0, 0.0003, 400), "opted_in": True, "unsubscribed": False,
        "segment": "a", "online_orders_12m": 1, "last_order_date": pd.Timestamp("2026-01-01"),
        "location_source": "address"}))
    ws.update_settings(mode="walk", network=str(network))
    return ws


def open_page(ws, page: str):
    at = run_app()
    at.session_state["workspace"] = ws.name
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def assert_far_store_named(at) -> None:
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("1 of 4 stores cannot be placed on the walk network and have no catchment: KX "
                            "(outside the extract's bounds (<bounds> element), ") for w in warnings), warnings
    notes = " ".join(c.value for c in at.caption)
    assert "separate pieces" in notes and "nodes" in notes and "declared bounds" in notes
    assert not at.error, [e.value for e in at.error]


def test_catchments_page_names_the_far_store_and_draws_the_others(krems_far_store):
    at = open_page(krems_far_store, "app_pages/catchments.py")
    assert_far_store_named(at)
    table = at.dataframe[0].value.set_index("store_id")
    assert table.loc[["K1", "K2", "K3"], "≤ 15 min"].sum() > 0 and table.loc["KX", "≤ 15 min"] == 0
    assert int(at.metric[0].value.replace(",", "")) == table.loc["all", "≤ 15 min"]


def test_reach_page_names_the_far_store_and_counts_the_others(krems_far_store):
    at = open_page(krems_far_store, "app_pages/reach.py")
    assert_far_store_named(at)
    per_store = at.dataframe[0].value.set_index("Store")
    assert per_store.loc["KX"].drop("Name").sum() == 0
    assert per_store.loc[["K1", "K2", "K3"], "Treatment"].sum() > 0
