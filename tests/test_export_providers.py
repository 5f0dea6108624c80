"""Scenarios every provider adapter must pass against its loopback fake: end state, faults, resume."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from geo.export import (
    BrevoAdapter,
    ExportError,
    ExportJournal,
    ExportKey,
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

N = 10          # consented treatment recipients in make_targets()
BATCH = 4       # -> 3 upload jobs


@dataclass
class Harness:
    """A provider fake plus how to read its end state in one shape."""

    name: str
    fake: object
    list_id: str
    make: Callable[..., object]
    record: Callable[[str], dict | None]
    submit: tuple[str, str]            # method, path regex of a job submission
    poll: str                           # path regex of a job poll
    submits_per_batch: int = 1

    def adapter(self, policy=None, **kw):
        return self.make(self.fake.api_key, base_url=self.base(), policy=policy or fast_policy(),
                         batch_size=BATCH, **kw)

    def base(self) -> str:
        return self.fake.url + {"mailchimp": "/3.0", "brevo": "/v3"}.get(self.name, "")

    def submissions(self) -> int:
        return len(self.fake.requests(*self.submit))


def _mailchimp(list_id: str = "aud1") -> Harness:
    fake = FakeMailchimp().start()
    fake.add_list(list_id)

    def record(email):
        m = fake.member(list_id, email)
        return m and {"first_name": m["merge_fields"].get("FNAME"), "store": m["merge_fields"].get("STORE"),
                      "minutes": m["merge_fields"].get("TRAVELMIN"),
                      "coupon": m["merge_fields"].get("COUPON"), "in_list": True, "tags": m["tags"]}
    return Harness("mailchimp", fake, list_id, MailchimpAdapter, record, ("POST", r"/batches$"),
                   r"/batches/", submits_per_batch=2)


def _klaviyo(list_id: str = "Xy12") -> Harness:
    fake = FakeKlaviyo().start()
    fake.add_list(list_id)

    def record(email):
        p = fake.profiles.get(email)
        return p and {"first_name": p["first_name"], "store": p["properties"].get("nearest_store"),
                      "minutes": p["properties"].get("travel_minutes"),
                      "coupon": p["properties"].get("coupon_code"), "in_list": list_id in p["lists"],
                      "tags": p["properties"].get("esp_tags")}
    return Harness("klaviyo", fake, list_id, KlaviyoAdapter, record,
                   ("POST", r"/profile-bulk-import-jobs$"), r"/profile-bulk-import-jobs/[^/]+$")


def _sendgrid(list_id: str | None = None) -> Harness:
    fake = FakeSendGrid().start()
    lid = fake.add_list("O2O", list_id)

    def record(email):
        c = fake.contacts.get(email)
        return c and {"first_name": c.get("first_name"), "store": fake.field_value(email, "nearest_store"),
                      "minutes": fake.field_value(email, "travel_minutes"),
                      "coupon": fake.field_value(email, "coupon_code"), "in_list": lid in c["list_ids"],
                      "tags": fake.field_value(email, "tags").split(",")}
    return Harness("sendgrid", fake, lid, SendGridAdapter, record, ("PUT", r"/marketing/contacts$"),
                   r"/contacts/imports/")


def _brevo(list_id: str | None = None) -> Harness:
    fake = FakeBrevo().start()
    lid = fake.add_list("O2O", None if list_id is None else int(list_id))

    def record(email):
        c = fake.contacts.get(email)
        a = c and c["attributes"]
        return c and {"first_name": a.get("FIRSTNAME"), "store": a.get("NEAREST_STORE"),
                      "minutes": a.get("TRAVEL_MINUTES"), "coupon": a.get("COUPON_CODE"),
                      "in_list": lid in c["listIds"], "tags": a.get("TAGS", "").split(",")}
    return Harness("brevo", fake, str(lid), BrevoAdapter, record, ("POST", r"/contacts/import$"),
                   r"/processes/")


HARNESSES = {"mailchimp": _mailchimp, "klaviyo": _klaviyo, "sendgrid": _sendgrid, "brevo": _brevo}


@pytest.fixture(params=sorted(HARNESSES))
def h(request):
    harness = HARNESSES[request.param]()
    yield harness
    harness.fake.stop()


def expected(i: int) -> dict:
    return {"first_name": f"P{i}", "store": f"Store {i % 3}", "minutes": int(np.rint(3.4 + i)),
            "coupon": f"CODE-{i:04d}", "in_list": True}


def assert_end_state(h: Harness) -> None:
    for i in range(N):
        rec = h.record(f"person{i}@example.com")
        assert rec is not None, f"person{i} missing at {h.name}"
        assert {k: rec[k] for k in expected(i)} == expected(i)
        assert f"store:S{i % 3:02d}" in rec["tags"] and "segment:loyal" in rec["tags"]
    for email in ("holdout@example.com", "noconsent@example.com", "unsub@example.com", "not-an-email"):
        assert h.record(email) is None, f"{email} must never be exported"


def test_export_reaches_the_documented_end_state(h, tmp_path):
    result = run_export(make_targets(), h.adapter(), h.list_id, journal=tmp_path / "j.sqlite")
    assert result.complete
    assert result.counts() == {"accepted": N, "refused": 2, "excluded": 1, "failed": 1}
    assert_end_state(h)
    assert h.submissions() == 3 * h.submits_per_batch  # 10 recipients at 4 per job
    rows = result.report.set_index("customer_id")
    assert rows.loc["H1", "status"] == "excluded" and "holdout" in rows.loc["H1", "reason"]
    assert rows.loc["N1", "status"] == "refused" and "consent" in rows.loc["N1", "reason"]
    assert rows.loc["B1", "status"] == "failed" and "invalid email" in rows.loc["B1", "reason"]


def test_repeated_export_sends_nothing(h, tmp_path):
    journal = tmp_path / "j.sqlite"
    first = run_export(make_targets(), h.adapter(), h.list_id, journal=journal)
    seen = len(h.fake.log)
    again = run_export(make_targets(), h.adapter(), h.list_id, journal=journal)
    assert len(h.fake.log) == seen, "a finished export must make no request at all"
    assert not again.sent_requests and again.complete
    pd.testing.assert_frame_equal(first.report, again.report)


def test_faults_are_retried_and_converge(h, tmp_path):
    sleeps = Sleeps()
    h.fake.inject("throttle", h.submit[1], method=h.submit[0], times=2)
    h.fake.inject("drop", h.submit[1], method=h.submit[0], skip=1)      # applied, answer lost
    h.fake.inject("error", h.poll, status=500, times=1)
    h.fake.inject("error", h.poll, status=503, skip=2)
    h.fake.inject("slow", h.poll, delay=0.8, skip=3)                    # > 0.5 s client timeout
    result = run_export(make_targets(), h.adapter(fast_policy(sleeps)), h.list_id,
                        journal=tmp_path / "j.sqlite")
    assert result.complete and result.counts()["accepted"] == N
    assert_end_state(h)
    assert sleeps, "retries must wait (through the injected sleep)"
    hint = {"mailchimp": 1.0, "klaviyo": 1.0, "brevo": 1.0}.get(h.name)
    if hint is not None:   # Retry-After / x-sib-ratelimit-reset honoured
        assert sleeps.count(hint) >= 2
    else:                  # SendGrid: X-RateLimit-Reset epoch, 2 s ahead
        assert sum(0.5 < s <= 2.0 for s in sleeps) >= 2


def test_interrupted_export_resumes_without_resubmitting(h, tmp_path):
    journal = tmp_path / "j.sqlite"
    h.fake.inject("error", h.poll, status=500, times=1)
    with pytest.raises(ExportError, match="HTTP 500"):
        run_export(make_targets(), h.adapter(fast_policy(max_attempts=1)), h.list_id, journal=journal)
    with ExportJournal(journal) as jr:
        key = ExportKey(*jr.exports().iloc[0][list(ExportKey._fields)])
        states = jr.recipients(key)["state"].value_counts().to_dict()
        assert states == {"sent": BATCH, "pending": N - BATCH}
    assert h.submissions() == 1
    result = run_export(make_targets(), h.adapter(), h.list_id, journal=journal)
    assert result.complete and result.counts()["accepted"] == N
    assert h.submissions() == 3 * h.submits_per_batch, "the submitted job must be polled, not resent"
    assert_end_state(h)


def test_job_that_fails_is_reported(h, tmp_path):
    if h.name == "mailchimp":
        pytest.skip("Mailchimp batches have no failed state; per-operation errors are tested")
    h.fake.__dict__["cancel_jobs" if h.name == "klaviyo" else "fail_jobs"] = True
    result = run_export(make_targets(), h.adapter(), h.list_id, journal=tmp_path / "j.sqlite")
    failed = result.report[result.report["customer_id"].str.startswith("C")]
    assert (failed["status"] == "failed").all()
    assert failed["reason"].str.contains("cancelled|failed").all()
    assert result.complete and result.failed == N + 1


def test_provider_rejects_one_address_and_the_rest_succeed(h, tmp_path):
    h.fake.invalid.add("person3@example.com")
    result = run_export(make_targets(), h.adapter(), h.list_id, journal=tmp_path / "j.sqlite")
    rows = result.report.set_index("email")
    assert rows.loc["person3@example.com", "status"] == "failed"
    assert rows.loc["person3@example.com", "reason"]
    assert (rows.loc[[f"person{i}@example.com" for i in range(N) if i != 3], "status"] == "accepted").all()
    assert h.record("person3@example.com") is None


def test_api_key_never_leaks(h, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    key = h.fake.api_key
    h.fake.inject("throttle", h.submit[1], method=h.submit[0])
    h.fake.inject("drop", h.poll)
    h.fake.invalid.add("person5@example.com")
    journal = tmp_path / "exports" / "j.sqlite"
    adapter = h.adapter()
    result = run_export(make_targets(), adapter, h.list_id, journal=journal)
    result.to_csv(tmp_path / "report.csv")
    wrong = key[:-3] + "zz" + key[-1]
    with pytest.raises(ExportError) as err:
        h.make(wrong, base_url=h.base(), policy=fast_policy()).list_lists()
    assert "401" in str(err.value)
    texts = [caplog.text, repr(adapter), str(adapter.http), str(err.value), repr(err.value),
             (tmp_path / "report.csv").read_text()]
    texts += [p.read_bytes().decode("latin-1") for p in (tmp_path / "exports").iterdir()]
    for text in texts:
        assert key not in text and wrong not in text


def test_lists_are_listed_for_the_chooser(h):
    lists = h.adapter().list_lists()
    assert list(lists.columns) == ["id", "name", "members"]
    assert h.list_id in lists["id"].tolist()


def test_each_destination_gets_the_campaign_and_a_rerun_is_a_no_op(h, tmp_path):
    journal = tmp_path / "j.sqlite"
    other = HARNESSES[h.name](h.list_id)       # another server (API root), a list of the same id
    try:
        assert other.base() != h.base() and other.list_id == h.list_id
        first = run_export(make_targets(), h.adapter(), h.list_id, journal=journal)
        second = run_export(make_targets(), other.adapter(), other.list_id, journal=journal)
        assert first.export_id == second.export_id                  # one campaign ...
        assert first.destination.api_root != second.destination.api_root   # ... two places
        assert second.sent_requests and second.complete and second.counts()["accepted"] == N
        assert_end_state(h)
        assert_end_state(other)
        assert other.submissions() == h.submissions() == 3 * h.submits_per_batch
        seen = len(h.fake.log), len(other.fake.log)
        again = run_export(make_targets(), h.adapter(), h.list_id, journal=journal)
        assert not again.sent_requests and again.complete
        assert (len(h.fake.log), len(other.fake.log)) == seen     # resumed: nothing to send
        with ExportJournal(journal) as jr:
            exports = jr.exports()
        assert len(exports) == 2 and set(exports["accepted"]) == {N}
        assert h.fake.api_key not in exports.to_csv()
    finally:
        other.fake.stop()


def test_another_account_on_the_same_server_is_another_destination(tmp_path):
    journal = tmp_path / "exports" / "j.sqlite"
    with FakeBrevo() as fake:
        lid = str(fake.add_list("O2O"))
        first_key, second_key = fake.api_key, "xkeysib-second-account-fedcba9876543210"

        def export(key):
            adapter = BrevoAdapter(key, base_url=fake.url + "/v3", policy=fast_policy())
            return run_export(make_targets(), adapter, lid, journal=journal)
        first = export(first_key)
        fake.api_key = second_key          # the same server now answers for another account,
        fake.contacts.clear()              # whose list of the same id is empty
        second = export(second_key)
        assert first.destination.account != second.destination.account
        assert first.destination.api_root == second.destination.api_root
        assert second.sent_requests and second.counts()["accepted"] == N
        assert {f"person{i}@example.com" for i in range(N)} <= set(fake.contacts)
        writes = len(fake.writes())
        assert not export(second_key).sent_requests and len(fake.writes()) == writes
        stored = journal.read_bytes() + b"".join(p.read_bytes() for p in journal.parent.iterdir())
        assert first_key.encode() not in stored and second_key.encode() not in stored
