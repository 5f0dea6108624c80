"""AppTest: the Export page against loopback provider fakes (keys from secrets or env)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from geo.export import (
    dry_run,
    journal_path,
    journal_state,
    make_adapter,
    prepare_targets,
)
from geo.export.mailchimp import subscriber_hash
from geo.export.recipients import with_current_consent
from geo.targeting.targets import load_campaign
from geo.workspace import open_workspace
from tests.conftest import APP
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.mailchimp import FakeMailchimp

CAMPAIGN = "Autumn weekend 2026"
SETTINGS = ["EXPORT_POLL_SECONDS", "EXPORT_TIMEOUT_SECONDS"] + [
    f"{p}_{s}" for p in ("MAILCHIMP", "KLAVIYO", "SENDGRID", "BREVO")
    for s in ("API_KEY", "BASE_URL")]


@pytest.fixture()
def export_root(demo_root, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo data root (its own export journal) with one customer who
    unsubscribed after the campaign was saved."""
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    ws = open_workspace("demo", root)
    customers = ws.load_table("customers")
    treated = load_campaign(ws, CAMPAIGN).targets.query("group == 'treatment'")["customer_id"]
    customers.loc[customers["customer_id"] == treated.iloc[0], "unsubscribed"] = True
    ws.save_table("customers", customers)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEO_DATA_DIR", str(root))
    return root


def open_page(secrets: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=240)
    at.secrets.update(secrets or {})
    at.switch_page("app_pages/export.py")
    at.run()
    assert not at.exception, at.exception
    return at


def expected(root: Path, provider: str, list_id: str) -> tuple[dict, pd.DataFrame]:
    """The geo dry run of the demo campaign with today's consent, and its eligible rows."""
    ws = open_workspace("demo", root)
    targets = with_current_consent(load_campaign(ws, CAMPAIGN).targets, ws.load_table("customers"))
    plan = dry_run(targets, make_adapter(provider), list_id).summary
    return plan, prepare_targets(targets).eligible


def metrics(at) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def test_missing_key_names_the_setting_and_keeps_the_csv_fallback(export_root):
    at = open_page()
    warning = " ".join(w.value for w in at.warning)
    assert "MAILCHIMP_API_KEY" in warning and "MAILCHIMP_BASE_URL" in warning
    assert [d.label for d in at.get("download_button")] == ["Download the Mailchimp import CSV"]
    mapping = at.dataframe[0].value
    assert "COUPON" in mapping["Mailchimp field"].tolist()
    at.button(key="export_dry_run").click().run()      # a dry run needs no key
    assert not at.exception, at.exception
    plan, eligible = expected(export_root, "mailchimp", "your-list")
    shown = dict(metrics(at))
    assert shown["Recipients to upload"] == f"{plan['recipients']:,}" == f"{len(eligible):,}"
    per_store = at.dataframe[1].value
    assert per_store["recipients"].sum() == plan["recipients"] > 0
    assert dict(zip(per_store["store"], per_store["recipients"], strict=True)) == plan["per_store"]
    assert "@" not in str(plan["sample_payload"]).replace("***@", "")  # addresses masked
    assert any("Next step" in i.value and "MAILCHIMP_API_KEY" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "export_run"]           # nothing is sent
    at.selectbox(key="export_provider").set_value("brevo").run()
    assert "BREVO_API_KEY" in " ".join(w.value for w in at.warning)
    assert [d.label for d in at.get("download_button")] == ["Download the Brevo import CSV"]


def test_dry_run_then_confirmed_export_puts_each_recipient_once(export_root):
    with FakeMailchimp() as fake:
        fake.add_list("aud1", "O2O customers")
        fake.add_list("aud2", "Newsletter")
        at = open_page({"MAILCHIMP_API_KEY": fake.api_key,
                        "MAILCHIMP_BASE_URL": fake.url + "/3.0", "EXPORT_POLL_SECONDS": "0.01"})
        assert at.selectbox(key="export_list_mailchimp").options[:2] == [
            "O2O customers · 0 members (aud1)", "Newsletter · 0 members (aud2)"]
        at.button(key="export_dry_run").click().run()
        assert not at.exception, at.exception
        plan, eligible = expected(export_root, "mailchimp", "aud1")
        shown = dict(metrics(at))
        assert shown["Recipients to upload"] == f"{plan['recipients']:,}"
        assert shown["Held out (never exported)"] == f"{plan['excluded']:,}" == "1,621"
        assert shown["Refused"] == f"{plan['refused']:,}" == "1"            # the new unsubscriber
        assert shown["Batches"] == f"{plan['batches']:,}"
        assert fake.writes() == []                                     # the dry run sent nothing
        sample = at.json[0].value
        assert "@" in sample and not any(e in sample for e in eligible["email"].head(2))

        run = at.button(key="export_run")
        assert run.disabled                                                 # not confirmed yet
        at.checkbox[0].check().run()
        at.button(key="export_run").click().run()
        assert not at.exception, at.exception
        result = metrics(at)[5:]
        assert result == [("Accepted", f"{len(eligible):,}"), ("Failed", "0"), ("Refused", "1"),
                          ("Held out", "1,621"), ("Still open", "0")]
        assert at.success and [d.label for d in at.get("download_button")][-1] == \
            "Download the report (CSV)"

        members = fake.lists["aud1"]["members"]
        assert {m["email_address"] for m in members.values()} == set(eligible["email"])
        puts = Counter(op["path"] for b in fake.batches.values() for op in b["_ops"])
        assert set(puts.values()) == {1} and len(puts) == len(eligible)
        row = eligible.iloc[7]
        merge = members[subscriber_hash(row["email"])]["merge_fields"]
        assert (merge["COUPON"], merge["TRAVELMIN"], merge["STORE"]) == \
            (row["coupon_code"], int(row["travel_min"]), row["store_name"])
        assert fake.status_changes == [] and fake.lists["aud2"]["members"] == {}

        writes = len(fake.writes())                                         # a second run: no-op
        at.button(key="export_run").click().run()
        assert len(fake.writes()) == writes
        assert any("nothing was sent again" in i.value for i in at.info)

        assert fake.api_key not in str(at._tree)
        journal = journal_path(open_workspace("demo", export_root))
        assert fake.api_key.encode() not in journal.read_bytes()


def test_interrupted_export_resumes_without_duplicates(export_root, monkeypatch):
    with FakeKlaviyo() as fake:
        fake.add_list("Xy12", "O2O customers")
        monkeypatch.setenv("KLAVIYO_API_KEY", fake.api_key)
        monkeypatch.setenv("KLAVIYO_BASE_URL", fake.url)
        monkeypatch.setenv("EXPORT_POLL_SECONDS", "0.01")
        fake.inject("error", r"/profile-bulk-import-jobs$", method="POST", status=400, skip=1)
        at = open_page()
        at.selectbox(key="export_provider").set_value("klaviyo").run()
        at.button(key="export_dry_run").click().run()
        plan, eligible = expected(export_root, "klaviyo", "Xy12")
        assert plan["batches"] >= 2
        at.checkbox[0].check().run()
        at.button(key="export_run").click().run()
        assert not at.exception, at.exception
        assert "injected failure" in at.error[0].value and "Resume" in at.error[0].value
        journal = journal_path(open_workspace("demo", export_root))
        where = make_adapter("klaviyo", fake.api_key, base_url=fake.url).destination("Xy12")
        state = journal_state(journal, plan["export_id"], where)
        done = state["accepted"]
        assert 0 < done < len(eligible) and len(fake.profiles) == done
        assert at.button(key="export_run").label == "Resume export"
        assert f"{len(eligible) - done:,} recipients still to send" in at.warning[0].value

        at.button(key="export_run").click().run()                          # resume
        assert not at.exception, at.exception
        assert dict(metrics(at)[5:])["Accepted"] == f"{len(eligible):,}"
        assert set(fake.profiles) == set(eligible["email"])
        sent = Counter(p["attributes"]["email"]
                       for j in fake.jobs.values() for p in j["profiles"])
        assert set(sent.values()) == {1}
        assert all(p["consent"] == "NEVER_SUBSCRIBED" for p in fake.profiles.values())
        assert fake.requests("POST", "subscription") == []


def test_a_bad_poll_setting_is_a_message_not_a_traceback(export_root, monkeypatch):
    monkeypatch.setenv("EXPORT_POLL_SECONDS", "soon")
    at = open_page({"MAILCHIMP_API_KEY": "k-us6"})
    assert "EXPORT_POLL_SECONDS must be a positive number of seconds, got 'soon'" in at.error[0].value
    assert "k-us6" not in str(at._tree)


def test_field_mapping_follows_the_campaigns_travel_mode(export_root):
    from geo.targeting.codes import existing_codes, generate_codes
    from geo.targeting.targets import save_campaign

    ws = open_workspace("demo", export_root)
    walk = load_campaign(ws, CAMPAIGN).targets
    radius = walk.assign(mode="radius", crow_km=walk["travel_min"] * 0.08,
                         travel_min=pd.Series(pd.NA, index=walk.index, dtype="Float64"))
    treated = radius["coupon_code"].notna()
    radius.loc[treated, "coupon_code"] = generate_codes(int(treated.sum()),
                                                        existing=existing_codes(ws))
    save_campaign(ws, "Radius test", radius, {"mode": "radius"})
    at = open_page()
    at.selectbox(key="export_campaign").set_value(CAMPAIGN).run()
    fields = at.dataframe[0].value["Mailchimp field"].tolist()
    assert "TRAVELMIN" in fields and "DISTKM" not in fields
    at.selectbox(key="export_campaign").set_value("Radius test").run()
    assert not at.exception, at.exception
    fields = at.dataframe[0].value["Mailchimp field"].tolist()
    assert "DISTKM" in fields and "TRAVELMIN" not in fields
