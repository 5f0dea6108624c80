"""AppTest: the Reach page's market research (Huff, prospects ring, daily demand) shows what geo computes."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from geo.campaign_settings import load_settings
from geo.catchments.assign import assign_customers
from geo.catchments.huff import customer_summary, expected_visitors, network_choice_sets, probabilities
from geo.network.load import load_network
from geo.network.routing import Router
from geo.targeting.audience import prepare_audience
from geo.targeting.live import bands_up_to
from geo.targeting.prospects import ring_counts
from geo.targeting.reach import index_reach
from geo.views.market_maps import MAX_POINTS
from geo.workspace import open_workspace
from tests.conftest import run_app
from tests.test_app_reach import PAGE, preview
from ui.cache import STATIC_DIR, STATIC_URL


@pytest.fixture(scope="module")
def demo_router(demo_root):
    return Router.from_graph(load_network("demo", "walk", cache_dir=demo_root / "cache" / "networks"))


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_huff_assignment_shows_expected_visitors_and_contested_customers(scratch_demo, demo_router):
    at = run_app(PAGE)
    assert not at.exception, at.exception
    at.radio(key="reach_assign_by").set_value("Huff (store-choice probabilities)").run()
    assert not at.exception, at.exception
    ws = open_workspace("demo", scratch_demo)
    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    limit = preview(at)["limit"]
    sets = network_choice_sets(demo_router, stores, customers, max_minutes=limit)
    p = probabilities(sets, 1.0, 2.0)
    visitors = expected_visitors(sets, p)
    shown = metrics(at)
    assert shown["Expected visitors, all stores"] == f"{visitors.sum():,.0f}"
    assert shown["Contested customers"] == f"{int(customer_summary(sets, p)['contested'].sum()):,}"
    table = next(d.value for d in at.dataframe if "Expected visitors (Huff)" in d.value.columns)
    assert np.allclose(table["Expected visitors (Huff)"], visitors.round(1).to_numpy())
    assert any("literature default β = 2" in c.value for c in at.caption)


def test_prospects_ring_counts_and_joins_the_target_list(scratch_demo, demo_router):
    at = run_app(PAGE)
    assert not at.exception, at.exception
    ws = open_workspace("demo", scratch_demo)
    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    limit = preview(at)["limit"]
    bands = bands_up_to(load_settings(ws).bands_for("walk"), limit)
    assert bands[-1] == limit
    index = index_reach(prepare_audience(customers, today=dt.date.today().isoformat()),
                        assign_customers(demo_router, stores, customers, mode="walk"), stores, mode="walk")
    ring = ring_counts(index, limit, 5.0).iloc[-1]
    shown = metrics(at)
    assert shown[f"Customers {limit:g}–{limit + 5:g} min"] == f"{int(ring['in_catchment']):,}"
    assert shown["Addresses to target"] == f"{int(ring['one_per_email']):,}"
    assert "Expected redemptions" in shown  # the demo has a past campaign: the ring has an outcome
    assert any("Marginal return" in c.value for c in at.caption)
    assert any("Suggested catchment" in c.value or "No extension returns" in c.value for c in at.caption)
    # the ring's map reads its points from a static file, not from the page's message
    layer = next(layer for c in at.get("deck_gl_json_chart") for layer in json.loads(c.proto.json)["layers"]
                 if layer["id"] == "ring")
    assert layer["data"].startswith(STATIC_URL + "/generated/ring-")
    points = json.loads((STATIC_DIR / layer["data"].removeprefix(STATIC_URL + "/")).read_text())
    in_ring = sum(p["tooltip"] == "prospects ring" for p in points)
    assert in_ring == min(int(ring["one_per_email"]), MAX_POINTS // 2) > 0   # its addresses to target
    assert {k for p in points for k in p} == {"position", "colour", "tooltip"}
    at.checkbox(key="reach_ring_add").check().run()
    assert not at.exception, at.exception
    assert any("includes the prospects ring" in c.value for c in at.caption)
    # the daily demand of the offer window is drawn from the past campaign's profile
    assert any("Daily profile from" in c.value for c in at.caption)


def test_catchments_what_if_shows_expected_visitors_taken(scratch_demo, demo_router):
    from geo.catchments.huff import visitors_taken

    at = run_app("app_pages/catchments.py")
    at.toggle(key="cand_on").set_value(True).run()
    assert not at.exception, at.exception
    ws = open_workspace("demo", scratch_demo)
    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    want = visitors_taken(demo_router, stores, customers, at.session_state["cand_lat"],
                          at.session_state["cand_lon"], max_minutes=15.0)
    table = next(d.value for d in at.dataframe if "taken" in d.value.columns)
    assert np.allclose(table["taken"], want["taken"].round(1))
    assert any("Expected visitors the candidate would take" in m.value for m in at.markdown)


def test_untapped_cells_on_the_demo(scratch_demo, demo_router):
    import pyrosm

    from geo.demo.build import building_weights
    from geo.network.load import demo_network_path
    from geo.targeting.untapped import untapped_cells

    at = run_app(PAGE)
    at.toggle(key="reach_untapped_on").set_value(True).run()
    assert not at.exception, at.exception
    ws = open_workspace("demo", scratch_demo)
    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    b = pyrosm.OSM(str(demo_network_path())).get_buildings()
    b = b[b.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    pts = b.geometry.representative_point()
    buildings = pd.DataFrame({"lat": pts.y, "lon": pts.x, "floor_m2": building_weights(b)})
    want = untapped_cells(customers, buildings, stores, mode="walk", max_cost=preview(at)["limit"],
                          router=demo_router, resolution=9)
    table = next(d.value for d in at.dataframe if "untapped_homes" in d.value.columns)
    assert table["cell"].tolist() == want["cell"].head(20).tolist()
    assert np.allclose(table["untapped_homes"], want["untapped_homes"].head(20))
    assert (want["rank"].head(20) > 0).all()
    decks = [json.loads(c.proto.json) for c in at.get("deck_gl_json_chart")]
    assert any(layer["id"] == "untapped" for deck in decks for layer in deck["layers"])
