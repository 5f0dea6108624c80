"""Consent traps per provider: opted-out people keep their state, and no call could re-subscribe them."""

from __future__ import annotations

import json

import pytest

from geo.export import (
    BrevoAdapter,
    ExportError,
    KlaviyoAdapter,
    MailchimpAdapter,
    SendGridAdapter,
    run_export,
)
from tests.fakes import Sleeps, fast_policy, make_targets
from tests.fakes.brevo import FakeBrevo
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.mailchimp import FakeMailchimp
from tests.fakes.sendgrid import FakeSendGrid


@pytest.fixture
def mailchimp():
    with FakeMailchimp() as fake:
        fake.add_list("aud1")
        yield fake


def test_mailchimp_never_sends_status_and_keeps_opt_outs(mailchimp, tmp_path):
    fake = mailchimp
    fake.seed_member("aud1", "person1@example.com", "unsubscribed", STORE="old")
    fake.seed_member("aud1", "person2@example.com", "cleaned")
    fake.forget("aud1", "person4@example.com")
    adapter = MailchimpAdapter(fake.api_key, base_url=fake.url + "/3.0", policy=fast_policy())
    result = run_export(make_targets(), adapter, "aud1", journal=tmp_path / "j.sqlite")

    assert fake.member("aud1", "person1@example.com")["status"] == "unsubscribed"
    assert fake.member("aud1", "person1@example.com")["merge_fields"]["STORE"] == "Store 1"
    assert fake.member("aud1", "person2@example.com")["status"] == "cleaned"
    assert fake.member("aud1", "person0@example.com")["status"] == "subscribed"  # new, consented
    assert fake.member("aud1", "person4@example.com") is None
    assert fake.status_changes == []
    for req in fake.requests("POST", r"/batches$"):
        for op in req.json["operations"]:
            assert "status" not in json.loads(op["body"]), "only status_if_new may be sent"
    rows = result.report.set_index("email")
    assert "permanently deleted" in rows.loc["person4@example.com", "reason"]
    assert rows.loc["person4@example.com", "status"] == "failed"
    assert "unsubscribed" in rows.loc["person1@example.com", "outcome"]
    assert set(fake.member("aud1", "person1@example.com")["tags"]) >= {"store:S01", "segment:loyal"}


def test_mailchimp_creates_missing_merge_fields_once(mailchimp, tmp_path):
    adapter = MailchimpAdapter(mailchimp.api_key, base_url=mailchimp.url + "/3.0", policy=fast_policy())
    fields = adapter.ensure_fields("aud1")
    assert set(fields.loc[fields["created"], "provider_field"]) == {
        "STORE", "STOREADDR", "TRAVELMIN", "COUPON", "OFFERSTART", "OFFEREND"}
    assert mailchimp.lists["aud1"]["merge_fields"]["TRAVELMIN"]["type"] == "number"
    assert not adapter.ensure_fields("aud1")["created"].any()


def test_mailchimp_wrong_data_center_is_a_clear_error(mailchimp):
    key = mailchimp.api_key
    mailchimp.api_key = key[:-3] + "us9"
    adapter = MailchimpAdapter(mailchimp.api_key, base_url=mailchimp.url + "/3.0", policy=fast_policy())
    with pytest.raises(ExportError, match="403.*datacenter"):
        adapter.list_lists()
    with pytest.raises(ExportError, match="data-center suffix"):
        MailchimpAdapter("nodc", policy=fast_policy()).list_lists()


def test_mailchimp_concurrency_limit_429_is_retried(mailchimp, tmp_path):
    mailchimp.max_concurrency = 0      # every request is over the limit ...
    sleeps = Sleeps()
    adapter = MailchimpAdapter(mailchimp.api_key, base_url=mailchimp.url + "/3.0",
                               policy=fast_policy(sleeps, max_attempts=3))
    with pytest.raises(ExportError, match="429"):
        adapter.list_lists()
    assert sleeps == [1.0, 1.0]        # ... and Retry-After was honoured between attempts


def test_klaviyo_never_calls_subscribe_and_keeps_suppressions(tmp_path):
    with FakeKlaviyo() as fake:
        fake.add_list("L1")
        fake.seed_profile("person1@example.com", consent="UNSUBSCRIBED", suppressed=True)
        result = run_export(make_targets(), KlaviyoAdapter(fake.api_key, base_url=fake.url,
                                                           policy=fast_policy()), "L1",
                            journal=tmp_path / "j.sqlite")
        assert result.complete
        assert fake.requests(path="subscription") == []
        p = fake.profiles["person1@example.com"]
        assert (p["consent"], p["suppressed"]) == ("UNSUBSCRIBED", True)
        assert p["properties"]["coupon_code"] == "CODE-0001"
        assert fake.profiles["person0@example.com"]["consent"] == "NEVER_SUBSCRIBED"
        assert all(r.headers.get("revision") for r in fake.log)


def test_klaviyo_import_errors_are_read_across_pages(tmp_path):
    with FakeKlaviyo() as fake:
        fake.add_list("L1")
        fake.invalid.update(f"person{i}@example.com" for i in range(0, 10, 2))
        adapter = KlaviyoAdapter(fake.api_key, base_url=fake.url, policy=fast_policy())
        adapter.error_page_size = 2
        result = run_export(make_targets(), adapter, "L1", journal=tmp_path / "j.sqlite")
        failed = result.report[result.report["status"] == "failed"]
        assert sorted(failed["email"]) == sorted(
            [f"person{i}@example.com" for i in range(0, 10, 2)] + ["not-an-email"])
        assert len(fake.requests("GET", "/import-errors")) == 3   # 5 errors, 2 per page


def test_sendgrid_waits_for_new_fields_and_leaves_suppressions(tmp_path):
    with FakeSendGrid() as fake:
        lid = fake.add_list()
        fake.not_ready_puts = 2
        fake.suppressed.add("person1@example.com")
        sleeps = Sleeps()
        result = run_export(make_targets(), SendGridAdapter(fake.api_key, base_url=fake.url,
                                                            policy=fast_policy(sleeps)), lid,
                            journal=tmp_path / "j.sqlite")
        assert result.complete and result.counts()["accepted"] == 10
        assert len(fake.requests("PUT", "/marketing/contacts$")) == 3   # 2 refused, 1 accepted
        assert "person1@example.com" in fake.suppressed
        assert not [r for r in fake.log if "/asm/" in r.path and r.method != "GET"]
        assert fake.field_value("person0@example.com", "travel_minutes") == 3


def test_brevo_never_unblocks_and_finds_localized_first_name(tmp_path):
    with FakeBrevo(localized=True) as fake:
        lid = fake.add_list()
        fake.seed_contact("person1@example.com", blocklisted=True, NEAREST_STORE="old")
        fake.invalid.add("person2@example.com")
        result = run_export(make_targets(), BrevoAdapter(fake.api_key, base_url=fake.url + "/v3",
                                                         policy=fast_policy()), str(lid),
                            journal=tmp_path / "j.sqlite")
        c = fake.contacts["person1@example.com"]
        assert c["emailBlacklisted"] is True and c["attributes"]["NEAREST_STORE"] == "Store 1"
        for req in fake.writes():
            assert b"emailBlacklist" not in req.body
        assert fake.contacts["person0@example.com"]["attributes"]["PRENOM"] == "P0"
        rows = result.report.set_index("email")
        assert rows.loc["person2@example.com", "status"] == "failed"
        assert "blocklisted" in rows.loc["person1@example.com", "outcome"]
        assert "TRAVEL_MINUTES" in fake.attributes and fake.attributes["TRAVEL_MINUTES"]["type"] == "float"


def test_brevo_list_ids_must_be_integers():
    with pytest.raises(ExportError, match="integers"):
        BrevoAdapter("k").payload("abc", make_targets().head(0))
