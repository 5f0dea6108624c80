"""AppTest: the funnel page shows `analyse_campaign`'s numbers on the demo, and its inputs change them."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest

from geo.campaign_settings import load_settings
from geo.demo.campaign import CAMPAIGN_NAME
from geo.funnel.campaign import analyse_campaign
from geo.workspace import create_workspace, open_workspace
from tests.conftest import run_app

PAGE = "app_pages/funnel.py"


@pytest.fixture()
def scratch_root(demo_root, tmp_path, monkeypatch):
    """A private copy of the demo workspace (uploads and settings must not touch the shared one)."""
    shutil.copytree(demo_root / "workspaces" / "demo", tmp_path / "workspaces" / "demo")
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    return tmp_path


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def pp(x: float) -> str:
    return f"{x * 100:+.2f} pp"


def chart_rows(at) -> list[int]:
    rows = []
    for chart in at.get("vega_lite_chart"):
        for d in chart.proto.datasets:
            rows.append(pa.ipc.open_stream(d.data.data).read_all().num_rows)
    return rows


def test_page_shows_the_campaigns_funnel_and_like_for_like_lift(demo_env):
    at = run_app(PAGE)
    assert not at.exception, at.exception
    result = analyse_campaign(open_workspace("demo", demo_env), CAMPAIGN_NAME)
    shown = metrics(at)
    for stage in ("targeted", "sent", "delivered", "opened", "clicked", "redeemed"):
        assert shown[stage.capitalize()] == f"{result.stages[stage]:,}"
    assert shown["Revenue"] == f"€{result.stages['revenue']:,.0f}"  # the demo's currency
    like = result.lift_like_for_like
    assert shown["Treatment rate"] == f"{like.treatment_rate:.2%}"
    assert shown["Holdout rate"] == f"{like.holdout_rate:.2%}"
    assert shown["Lift"] == pp(like.lift_abs)
    assert shown["Unknown codes"] == f"{result.anomalies['unknown_code']:,}"
    assert shown["Codes redeemed twice"] == f"{result.anomalies['double_redemption']:,}"
    captions = " ".join(c.value for c in at.caption)
    assert "like-for-like" in captions and "privacy proxies" in captions
    # seven charts, each fed a small aggregated table, each with PNG and CSV downloads
    rows = chart_rows(at)
    assert len(rows) == 7 and rows[0] == 6 and max(rows) < 100
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("Chart as PNG") == 7 and labels.count("Table as CSV") == 7
    assert not at.error


def test_basis_and_cost_inputs_change_the_numbers_and_cost_is_kept(scratch_root):
    at = run_app(PAGE)
    assert not at.exception, at.exception
    like_lift = metrics(at)["Lift"]
    key = f"funnel_cost_per_email_demo_{CAMPAIGN_NAME}"
    assert at.number_input(key=key).value == pytest.approx(0.002)  # as the campaign was planned
    at.radio(key="funnel_lift_basis").set_value(
        "All attributed redemptions (code or card)").run()
    at.number_input(key=key).set_value(0.01).run()
    assert not at.exception, at.exception
    ws = open_workspace("demo", scratch_root)
    result = analyse_campaign(ws, CAMPAIGN_NAME, cost_per_email=0.01)
    shown = metrics(at)
    assert shown["Lift"] == pp(result.lift.lift_abs) != like_lift
    assert shown["Cost per incremental visit"] == f"€{result.lift.cost_per_incremental_visit:,.4f}"
    assert any("all attributed redemptions" in c.value for c in at.caption)
    assert load_settings(ws).cost_per_email == pytest.approx(0.01)  # Reach sees it too
    again = run_app(PAGE)   # a new session starts from the campaign's saved cost
    assert again.number_input(key=key).value == pytest.approx(0.01)


def test_uploads_are_validated_mapped_and_stored_in_the_campaign(scratch_root):
    ws = open_workspace("demo", scratch_root)
    targets = ws.load_campaign_file(CAMPAIGN_NAME, "targets")
    treat = targets[targets["group"] == "treatment"].head(3)
    at = run_app(PAGE)
    assert not at.exception, at.exception
    # till export with its own headers, a decimal comma, one bad row and a column to map by hand
    lines = ["Gutschein;Filiale;Zeit;Umsatz;Kunde"]
    lines += [f"{r.coupon_code};{r.store_id};2026-10-10 12:00;12,50;" for r in treat.itertuples()]
    lines += ["ZZZ;HEL01;not a date;5;"]
    at.file_uploader(key="funnel_red_file").upload("till.csv", "\n".join(lines).encode(),
                                                   "text/csv").run()
    assert not at.exception, at.exception
    at.selectbox(key="funnel_map_coupon_code").set_value("Gutschein")
    at.selectbox(key="funnel_map_store_id").set_value("Filiale")
    at.selectbox(key="funnel_map_timestamp").set_value("Zeit").run()
    assert not at.exception, at.exception
    assert any("1 problem(s)" in w.value for w in at.warning)
    at.button(key="funnel_red_store").click().run()
    assert not at.exception, at.exception
    assert any("3 redemptions" in s.value for s in at.success)
    stored = ws.load_campaign_file(CAMPAIGN_NAME, "redemptions")
    assert len(stored) == 3 and stored["amount"].tolist() == [12.5] * 3
    assert metrics(at)["Redeemed"] == "3"
    # a Mailchimp activity export with one bad address, added to the stored events
    result = analyse_campaign(ws, CAMPAIGN_NAME)
    before = result.stages["clicked"]
    j = result.journeys
    never = j.loc[(j["group"] == "treatment") & ~j["clicked"], "email"].iloc[0]
    body = f"Email Address,Action,Timestamp\n{never},click,2026-10-07 12:00\nnope,open,2026-10-07\n"
    at.file_uploader(key="funnel_events_file").upload("activity.csv", body.encode(),
                                                      "text/csv").run()
    assert any("1 problem(s)" in w.value for w in at.warning)
    at.radio(key="funnel_ev_mode").set_value("Add to them")
    at.button(key="funnel_ev_store").click().run()
    assert not at.exception, at.exception
    after = analyse_campaign(ws, CAMPAIGN_NAME).stages["clicked"]
    assert after == before + 1 and metrics(at)["Clicked"] == f"{after:,}"
    assert len(ws.load_campaign_file(CAMPAIGN_NAME, "events")) > 1


def test_unreadable_upload_is_a_message_and_workspace_without_campaign_says_so(scratch_root):
    create_workspace("empty", scratch_root)   # before the run: the sidebar lists it
    at = run_app(PAGE)
    at.file_uploader(key="funnel_events_file").upload("report.zip", b"not a zip",
                                                      "application/zip").run()
    assert not at.exception, at.exception
    assert any("report.zip" in e.value for e in at.error)
    assert metrics(at)["Targeted"]   # the analysis below still shows
    at.session_state["workspace"] = "empty"
    at.run()
    assert not at.exception, at.exception
    assert any("no saved campaign" in i.value for i in at.info)
