"""AppTest: the map page runs on the demo and its spec holds the expected layers and counts."""

from __future__ import annotations

import json

import pytest

from geo.views.summary import headline_counts
from geo.workspace import open_workspace
from tests.conftest import run_app


@pytest.fixture()
def app(demo_env):
    at = run_app()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_map_page_shows_headline_counts_from_geo(app, demo_env):
    ws = open_workspace("demo", demo_env)
    counts = headline_counts(ws.load_table("customers"), ws.load_table("stores"))
    shown = metrics(app)
    assert shown["Customers"] == f"{counts['customers']:,}"
    assert shown["Opted in"] == f"{counts['opted_in']:,}"
    assert shown["Stores"] == f"{counts['stores']:,}"


def test_map_spec_has_layers_served_by_url_and_no_basemap(app):
    spec = json.loads(app.get("deck_gl_json_chart")[0].proto.json)
    ids = [layer["id"] for layer in spec["layers"]]
    assert ids == ["roads", "density", "customers", "stores", "store-labels"]
    by_id = {layer["id"]: layer for layer in spec["layers"]}
    assert by_id["customers"]["data"].startswith("/app/static/generated/customers-")
    assert by_id["roads"]["data"].startswith("/app/static/generated/roads-")
    assert 6 <= len(by_id["stores"]["data"]) <= 10
    assert spec["mapStyle"] == "__MAP_STYLE__"
    assert len(app.get("deck_gl_json_chart")[0].proto.json) < 20_000   # points are not inline


def test_layer_toggle_and_colour_choice_change_the_spec(app):
    app.toggle(key="map_show_density").set_value(False).run()
    app.radio(key="map_colour_by").set_value("segment").run()
    spec = json.loads(app.get("deck_gl_json_chart")[0].proto.json)
    ids = [layer["id"] for layer in spec["layers"]]
    assert "density" not in ids
    customers = next(layer for layer in spec["layers"] if layer["id"] == "customers")
    assert customers["getFillColor"] == "@@=sc"
    assert not app.exception


@pytest.mark.parametrize("page", ["app_pages/map.py", "app_pages/catchments.py", "app_pages/reach.py"])
def test_empty_workspace_says_where_to_import(tmp_path, monkeypatch, demo_root, page):
    import shutil

    from geo.workspace import create_workspace

    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    shutil.copytree(demo_root / "workspaces" / "demo", tmp_path / "workspaces" / "demo")
    create_workspace("empty", tmp_path)
    at = run_app()
    at.session_state["workspace"] = "empty"
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert any("Data & workspaces page" in i.value for i in at.info)
