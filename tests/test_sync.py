"""``geo sync``: each eligible new lead sent exactly once, resume, consent re-check, holdout, lock."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

from geo.automation import (
    RuleLock,
    SyncLocked,
    SyncRule,
    SyncState,
    campaign_of,
    load_rule,
    parse_every,
    run_every,
    run_sync,
    save_rule,
    state_path,
)
from geo.automation.schedule import lock_path
from geo.cli import main
from geo.data.schema import CUSTOMERS
from geo.data.tables import complete
from geo.errors import GeoError, WorkspaceError
from geo.export import ExportJournal, ExportKey, MailchimpAdapter, journal_path
from geo.funnel.campaign import analyse_campaign, saved_campaign
from geo.targeting.targets import load_campaign
from geo.workspace import create_workspace
from tests.fakes import fast_policy
from tests.fakes.mailchimp import FakeMailchimp

STORES = pd.DataFrame({"store_id": ["S1", "S2"], "name": ["North shop", "South shop"],
                       "lat": [60.170, 60.160], "lon": [24.940, 24.940]})
NOW = "2026-11-02 08:00"


def person(i: int, *, near: bool = True, opted_in: bool = True, unsubscribed: bool = False,
           email: str | None = None) -> dict:
    """A customer 100-300 m from store S1 (near) or 30 km away."""
    lat = 60.170 + 0.001 * (i % 3) if near else 60.45
    return {"customer_id": f"C{i:03d}", "email": email or f"Lead{i}@Example.com",
            "first_name": f"L{i}", "lat": lat, "lon": 24.941, "opted_in": opted_in,
            "unsubscribed": unsubscribed, "segment": "new"}


@pytest.fixture
def fake():
    with FakeMailchimp() as f:
        f.add_list("aud1")
        yield f


@pytest.fixture
def ws(tmp_path):
    w = create_workspace("sync", tmp_path)
    w.save_table("stores", STORES)
    return w


def set_customers(ws, rows: list[dict]) -> None:
    ws.save_table("customers", complete(pd.DataFrame(rows), CUSTOMERS))


def adapter_for(fake, **kw) -> MailchimpAdapter:
    return MailchimpAdapter(fake.api_key, base_url=fake.url + "/3.0", policy=fast_policy(**kw),
                            batch_size=2)


def put_counts(fake) -> Counter:
    """How many times each address was PUT to the audience, over every batch the provider took."""
    seen: Counter = Counter()
    for batch in fake.batches.values():
        for op in batch["_ops"]:
            if op["method"] == "PUT":
                seen[json.loads(op["body"])["email_address"]] += 1
    return seen


def rule(**kw) -> SyncRule:
    values = dict(name="welcome", provider="mailchimp", list_id="aud1", mode="radius", limit=1.0,
                  holdout=0.25, seed=3)
    values.update(kw)
    return SyncRule(**values)


def test_three_runs_send_each_eligible_new_lead_exactly_once(ws, fake):
    save_rule(ws, rule())
    base = [person(i) for i in range(3)]
    set_customers(ws, base)
    with adapter_for(fake) as ad:
        first = run_sync(ws, "welcome", ad, now=NOW)
    assert first.new == 0 and first.sent == 0 and "first run" in first.note
    assert put_counts(fake) == Counter()                 # the customers already there: baseline

    second_rows = base + [person(i) for i in range(3, 11)] + [person(11, near=False)] \
        + [person(12, opted_in=False)]
    set_customers(ws, second_rows)
    with adapter_for(fake) as ad:
        second = run_sync(ws, "welcome", ad, now=NOW)
    assert second.new == 10 and second.eligible == 8       # far one and no-consent one left out
    assert second.holdout == 2 and second.treatment == 6 and second.sent == 6
    assert second.ok

    third_rows = second_rows + [person(i) for i in range(13, 17)]
    third_rows[12] = person(12, opted_in=True)              # C012 gives consent meanwhile
    set_customers(ws, third_rows)
    with adapter_for(fake) as ad:
        third = run_sync(ws, "welcome", ad, now="2026-11-03 08:00")
        fourth = run_sync(ws, "welcome", ad, now="2026-11-04 08:00")
    assert third.new == 5 and third.eligible == 5           # 4 new + the newly consented one
    assert fourth.new == 0 and fourth.sent == 0

    campaign = load_campaign(ws, campaign_of("welcome")).targets
    treated = campaign.loc[campaign["group"] == "treatment", "email"].str.lower()
    held = campaign.loc[campaign["group"] == "holdout", "email"].str.lower()
    sent = put_counts(fake)
    assert set(sent) == set(treated) and set(sent.values()) == {1}
    assert not set(held) & set(sent)                        # the holdout never leaves the app
    assert "lead11@example.com" not in sent
    assert len(campaign) == 13 and campaign["customer_id"].is_unique
    assert campaign["coupon_code"].notna().sum() == len(treated)
    # the rule's tag per store starts the provider's automation
    assert "o2o-welcome-S1" in fake.member("aud1", treated.iloc[0])["tags"]
    # the funnel reads the running campaign like any other
    info = saved_campaign(ws, campaign_of("welcome"))
    assert info.window is not None and info.mode.value == "radius"
    assert analyse_campaign(ws, campaign_of("welcome")).stages["targeted"] == len(treated)
    runs = SyncState(state_path(ws)).runs("welcome")
    assert runs["status"].tolist() == ["done"] * 4
    assert runs.sort_values("number")["sent"].tolist() == [0, 6, third.sent, 0]


def test_interrupted_run_resumes_and_skips_who_unsubscribed_meanwhile(ws, fake):
    save_rule(ws, rule(holdout=0.0, include_existing=True))
    rows = [person(i) for i in range(6)]
    set_customers(ws, rows)
    # the first batch of two and its tags go through, then the provider stays down
    fake.inject("error", r"/3\.0/batches$", method="POST", skip=2, times=100, status=503)
    with adapter_for(fake, max_attempts=2) as ad:
        broken = run_sync(ws, "welcome", ad, now=NOW)
    assert broken.error and not broken.ok and broken.sent == 0
    assert SyncState(state_path(ws)).open_runs("welcome") == [broken.runs[0]]
    delivered = {e for e in put_counts(fake)}
    assert len(delivered) == 2
    with ExportJournal(journal_path(ws)) as jr:
        states = jr.recipients(ExportKey.of(f"sync-{broken.runs[0]}",
                                            adapter_for(fake).destination("aud1")))
    in_flight = states.loc[(states["state"] == "sent") & states["job_id"].isna(), "customer_id"]
    pending = states.loc[states["state"] == "pending", "customer_id"]
    assert len(in_flight) == 2 and len(pending) == 2
    quitters = {in_flight.iloc[0], pending.iloc[0]}      # both unsubscribe before the resume
    for r in rows:
        if r["customer_id"] in quitters:
            r["unsubscribed"] = True
    rows.append(person(20))                                   # a new lead meanwhile
    set_customers(ws, rows)
    fake.faults.clear()
    with adapter_for(fake) as ad:
        again = run_sync(ws, "welcome", ad, now=NOW)
    assert again.resumed == broken.runs and again.ok
    assert again.withdrawn == 2 and again.new == 1
    sent = put_counts(fake)
    assert set(sent.values()) == {1}                           # nobody twice
    for quitter in quitters:                                   # unsubscribed meanwhile
        assert f"lead{int(quitter[1:])}@example.com" not in sent
    assert "lead20@example.com" in sent and len(sent) == 6 - 2 + 1
    assert SyncState(state_path(ws)).open_runs("welcome") == []


def test_old_record_of_an_address_that_unsubscribed_blocks_the_new_one(ws, fake):
    save_rule(ws, rule(holdout=0.0))
    set_customers(ws, [person(5)])
    with adapter_for(fake) as ad:
        run_sync(ws, "welcome", ad, now=NOW)                       # baseline
        set_customers(ws, [person(5), person(1, unsubscribed=True, email="same@example.com"),
                           person(2, email=" SAME@example.com")])
        out = run_sync(ws, "welcome", ad, now=NOW)
    assert (out.new, out.eligible, out.sent) == (1, 0, 0)        # one address, not contactable
    assert put_counts(fake) == Counter()


def test_dry_run_saves_and_sends_nothing(ws, fake):
    save_rule(ws, rule(include_existing=True, holdout=0.0))
    set_customers(ws, [person(i) for i in range(4)])
    out = run_sync(ws, "welcome", None, dry_run=True, now=NOW)
    assert (out.new, out.eligible, out.treatment, out.sent) == (4, 4, 4, 0)
    assert SyncState(state_path(ws)).runs("welcome").empty
    assert campaign_of("welcome") not in ws.list_campaigns()
    assert fake.log == []


def test_command_prints_the_counts_and_a_second_instance_refuses(ws, fake, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(ws.root))
    monkeypatch.setenv("MAILCHIMP_API_KEY", fake.api_key)
    save_rule(ws, rule(include_existing=True, holdout=0.0))
    set_customers(ws, [person(i) for i in range(3)])
    args = ["sync", "--workspace", "sync", "--rule", "welcome", "--base-url", fake.url + "/3.0",
            "--poll-interval", "0.01", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:6] == ["new", "eligible", "treatment", "holdout", "sent", "failed"]
    assert out["sent"] == 3 and out["failed"] == 0
    with RuleLock(lock_path(ws, "welcome")):
        assert main(args) == 2
        assert "another geo sync" in capsys.readouterr().err
        with pytest.raises(SyncLocked):
            with RuleLock(lock_path(ws, "welcome")):
                pass
    assert main(args + ["--every", "1h", "--cycles", "1"]) == 0      # lock released
    assert json.loads(capsys.readouterr().out)["sent"] == 0
    assert main(["sync", "--workspace", "sync", "--rule", "nope"]) == 2


def test_provider_failure_per_recipient_exits_non_zero(ws, fake, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(ws.root))
    monkeypatch.setenv("MAILCHIMP_API_KEY", fake.api_key)
    save_rule(ws, rule(include_existing=True, holdout=0.0))
    set_customers(ws, [person(i) for i in range(3)])
    fake.invalid.add("lead1@example.com")
    assert main(["sync", "--workspace", "sync", "--rule", "welcome", "--base-url",
                 fake.url + "/3.0", "--poll-interval", "0.01"]) == 1
    assert json.loads(capsys.readouterr().out)["failed"] == 1


def test_rules_are_checked_and_kept_in_the_workspace(ws):
    save_rule(ws, rule(filters={"segments": "new,loyal"}))
    back = load_rule(ws, "welcome")
    assert back.filters.segments == ("new", "loyal") and back.tag_for("S9") == "o2o-welcome-S9"
    with pytest.raises(WorkspaceError, match="road network"):
        rule(mode="walk")
    with pytest.raises(WorkspaceError, match="holdout"):
        rule(holdout=1.0)
    with pytest.raises(WorkspaceError, match="provider"):
        rule(provider="fax")
    with pytest.raises(WorkspaceError, match="known: welcome"):
        load_rule(ws, "other")


def test_every_parses_and_loops_without_sleeping_for_real():
    assert parse_every("1h") == 3600 and parse_every("15m") == 900 and parse_every("1d") == 86400
    for bad in ("1x", "5s", "hourly"):
        with pytest.raises(GeoError):
            parse_every(bad)
    calls, sleeps, now = [], [], [0.0]

    def job() -> int:
        calls.append(1)
        now[0] += 10.0                       # each run takes ten seconds of the fake clock
        if len(calls) == 2:
            raise GeoError("provider down")  # logged; the loop goes on
        return 0

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    assert run_every(3600, job, sleep=sleep, clock=lambda: now[0], cycles=3) == 0
    assert len(calls) == 3 and sleeps == [3590.0, 3590.0]


def test_missing_key_stops_before_anything_is_drawn(ws, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(ws.root))
    monkeypatch.delenv("MAILCHIMP_API_KEY", raising=False)
    save_rule(ws, rule(include_existing=True))
    set_customers(ws, [person(i) for i in range(3)])
    assert main(["sync", "--workspace", "sync", "--rule", "welcome"]) == 2
    assert "MAILCHIMP_API_KEY" in capsys.readouterr().err
    assert SyncState(state_path(ws)).runs("welcome").empty


def test_walking_rule_on_the_demo_counts_like_reach(scratch_demo):
    from geo.workspace import open_workspace

    demo = open_workspace("demo", scratch_demo)
    save_rule(demo, SyncRule(name="walk5", provider="brevo", list_id="7", mode="walk", limit=5,
                             network="demo", holdout=0.1, include_existing=True))
    out = run_sync(demo, "walk5", None, dry_run=True, now=NOW)
    customers = demo.load_table("customers")
    assert out.new == customers["email"].str.strip().str.lower().nunique()
    assert 0 < out.eligible < out.new and out.treatment + out.holdout == out.eligible
    assert out.holdout == round(0.1 * out.eligible)          # drawn exactly, within store and band


def test_only_an_admin_runs_a_rule_and_each_run_is_audited(ws, fake):
    from geo.access import AccessDenied, Actor
    from geo.audit import read_audit

    save_rule(ws, rule(include_existing=True))
    set_customers(ws, [person(i) for i in range(4)])
    marketer = Actor("Mia", "marketer", email="m@shop.example", signed_in=True)
    with adapter_for(fake) as ad:
        with pytest.raises(AccessDenied):
            run_sync(ws, "welcome", ad, now=NOW, actor=marketer)
        assert put_counts(fake) == Counter() and read_audit(ws.root, ws.name).events.empty
        assert run_sync(ws, "welcome", None, dry_run=True, now=NOW, actor=marketer).eligible == 4
        admin = Actor("Ada", "admin", email="a@shop.example", signed_in=True)
        done = run_sync(ws, "welcome", ad, now=NOW, actor=admin)
    events = read_audit(ws.root, ws.name).events.to_dict("records")
    assert {e["who"] for e in events} == {"a@shop.example"}     # the run and its campaign
    [event] = [e for e in events if e["action"] == "automation"]
    assert event["action"] == "automation" and event["who"] == "a@shop.example"
    assert event["count"] == done.sent == 3
    assert event["details"]["provider"] == "mailchimp" and event["details"]["list"] == "aud1"
    assert event["details"]["holdout"] == 1
