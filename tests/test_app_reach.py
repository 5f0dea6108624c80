"""AppTest: the reach page shows exactly what `geo.targeting.reach` computes on the demo, and reacts to its widgets."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from geo.campaign_settings import load_settings
from geo.catchments.assign import assign_customers, radius_assign
from geo.network.load import load_network
from geo.network.routing import Router
from geo.targeting.audience import AudienceFilters
from geo.targeting.forecast import forecast
from geo.targeting.live import bands_up_to, overlap_by_store
from geo.targeting.reach import reach
from geo.workspace import open_workspace
from tests.conftest import run_app

PAGE = "app_pages/reach.py"


@pytest.fixture(scope="module")
def walk_assignment(demo_root):
    """Nearest store by walking time for the demo, computed independently of the app."""
    ws = open_workspace("demo", demo_root)
    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    router = Router.from_graph(load_network("demo", "walk",
                                            cache_dir=demo_root / "cache" / "networks"))
    return assign_customers(router, stores, customers, mode="walk")


@pytest.fixture()
def app(scratch_demo):
    at = run_app(PAGE)
    assert not at.exception, at.exception
    return at


LABELS = {"in_catchment": "In catchment", "targets": "Targets", "treatment": "Treatment",
          "holdout": "Holdout", "in_two_catchments": "In two catchments"}


def preview(at) -> dict:
    """The data the live preview component was given (its counts are looked up in it)."""
    return json.loads(at.get("bidi_component")[0].proto.json)


def served(url: str) -> bytes:
    """The bytes of a file the page serves under ``/app/static``."""
    from ui.cache import STATIC_DIR

    return (STATIC_DIR / url.split("/app/static/", 1)[1]).read_bytes()


def counts(at, step_index: int | None = None) -> dict[str, int]:
    """The preview's counts at its limit (or at ``step_index``), as the browser looks them up."""
    from geo.targeting.preview import counts_at

    data = preview(at)
    j = data["steps"].index(data["limit"]) if step_index is None else step_index
    return counts_at(served(data["counts_url"]), j)


def shown(at) -> dict[str, str]:
    """Every count on the page as the browser formats it: the preview's at its limit, then metrics."""
    row = counts(at)
    out = {label: f"{row[key]:,}" for key, label in LABELS.items()}
    return {**out, **{m.label: m.value for m in at.metric}}


def move_slider(at, limit: float, *, unit: str = "min") -> None:
    """What the browser sends when the catchment slider rests on ``limit``."""
    at.session_state[f"reach_preview_{unit}"] = {"limit": limit}
    at.run()


def expected(demo_root, assignment, at, *, mode="walk", filters=None, suppression=None):
    """What geo computes for the widget values the page shows."""
    ws = open_workspace("demo", demo_root)
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    limit = preview(at)["limit"]
    bands = bands_up_to(load_settings(ws).bands_for(mode), limit)
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


def test_counts_equal_geo_reach_on_the_demo(app, scratch_demo, walk_assignment):
    assert app.radio(key="reach_mode").value == "walk"
    r, shared, bands = expected(scratch_demo, walk_assignment, app)
    assert r.summary()["targets"] > 1000
    assert_counts_match(app, r, shared)
    # the waterfall chart carries the same stage counts; the consent rule is stated
    assert any("Consent rule (always on)" in c.value for c in app.caption)
    data = preview(app)
    assert data["map_url"].startswith("/app/static/generated/reach-preview-")
    assert data["label"] == "Travel time (minutes)" and data["limit"] == bands[-1]
    assert data["counts_url"].startswith("/app/static/generated/reach-counts-")
    assert len(json.loads(served(data["counts_url"]))["curve"]["targets"]) == 60
    assert len(data["steps"]) == 60
    assert len(app.get("bidi_component")[0].proto.json) < 20_000   # map data served by URL
    assert data["roads_url"] is None                                # off by default
    assert any(f"catchment within {bands[-1]:g} min" in c.value for c in app.caption)
    app.toggle(key="reach_roads").set_value(True).run()
    assert preview(app)["roads_url"].startswith("/app/static/generated/roads-walk-")


def test_moving_the_minutes_slider_changes_the_counts(app, scratch_demo, walk_assignment):
    before = shown(app)["Targets"]
    start = preview(app)["limit"]
    move_slider(app, 4 if start != 4 else 6)
    assert not app.exception, app.exception
    assert shown(app)["Targets"] != before
    r, shared, bands = expected(scratch_demo, walk_assignment, app)
    assert bands[-1] == (4 if start != 4 else 6)
    assert_counts_match(app, r, shared)


def test_filters_and_suppression_change_the_counts(demo_root, tmp_path, monkeypatch,
                                                    walk_assignment):
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)   # the suppression list is saved in the workspace
    monkeypatch.setenv("GEO_DATA_DIR", str(root))
    app = run_app(PAGE)
    app.multiselect(key="reach_segments").set_value(["loyal"])
    app.number_input(key="reach_min_orders").set_value(2)
    app.run()
    assert not app.exception, app.exception
    ws = open_workspace("demo", root)
    first = ws.load_table("customers")["email"].iloc[:300].tolist()
    app.file_uploader(key="reach_suppression").upload(
        "suppress.csv", ("email\n" + "\n".join(f"  {e.upper()} " for e in first)).encode(),
        "text/csv")
    app.run()
    assert not app.exception, app.exception
    filters = AudienceFilters(segments=("loyal",), min_online_orders=2)
    r, shared, _ = expected(root, walk_assignment, app, filters=filters, suppression=first)
    assert r.waterfall.set_index("stage").loc["not_suppressed", "removed"] > 0
    assert_counts_match(app, r, shared)
    n = len({e.strip().lower() for e in first})
    assert any(f"{n:,} addresses on the suppression list (suppress.csv" in c.value
               for c in app.caption)

    # a new session (a page switch or a restart) still applies the saved list
    again = run_app(PAGE)
    assert not again.exception, again.exception
    r_all, shared_all, _ = expected(root, walk_assignment, again, suppression=first)
    assert_counts_match(again, r_all, shared_all)
    # a file without any address is refused with a message; the saved list stays
    again.file_uploader(key="reach_suppression").upload("names.csv", b"name\nBob\n", "text/csv")
    again.run()
    assert any("no e-mail address" in e.value for e in again.error)
    assert_counts_match(again, r_all, shared_all)
    # removing it brings the suppressed customers back
    again.button(key="reach_suppression_clear").click().run()
    assert not again.exception, again.exception
    r_none, shared_none, _ = expected(root, walk_assignment, again)
    assert r_none.summary()["targets"] > r_all.summary()["targets"]
    assert_counts_match(again, r_none, shared_none)


def test_expected_outcome_comes_from_the_past_campaign(app, scratch_demo, walk_assignment):
    r, _, bands = expected(scratch_demo, walk_assignment, app)
    fc = forecast(open_workspace("demo", scratch_demo), r.treatment_by_band(), bands, mode="walk",
                  cost_per_email=app.number_input(key="reach_cost").value,
                  discount_value=app.number_input(key="reach_discount").value)
    assert fc.has_history
    assert shown(app)["Expected redemptions"] == f"{fc.totals.redemptions:,.0f}"
    assert shown(app)["Expected revenue"] == f"€{fc.totals.revenue:,.0f}"  # the demo's currency


def test_radius_mode(app, scratch_demo):
    app.radio(key="reach_mode").set_value("radius").run()
    assert not app.exception, app.exception
    ws = open_workspace("demo", scratch_demo)
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    from geo.targeting.preview import KM_MAX
    assignment = radius_assign(stores, customers, KM_MAX)
    r, shared, _ = expected(scratch_demo, assignment, app, mode="radius")
    assert_counts_match(app, r, shared)
    app.radio(key="reach_mode").set_value("walk").run()
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
    assert counts(at, 5)["holdout"] == round(0.2 * counts(at, 5)["targets"])
    at.button(key="reach_save").click().run()
    assert not at.exception
    assert any("already exists" in e.value for e in at.error)


def test_large_audiences_are_drawn_per_cell(demo_env, monkeypatch):
    import streamlit as st

    import geo.targeting.preview
    from geo.targeting.preview import map_counts_at
    monkeypatch.setattr(geo.targeting.preview, "POINTS_MAX", 100)   # the demo has ~15k candidates
    st.cache_data.clear()
    at = run_app(PAGE)
    assert not at.exception, at.exception
    data = preview(at)
    raw = served(data["map_url"])
    assert json.loads(raw)["draw"] == "cells"
    for j in (2, 9, len(data["steps"]) - 1):   # the cells add up to the counts of every step
        assert map_counts_at(raw, j) == counts(at, j)["targets"]
    st.cache_data.clear()
