"""AppTest: the catchments page on the demo: bands, live counts from geo, mode switches, what-if."""

from __future__ import annotations

import json

import pytest

from geo.campaign_settings import load_settings
from geo.catchments import trade_area
from geo.catchments.assign import assign_customers
from geo.modes import Mode
from geo.network.load import load_network
from geo.network.routing import Router
from geo.workspace import open_workspace
from tests.conftest import run_app


@pytest.fixture()
def app(scratch_demo):
    at = run_app("app_pages/catchments.py")
    assert not at.exception, at.exception
    return at


def shown(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_counts_equal_the_geo_engine(app, scratch_demo):
    ws = open_workspace("demo", scratch_demo)
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    router = Router.from_graph(load_network("demo", "walk", cache_dir=scratch_demo / "cache" / "networks"))
    assigned = assign_customers(router, stores, customers, mode="walk")
    table = trade_area.band_table(assigned, customers, stores, [5, 10, 15])
    metrics = shown(app)
    assert metrics["Customers within 15 min"] == f"{int(table.iloc[-1]['≤ 15 min']):,}"
    assert metrics["Of whom opted in"] == f"{int(table.iloc[-1]['opted_in']):,}"
    page_table = app.dataframe[0].value
    assert page_table["≤ 5 min"].tolist() == table["≤ 5 min"].tolist()


def test_map_spec_serves_layers_by_url(app):
    raw = app.get("deck_gl_json_chart")[0].proto.json
    spec = json.loads(raw)
    ids = [layer["id"] for layer in spec["layers"]]
    assert ids == ["roads", "catchments", "customers", "stores"]   # road nodes only with the what-if on
    by_id = {layer["id"]: layer for layer in spec["layers"]}
    assert by_id["catchments"]["data"].startswith("/app/static/generated/catchments-")
    assert len(raw) < 20_000


def test_slider_and_mode_change_the_counts_and_are_kept_for_the_workspace(app, scratch_demo):
    before = shown(app)["Customers within 15 min"]
    app.slider(key="catch_longest_walk").set_value(6).run()
    after = shown(app)
    assert "Customers within 6 min" in after and after["Customers within 6 min"] != before
    ws = open_workspace("demo", scratch_demo)
    assert load_settings(ws).minutes == (2.0, 4.0, 6.0)      # Reach and the campaign see them
    app.radio(key="catch_mode").set_value("radius").run()
    assert not app.exception
    assert "Customers within 2 km" in shown(app) and load_settings(ws).mode is Mode.RADIUS
    assert "Beyond 2 km" in shown(app)                       # radius words, not road words
    assert app.toggle(key="cand_on").disabled               # the what-if needs roads
    app.radio(key="catch_mode").set_value("drive").run()
    assert not app.exception and "Customers within 6 min" in shown(app)  # minutes carried over
    again = run_app("app_pages/catchments.py")                   # a new session: the same settings
    assert again.radio(key="catch_mode").value == "drive"
    assert "Customers within 6 min" in shown(again)


def test_what_if_candidate_reports_won_customers(app):
    app.toggle(key="cand_on").set_value(True).run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown)
    assert "Candidate store" in text and "would win" in text
    ids = [layer["id"] for layer in json.loads(app.get("deck_gl_json_chart")[0].proto.json)["layers"]]
    assert "candidate" in ids and "candidate-catchments" in ids
    assert "sites" in ids                                      # roads are clickable sites now
