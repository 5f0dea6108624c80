"""AppTest: the Export page's sync rules, runs list and ad-platform section; the Funnel page's brief buttons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from geo.automation import SyncState, load_rule, state_path
from geo.workspace import open_workspace
from tests.conftest import APP
from tests.fakes.mailchimp import FakeMailchimp

SETTINGS = [f"{p}_{s}" for p in ("MAILCHIMP", "KLAVIYO", "SENDGRID", "BREVO")
            for s in ("API_KEY", "BASE_URL")] + ["EXPORT_POLL_SECONDS"]


@pytest.fixture()
def root(demo_root, tmp_path, monkeypatch) -> Path:
    data = tmp_path / "data"
    shutil.copytree(demo_root, data)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEO_DATA_DIR", str(data))
    return data


def open_page(path: str, secrets: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=240)
    at.secrets.update(secrets or {})
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def test_rule_is_saved_run_and_its_runs_listed(root):
    with FakeMailchimp() as fake:
        fake.add_list("aud1")
        at = open_page("app_pages/export.py", {"MAILCHIMP_API_KEY": fake.api_key,
                                                "MAILCHIMP_BASE_URL": fake.url + "/3.0",
                                                "EXPORT_POLL_SECONDS": "0.01"})
        at.text_input(key="sync_list_new").set_value("aud1")
        at.selectbox(key="sync_mode_new").set_value("radius")
        at.number_input(key="sync_limit_new").set_value(0.3)
        at.button(key="sync_save").click().run()
        assert not at.exception, at.exception
        ws = open_workspace("demo", root)
        rule = load_rule(ws, "welcome")
        assert (rule.list_id, rule.mode, rule.limit) == ("aud1", "radius", 0.3)
        assert at.selectbox(key="sync_rule_pick").value == "welcome"
        at.button(key="sync_run_now").click().run()          # first run: the baseline
        assert not at.exception, at.exception
        customers = ws.load_table("customers")
        store = ws.load_table("stores").iloc[0]
        lead = customers.iloc[[0]].assign(customer_id="NEW1", email="new.lead@example.com",
                                          lat=store["lat"], lon=store["lon"], opted_in=True,
                                          unsubscribed=False)
        ws.save_table("customers", pd.concat([customers, lead], ignore_index=True))
        at.button(key="sync_run_now").click().run()
        assert not at.exception, at.exception
        runs = SyncState(state_path(ws)).runs("welcome")
        assert runs["status"].tolist() == ["done", "done"] and runs["new"].tolist() == [1, 0]
        shown = at.table[0].value
        assert shown["new"].tolist() == runs["new"].tolist()
        assert shown["sent"].tolist() == runs["sent"].tolist()
        assert runs["sent"].tolist() == [1, 0]         # one lead: a 10 % holdout rounds to none
        tags = set(fake.member("aud1", "new.lead@example.com")["tags"])
        assert {f"store:{store['store_id']}", f"o2o-welcome-{store['store_id']}"} <= tags
        assert any("sent" in s.value for s in at.success)


def test_ad_lists_say_why_nothing_is_exported_and_pins_are_listed(root):
    at = open_page("app_pages/export.py")
    at.button(key="ads_prepare").click().run()
    assert not at.exception, at.exception
    assert any("no ads_consent column" in w.value for w in at.warning)
    pins = at.table[0].value
    stores = open_workspace("demo", root).load_table("stores")
    assert len(pins) == 2 * len(stores) and set(pins["pin"]) == {"catchment", "share_90"}


def test_funnel_page_offers_the_brief(root):
    at = open_page("app_pages/funnel.py")
    keys = {b.key for b in at.get("download_button")}
    assert {"funnel_brief_pdf", "funnel_brief_html"} <= keys


def test_customers_with_ads_consent_give_a_list_to_download(root):
    from geo.data.ingest import import_file
    from geo.targeting.targets import load_campaign

    ws = open_workspace("demo", root)
    customers = ws.load_table("customers")
    # the customers import keeps ads_consent and country (no separate ad-contacts upload)
    again = customers[["customer_id", "email", "first_name", "lat", "lon", "opted_in"]]
    report = import_file(again.assign(ads_consent="yes", country="Finland")
                         .to_csv(index=False).encode(), "customers", ws, name="customers.csv")
    assert report.errors.empty and report.changes.updated == len(customers)
    at = open_page("app_pages/export.py")
    at.button(key="ads_prepare").click().run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    campaign = ws.list_campaigns()[-1]
    treated = load_campaign(ws, campaign).targets.query("group == 'treatment'")
    assert shown["Members on the list"] == f"{len(treated):,}"
    assert "ads_download" in {b.key for b in at.get("download_button")}
