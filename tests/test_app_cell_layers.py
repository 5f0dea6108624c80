"""AppTest: above the threshold the Map and Catchments pages draw H3 cells served by URL, not points."""

from __future__ import annotations

import json

import pytest

import geo.views.aggregate as aggregate
from tests.conftest import run_app


@pytest.fixture()
def low_threshold(demo_env, monkeypatch):
    monkeypatch.setattr(aggregate, "AGGREGATE_FROM", 10)  # the demo's customers count as "many"
    return demo_env


def layers(at) -> dict[str, dict]:
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    return {layer["id"]: layer for layer in spec["layers"]}


def test_map_page_sends_cells_instead_of_points(low_threshold):
    at = run_app()
    assert not at.exception, at.exception
    by_id = layers(at)
    assert "density" not in by_id
    cells = by_id["customers"]
    assert cells["@@type"] == "H3HexagonLayer" and cells["data"].startswith("/app/static/generated/customer-cells-")
    assert cells["getFillColor"] == "@@=cc"
    at.radio(key="map_colour_by").set_value("segment").run()
    assert layers(at)["customers"]["getFillColor"] == "@@=sc" and not at.exception


def test_catchments_page_sends_cells_coloured_by_store(low_threshold):
    at = run_app("app_pages/catchments.py")
    assert not at.exception, at.exception
    cells = layers(at)["customers"]
    assert cells["@@type"] == "H3HexagonLayer" and cells["data"].startswith("/app/static/generated/assigned-cells-")


def test_radius_comparison_map_is_drawn_on_request_with_cells_by_kind(low_threshold):
    at = run_app("app_pages/catchments.py")
    assert not at.exception, at.exception
    assert len(at.get("deck_gl_json_chart")) == 1      # at scale only the catchments map opens with the page
    assert any(m.label == "Radius only: wasted mails" for m in at.metric)   # the counts are there at once
    at.toggle(key="cmp_show_map").set_value(True).run()
    assert not at.exception, at.exception
    spec = json.loads(at.get("deck_gl_json_chart")[1].proto.json)   # the comparison's map
    by_id = {layer["id"]: layer for layer in spec["layers"]}
    cells = by_id["customers"]
    assert cells["@@type"] == "H3HexagonLayer"
    assert cells["data"].startswith("/app/static/generated/compare-cells-")


def test_reach_page_measures_the_prospects_ring_on_request_at_scale(low_threshold):
    at = run_app("app_pages/reach.py")
    assert not at.exception, at.exception
    assert not at.get("deck_gl_json_chart")  # the ring's inline points would be resent at every move
    assert not any(m.label.startswith("Customers ") for m in at.metric)
    at.toggle(key="reach_ring_on").set_value(True).run()
    assert not at.exception, at.exception
    assert len(at.get("deck_gl_json_chart")) == 1     # the ring's map
    assert any(m.label.startswith("Customers ") for m in at.metric)
