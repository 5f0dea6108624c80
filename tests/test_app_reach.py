"""AppTest: the reach page shows exactly what `geo.reach` computes on the demo, and reacts to its widgets."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from geo.assign import assign_customers, radius_assign
from geo.forecast import forecast
from geo.network import load_network
from geo.reach import AudienceFilters, reach
from geo.reach_live import bands_up_to, overlap_by_store
from geo.routing import Router
from geo.workspace import open_workspace
from tests.conftest import run_app

PAGE = "pages/reach.py"


@pytest.fixture(scope="module")
def walk_assignment(demo_root):
    """Nearest store by walking time for the demo, computed independently of the app."""
    ws = open_workspace("demo", demo_root)
    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    router = Router.from_graph(load_network("demo", "walk",
                                            cache_dir=demo_root / "cache" / "networks"))
    return assign_customers(router, stores, customers, mode="walk")


@pytest.fixture()
def app(demo_env):
    at = run_app(PAGE)
    assert not at.exception, at.exception
    return at


def shown(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected(demo_root, assignment, at, *, mode="walk", filters=None, suppression=None):
    """What geo computes for the widget values the page shows."""
    ws = open_workspace("demo", demo_root)
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    radius = mode == "radius"
    limit = at.slider(key="reach_km" if radius else "reach_minutes").value
    bands = bands_up_to(ws.settings().get("km" if radius else "minutes", []), limit)
    r = reach(customers, assignment, stores, bands=bands, mode=mode, filters=filters,
              suppression=suppression, today=dt.date.today().isoformat(),
              holdout=at.slider(key="reach_holdout").value / 100,
              seed=int(at.number_input(key="reach_seed").value))
    shared = overlap_by_store(assignment, stores, limit, mode=mode, customers=customers)
    return r, shared, bands


def assert_counts_match(at, r, shared):
    s, got = r.summary(), shown(at)
    assert got["In catchment"] == f"{s['waterfall']['in_catchment']:,}"
    assert got["Targets"] == f"{s['targets']:,}"
    assert got["Treatment"] == f"{s['treatment']:,}"
    assert got["Holdout"] == f"{s['holdout']:,}"
    assert got["In two catchments"] == f"{int(shared.sum()):,}"
    table = at.dataframe[0].value
    assert list(table["Store"]) == list(r.per_store["store_id"])
    assert list(table["Treatment"]) == list(r.per_store["treatment"])
    assert list(table["Opted in, never unsubscribed"]) == list(r.per_store["opted_in"])
    assert list(table["Also in another catchment"]) == list(shared.to_numpy())


def test_counts_equal_geo_reach_on_the_demo(app, demo_env, walk_assignment):
    assert app.radio(key="reach_mode").value == "walk"
    r, shared, bands = expected(demo_env, walk_assignment, app)
    assert r.summary()["targets"] > 1000
    assert_counts_match(app, r, shared)
    # the waterfall chart carries the same stage counts; the consent rule is stated
    assert any("Consent rule (always on)" in c.value for c in app.caption)
    spec = json.loads(app.get("deck_gl_json_chart")[0].proto.json)
    targets = next(layer for layer in spec["layers"] if layer["id"] == "targets")
    assert targets["data"].startswith("/app/static/generated/reach-targets-")
    assert targets["filterRange"] == [0.0, float(bands[-1])]
    assert len(app.get("deck_gl_json_chart")[0].proto.json) < 10_000   # points served by URL
    assert "roads" not in [layer["id"] for layer in spec["layers"]]     # off by default
    app.toggle(key="reach_roads").set_value(True).run()
    spec = json.loads(app.get("deck_gl_json_chart")[0].proto.json)
    roads = next(layer for layer in spec["layers"] if layer["id"] == "roads")
    assert roads["data"].startswith("/app/static/generated/roads-walk-")


def test_moving_the_minutes_slider_changes_the_counts(app, demo_env, walk_assignment):
    before = shown(app)["Targets"]
    start = app.slider(key="reach_minutes").value
    app.slider(key="reach_minutes").set_value(4 if start != 4 else 6).run()
    assert not app.exception, app.exception
    assert shown(app)["Targets"] != before
    r, shared, bands = expected(demo_env, walk_assignment, app)
    assert_counts_match(app, r, shared)
    spec = json.loads(app.get("deck_gl_json_chart")[0].proto.json)
    targets = next(layer for layer in spec["layers"] if layer["id"] == "targets")
    assert targets["filterRange"] == [0.0, float(bands[-1])]


def test_filters_and_suppression_change_the_counts(app, demo_env, walk_assignment):
    app.multiselect(key="reach_segments").set_value(["loyal"])
    app.number_input(key="reach_min_orders").set_value(2)
    app.run()
    assert not app.exception, app.exception
    ws = open_workspace("demo", demo_env)
    first = ws.load_table("customers")["email"].iloc[:300].tolist()
    app.file_uploader(key="reach_suppression").upload(
        "suppress.csv", ("email\n" + "\n".join(f"  {e.upper()} " for e in first)).encode(),
        "text/csv")
    app.run()
    assert not app.exception, app.exception
    filters = AudienceFilters(segments=("loyal",), min_online_orders=2)
    r, shared, _ = expected(demo_env, walk_assignment, app, filters=filters, suppression=first)
    assert r.waterfall.set_index("stage").loc["not_suppressed", "removed"] > 0
    assert_counts_match(app, r, shared)


def test_expected_outcome_comes_from_the_past_campaign(app, demo_env, walk_assignment):
    r, _, bands = expected(demo_env, walk_assignment, app)
    fc = forecast(open_workspace("demo", demo_env), r.treatment_by_band(), bands, mode="walk",
                  cost_per_email=app.number_input(key="reach_cost").value,
                  discount_value=app.number_input(key="reach_discount").value)
    assert fc.has_history
    assert shown(app)["Expected redemptions"] == f"{fc.totals['redemptions']:,.0f}"
    assert shown(app)["Expected revenue"] == f"{fc.totals['revenue']:,.0f}"


def test_radius_mode(app, demo_env):
    app.radio(key="reach_mode").set_value("radius").run()
    assert not app.exception, app.exception
    ws = open_workspace("demo", demo_env)
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    from ui.reach import KM_MAX
    assignment = radius_assign(stores, customers, KM_MAX)
    r, shared, _ = expected(demo_env, assignment, app, mode="radius")
    assert_counts_match(app, r, shared)
    app.radio(key="reach_mode").set_value("walk").run()   # the shared demo keeps walk
    assert not app.exception


def test_no_history_is_said_and_save_campaign_writes_it(demo_root, tmp_path, monkeypatch):
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    ws = open_workspace("demo", root)
    for name in ws.list_campaigns():
        ws.delete_campaign(name)
    monkeypatch.setenv("GEO_DATA_DIR", str(root))
    at = run_app(PAGE)
    assert not at.exception, at.exception
    assert any("no history" in i.value for i in at.info)
    at.text_input(key="reach_campaign_name").set_value("Test weekend").run()
    at.button(key="reach_save").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] and "Test weekend" in at.success[0].value
    assert ws.list_campaigns() == ["Test weekend"]
    saved = ws.load_campaign_file("Test weekend", "targets")
    assert len(saved) == int(shown(at)["Targets"].replace(",", ""))
    assert (saved["coupon_code"].isna() == (saved["group"] == "holdout")).all()
    meta = ws.campaign_meta("Test weekend")
    assert meta["params"]["mode"] == "walk" and meta["params"]["stores"]
    # saving the same name again from another selection is refused with a message
    at.slider(key="reach_holdout").set_value(20).run()
    at.button(key="reach_save").click().run()
    assert not at.exception
    assert any("already exists" in e.value for e in at.error)


def test_large_audiences_are_drawn_per_cell(demo_env, monkeypatch):
    import geo.reach_live
    monkeypatch.setattr(geo.reach_live, "POINTS_MAX", 100)   # the demo has ~15k candidates
    at = run_app(PAGE)
    assert not at.exception, at.exception

    def cells_layer():
        spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
        return next(layer for layer in spec["layers"] if layer["id"] == "target-cells")

    first = cells_layer()["data"]
    assert first.startswith("/app/static/generated/reach-cells-")
    minutes = at.slider(key="reach_minutes").value
    at.slider(key="reach_minutes").set_value(3 if minutes != 3 else 5).run()
    assert not at.exception, at.exception
    assert cells_layer()["data"] != first
    assert any("per 400 m square" in c.value for c in at.caption)
