"""AppTest: the catchments page on an uploaded real extract (Krems), and a corrupt upload refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.catchments.assign import assign_customers
from geo.catchments.trade_area import band_table
from geo.network.coverage import network_coverage
from geo.network.load import load_network
from geo.network.routing import Router
from geo.workspace import create_workspace, open_workspace
from tests.conftest import run_app


@pytest.fixture()
def krems_ws(tmp_path, monkeypatch, shared_osm):
    """A workspace with 3 stores and 400 customers on Krems' walking network (no network chosen)."""
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    G = load_network(shared_osm / "krems.osm.gz", "walk", cache_dir=tmp_path / "cache")
    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)])
    rng = np.random.default_rng(3)
    stores_xy = xy[rng.choice(len(xy), 3, replace=False)]
    cust_xy = xy[rng.choice(len(xy), 400)] + rng.normal(0, 0.0002, (400, 2))
    ws = create_workspace("krems", tmp_path)
    ws.save_table("stores", pd.DataFrame({"store_id": ["K1", "K2", "K3"], "name": ["A", "B", "C"],
                                          "lat": stores_xy[:, 1], "lon": stores_xy[:, 0],
                                          "address": pd.NA}))
    ws.save_table("customers", pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(400)], "email": [f"c{i}@example.com" for i in range(400)],
        "first_name": "X", "lat": cust_xy[:, 1], "lon": cust_xy[:, 0], "opted_in": True,
        "unsubscribed": False, "segment": "a", "online_orders_12m": 1,
        "last_order_date": pd.Timestamp("2026-01-01"), "location_source": "address"}))
    ws.update_settings(mode="walk")
    return ws


def open_catchments(ws):
    at = run_app()
    at.session_state["workspace"] = ws.name
    at.switch_page("app_pages/catchments.py").run()
    assert not at.exception, at.exception
    return at


def upload(at, name: str, data: bytes):
    at.radio(key="net_kind").set_value("file").run()
    at.file_uploader(key="net_file").upload(name, data, "application/octet-stream").run()
    at.button(key="net_use_file").click().run()
    return at


def test_uploaded_extract_becomes_the_network(krems_ws, shared_osm):
    at = open_catchments(krems_ws)
    upload(at, "krems.osm.gz", (shared_osm / "krems.osm.gz").read_bytes())
    assert not at.exception, at.exception
    network = open_workspace("krems", krems_ws.root).settings()["network"]
    assert network.endswith("networks/krems.osm.gz")
    metrics = {m.label: m.value for m in at.metric}
    router = Router.from_graph(load_network(network, "walk", cache_dir=krems_ws.root / "cache"))
    customers, stores = krems_ws.load_table("customers"), krems_ws.load_table("stores")
    assigned = assign_customers(router, stores, customers, mode="walk")
    table = band_table(assigned, customers, stores, [5, 10, 15])
    expected = int(table.iloc[-1]["≤ 15 min"])
    assert expected > 50
    assert metrics["Customers within 15 min"] == f"{expected:,}"
    assert "krems.osm.gz" in " ".join(c.value for c in at.caption)


def test_corrupt_upload_is_refused_and_keeps_the_network(krems_ws):
    krems_ws.update_settings(network="demo")
    at = open_catchments(krems_ws)
    upload(at, "broken.osm.pbf", b"\x00\x01 definitely not a pbf file" * 20)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "broken.osm.pbf" in errors and "stays central Helsinki" in errors
    assert open_workspace("krems", krems_ws.root).settings()["network"] == "demo"


def test_a_failed_load_changes_nothing_the_user_set(krems_ws, shared_osm):
    krems_ws.update_settings(network=str(shared_osm / "krems.osm.gz"))
    at = open_catchments(krems_ws)
    at.radio(key="catch_mode").set_value("drive").run()
    at.multiselect(key="catch_stores").set_value(["K1", "K3"]).run()
    before = {m.label: m.value for m in at.metric}
    upload(at, "broken.osm.pbf", b"\x00\x01 definitely not a pbf file" * 20)
    assert not at.exception
    assert "broken.osm.pbf" in " ".join(e.value for e in at.error)
    assert at.radio(key="catch_mode").value == "drive"
    assert at.multiselect(key="catch_stores").value == ["K1", "K3"]
    assert {m.label: m.value for m in at.metric} == before       # the results stay, unchanged
    at.button(key="catch_stores_none").click().run()
    assert at.multiselect(key="catch_stores").value == []
    at.button(key="catch_stores_all").click().run()
    assert at.multiselect(key="catch_stores").value == ["K1", "K2", "K3"]


def test_a_network_that_covers_no_store_is_refused_with_the_figure(krems_ws, shared_osm):
    krems_ws.update_settings(network=str(shared_osm / "krems.osm.gz"))
    at = open_catchments(krems_ws)
    upload(at, "north-bayreuth.osm.gz", (shared_osm / "north-bayreuth.osm.gz").read_bytes())
    assert not at.exception, at.exception
    refused = " ".join(e.value for e in at.error)
    assert "covers 0 of 3 stores (0%)" in refused and "cannot be used" in refused
    assert open_workspace("krems", krems_ws.root).settings()["network"].endswith("krems.osm.gz")


def test_a_network_that_covers_some_stores_is_accepted_with_a_warning(krems_ws, shared_osm):
    stores = krems_ws.load_table("stores")
    far = stores.copy()
    far.loc[far["store_id"] == "K3", ["lat", "lon"]] = [48.2082, 16.3738]  # Vienna, off Krems
    krems_ws.save_table("stores", far)
    krems_ws.update_settings(network="demo")
    at = open_catchments(krems_ws)
    upload(at, "krems.osm.gz", (shared_osm / "krems.osm.gz").read_bytes())
    assert not at.exception, at.exception
    warned = " ".join(w.value for w in at.warning)
    assert "covers 2 of 3 stores (67%)" in warned
    router = Router.from_graph(load_network(shared_osm / "krems.osm.gz", "walk",
                                            cache_dir=krems_ws.root / "cache"))
    expected = network_coverage(router, far, krems_ws.load_table("customers"))
    assert f"{expected.customer_share:.0%} of the customers" in warned
    assert open_workspace("krems", krems_ws.root).settings()["network"].endswith("krems.osm.gz")
