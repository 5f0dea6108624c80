"""Consent per address, end to end: random lists and customer tables against the provider fakes.

An address may reach a provider only when every record of it, in today's customers
table and in the target list, consents, none of them is held out, and no record of
it has left the table. The expected set of addresses is worked out here from how
the data was generated (which base address each record belongs to), not with the
code under test.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from geo.export import dry_run, make_adapter, manual_import_frame, run_export
from geo.export.recipients import with_current_consent
from tests.fakes import fast_policy
from tests.fakes.brevo import FakeBrevo
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.mailchimp import FakeMailchimp
from tests.fakes.sendgrid import FakeSendGrid

PROVIDERS = ("mailchimp", "klaviyo", "sendgrid", "brevo")
#: base addresses: none is a substring of another, so a search in a request body is exact
BASES = [f"a{i}z@example.com" for i in range(5)]
YES = st.sampled_from([True, True, True, False])      # mostly consenting, so some pass
NO = st.sampled_from([False, False, False, True])


def spelled(base: str) -> st.SearchStrategy[str]:
    """The same address as a person might type it: any mix of case, blanks around it."""
    return st.tuples(st.lists(st.booleans(), min_size=len(base), max_size=len(base)),
                     st.sampled_from(["", " ", "\t", "  "]), st.sampled_from(["", " "])).map(
        lambda t: t[1] + "".join(c.upper() if up else c for c, up in zip(base, t[0], strict=True)) + t[2])


@st.composite
def scenarios(draw) -> dict:
    """Customers grouped by address with mixed flags, some deleted since; a shuffled list."""
    records, rows = [], []
    for i in range(draw(st.integers(1, len(BASES)))):
        for j in range(draw(st.integers(1, 3))):
            records.append({"customer_id": f"K{i}{j}", "base": BASES[i],
                            "email": draw(spelled(BASES[i])), "opted_in": draw(YES),
                            "unsubscribed": draw(NO), "deleted": draw(NO)})
    for n, r in enumerate(records):
        if draw(st.booleans()):
            rows.append({
                "customer_id": r["customer_id"], "base": r["base"],
                "email": draw(spelled(r["base"])), "first_name": f"F{n}", "store_id": "S01",
                "store_name": "Store 1", "store_address": "1 Main St", "travel_min": 4.0 + n,
                "mode": "drive", "coupon_code": f"CODE-{n:04d}", "offer_start": "2026-06-01",
                "offer_end": "2026-06-30", "tags": "store:S01",
                "group": draw(st.sampled_from(["treatment", "treatment", "holdout"])),
                "opted_in": draw(YES), "unsubscribed": draw(NO)})
    order = draw(st.permutations(range(len(rows))))
    return {"records": records, "rows": [rows[k] for k in order],
            "provider": draw(st.sampled_from(PROVIDERS))}


def expected_addresses(case: dict) -> tuple[set[str], set[str]]:
    """(addresses that may be exported, addresses held out) from the generated data."""
    banned, held, treated = set(), set(), set()
    for r in case["records"]:
        if r["deleted"] and any(t["customer_id"] == r["customer_id"] for t in case["rows"]):
            banned.add(r["base"])                      # a listed customer who left the table
        if not r["deleted"] and (not r["opted_in"] or r["unsubscribed"]):
            banned.add(r["base"])                      # a current record without consent
    for t in case["rows"]:
        if not t["opted_in"] or t["unsubscribed"]:
            banned.add(t["base"])                      # the list itself says no
        (held if t["group"] == "holdout" else treated).add(t["base"])
    return treated - banned - held, held


class Fakes:
    """One started fake per provider, a fresh list per example."""

    def __init__(self) -> None:
        self.fakes = {"mailchimp": FakeMailchimp().start(), "klaviyo": FakeKlaviyo().start(),
                      "sendgrid": FakeSendGrid().start(), "brevo": FakeBrevo().start()}
        self._ids = itertools.count(1)

    def new_list(self, provider: str):
        fake = self.fakes[provider]
        with fake.lock:
            fake.log.clear()
        if provider in ("mailchimp", "klaviyo"):
            lid = f"L{next(self._ids)}"
            fake.add_list(lid)
        else:
            lid = str(fake.add_list())
        base = fake.url + {"mailchimp": "/3.0", "brevo": "/v3"}.get(provider, "")
        adapter = make_adapter(provider, fake.api_key, base_url=base, policy=fast_policy(),
                               batch_size=3)
        return fake, lid, adapter

    def stop(self) -> None:
        for fake in self.fakes.values():
            fake.stop()


@pytest.fixture(scope="module")
def fakes():
    f = Fakes()
    yield f
    f.stop()


def uploaded(provider: str, fake) -> set[str]:
    """Addresses in the upload requests the fake received, read the provider's way."""
    if provider == "mailchimp":
        return {json.loads(op["body"])["email_address"] for r in fake.requests("POST", r"/batches$")
                for op in r.json["operations"] if "email_address" in op["body"]}
    if provider == "klaviyo":
        return {p["attributes"]["email"] for r in fake.requests("POST", r"/profile-bulk-import-jobs$")
                for p in r.json["data"]["attributes"]["profiles"]["data"]}
    if provider == "sendgrid":
        return {c["email"] for r in fake.requests("PUT", r"/marketing/contacts$")
                for c in r.json["contacts"]}
    return {c["email"] for r in fake.requests("POST", r"/contacts/import$")
            for c in r.json["jsonBody"]}


def frames(case: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(today's customers table, the target list with today's consent) of a scenario."""
    customers = pd.DataFrame([r for r in case["records"] if not r["deleted"]],
                             columns=["customer_id", "email", "opted_in", "unsubscribed"])
    targets = pd.DataFrame(case["rows"]).drop(columns="base") if case["rows"] else \
        pd.DataFrame(columns=["customer_id", "email", "group"])
    return customers, with_current_consent(targets, customers)


def _case(records: list[tuple], rows: list[tuple], provider: str = "mailchimp") -> dict:
    """A scenario written by hand: records (id, base, opted_in, unsubscribed, deleted), rows
    (id, base, group), every listed row consenting."""
    template = {"first_name": "F", "store_id": "S01", "store_name": "Store 1",
                "store_address": "1 Main St", "travel_min": 4.0, "mode": "drive",
                "offer_start": "2026-06-01", "offer_end": "2026-06-30", "tags": "store:S01",
                "opted_in": True, "unsubscribed": False}
    return {"provider": provider,
            "records": [{"customer_id": c, "base": BASES[b], "email": BASES[b].upper(),
                         "opted_in": o, "unsubscribed": u, "deleted": d}
                        for c, b, o, u, d in records],
            "rows": [{**template, "customer_id": c, "base": BASES[b], "email": f" {BASES[b]}",
                      "group": g, "coupon_code": f"CODE-{n:04d}"}
                     for n, (c, b, g) in enumerate(rows)]}


#: the traps spelled out, so every run meets them: an unlisted record of the address
#: unsubscribed; an unlisted record not opted in; another record held out; a listed
#: record deleted since
EXAMPLES = [
    _case([("K0", 0, True, False, False), ("K1", 0, True, True, False), ("K2", 1, True, False, False)],
          [("K0", 0, "treatment"), ("K2", 1, "treatment")], "mailchimp"),
    _case([("K0", 0, True, False, False), ("K1", 0, False, False, False), ("K2", 1, True, False, False)],
          [("K0", 0, "treatment"), ("K2", 1, "treatment")], "klaviyo"),
    _case([("K0", 0, True, False, False), ("K1", 0, True, False, False), ("K2", 1, True, False, False)],
          [("K0", 0, "treatment"), ("K1", 0, "holdout"), ("K2", 1, "treatment")], "sendgrid"),
    _case([("K0", 0, True, False, False), ("K1", 0, True, False, True), ("K2", 1, True, False, False)],
          [("K0", 0, "treatment"), ("K1", 0, "treatment"), ("K2", 1, "treatment")], "brevo"),
]


def with_examples(test):
    for case in EXAMPLES:
        test = example(case=case)(test)
    return test


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@with_examples
@given(case=scenarios())
def test_import_files_and_dry_run_hold_only_fully_consenting_addresses(case):
    allowed, _ = expected_addresses(case)
    _, now = frames(case)
    provider = case["provider"]
    assert set(manual_import_frame(now, provider).iloc[:, 0]) == allowed
    assert dry_run(now, make_adapter(provider), "1").summary["recipients"] == len(allowed)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@with_examples
@given(case=scenarios())
def test_uploads_carry_only_fully_consenting_addresses(fakes, case):
    allowed, held = expected_addresses(case)
    everyone = {r["base"] for r in case["records"]}
    _, now = frames(case)
    provider = case["provider"]
    fake, lid, adapter = fakes.new_list(provider)
    with adapter:
        assert dry_run(now, adapter, lid).summary["recipients"] == len(allowed)
        assert fake.log == []                           # the dry run sent nothing
        with tempfile.TemporaryDirectory() as tmp:
            result = run_export(now, adapter, lid, journal=Path(tmp) / "journal.sqlite")
    assert result.complete
    assert result.counts().get("accepted", 0) == len(allowed)
    assert uploaded(provider, fake) == allowed
    assert not held & uploaded(provider, fake)
    # nothing else of the others anywhere in what the fake received, hashed or not
    sent = b"\n".join(r.path.encode() + r.body for r in fake.log)
    for base in everyone - allowed:
        assert base.encode() not in sent and hashlib.md5(base.encode()).hexdigest().encode() \
            not in sent, f"{base} reached {provider}"
