"""Domain helpers behind the Export page: consent re-check, journal state, report bytes."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from geo.errors import DataError
from geo.export import (
    ExportJournal,
    dry_run,
    journal_state,
    make_adapter,
    prepare_targets,
    run_export,
    with_current_consent,
)
from tests.fakes import fast_policy, make_targets
from tests.fakes.brevo import FakeBrevo


def _customers(targets: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": targets["customer_id"], "email": targets["email"],
                         "opted_in": True, "unsubscribed": False})


def test_current_consent_refuses_who_withdrew_since_the_list_was_built():
    t = make_targets(4).drop(columns=["opted_in", "unsubscribed"])
    customers = _customers(t)
    customers.loc[customers["customer_id"] == "C001", "unsubscribed"] = True
    customers.loc[customers["customer_id"] == "C002", "opted_in"] = False
    customers = customers[customers["customer_id"] != "C003"]            # deleted since
    p = prepare_targets(with_current_consent(t, customers))
    assert sorted(p.eligible["customer_id"]) == ["C000", "N1", "U1"]      # list had no flags
    why = p.skipped.set_index("customer_id")["reason"]
    assert why["C001"] == "no consent now: customer C001 has unsubscribed"
    assert why["C002"] == "no consent now: customer C002 is not opted in"
    assert why["C003"] == "no consent now: customer C003 is no longer in the customers table"
    assert why["H1"] == "holdout group: never exported"


def test_current_consent_is_decided_by_every_record_of_an_address():
    t = make_targets(4).drop(columns=["opted_in", "unsubscribed"])
    customers = pd.concat([_customers(t), pd.DataFrame({
        "customer_id": ["X1", "X2", "X3"],          # other records of C000's and C001's addresses
        "email": [" PERSON0@example.COM", "person1@EXAMPLE.com ", "person1@example.com"],
        "opted_in": [True, False, True], "unsubscribed": [True, False, False]})])
    customers.loc[customers["customer_id"] == "C002", "email"] = "moved@example.com"
    p = prepare_targets(with_current_consent(t, customers))
    assert sorted(p.eligible["customer_id"]) == ["C003", "N1", "U1"]
    why = p.skipped.set_index("customer_id")["reason"]
    assert why["C000"] == "no consent now: customer X1, same address, has unsubscribed"
    assert why["C001"] == "no consent now: customer X2, same address, is not opted in"
    assert why["C002"] == "no consent now: the address is no longer in the customers table"
    # a customer with consent whose address has a record without it: still refused
    assert not with_current_consent(t, customers).set_index("customer_id").loc["C000", "opted_in"]
    with pytest.raises(DataError, match="customers, column 'email'.*every customer record"):
        with_current_consent(t, customers.drop(columns="email"))


def test_the_list_decides_per_address_too():
    t = make_targets(3)
    extra = t.iloc[[0, 1, 2, 2]].assign(
        customer_id=["D0", "D1", "D2", "D3"],
        email=["person0@EXAMPLE.com", " Person1@example.com", "PERSON2@example.com",
               "person2@example.com "],
        group=["treatment", "holdout", "treatment", "treatment"],
        opted_in=[False, True, True, True])
    p = prepare_targets(pd.concat([t, extra], ignore_index=True))
    assert p.eligible["customer_id"].tolist() == ["C002"]
    why = p.skipped.set_index("customer_id")
    assert why.loc["C000", "reason"] == \
        "no consent: another record of the address (customer D0) has none"
    assert why.loc["C001", "state"] == "excluded"
    assert why.loc["C001", "reason"] == \
        "address in the holdout: customer D1 with the same address is held out"
    assert why.loc["D2", "reason"] == "second record of an address: customer C002 represents it"
    assert why.loc["D3", "rule"] == "second record of an address"


def test_current_consent_never_grants_what_the_list_refused():
    t = make_targets(2)                                       # N1 not opted in, U1 unsubscribed
    out = with_current_consent(t, _customers(t))              # the table says everyone consents
    p = prepare_targets(out)
    assert set(p.skipped["customer_id"]) == {"H1", "N1", "U1", "B1"}
    assert with_current_consent(t, None) is t
    assert with_current_consent(t, t[["customer_id", "email"]]) is t


def test_journal_state_follows_an_export_and_creates_no_file(tmp_path):
    path = tmp_path / "exports" / "journal.sqlite"
    with FakeBrevo() as fake:
        lid = str(fake.add_list("O2O"))
        adapter = make_adapter("brevo", fake.api_key, base_url=fake.url + "/v3",
                               policy=fast_policy())
        t = make_targets(5)
        plan = dry_run(t, adapter, lid, journal=path)
        export_id, where = plan.summary["export_id"], adapter.destination(lid)
        assert (plan.summary["api_root"], plan.summary["account"]) == where[1:3]
        assert journal_state(path, export_id, where) == {}
        assert not path.exists()
        result = run_export(t, adapter, lid, journal=path)
        assert result.export_id == export_id and result.destination == where
        assert journal_state(path, export_id, where) == {"accepted": 5}
        with ExportJournal(path) as jr:
            assert journal_state(jr, export_id, where) == {"accepted": 5}
        assert journal_state(path, "other", where) == {}
        assert journal_state(path, export_id, where._replace(account="key:other")) == {}
        again = dry_run(t, adapter, lid, journal=path).summary
        assert again["already_in_journal"] == {"accepted": 5}
        report = pd.read_csv(io.BytesIO(result.report_csv()))
        assert report["status"].value_counts().to_dict() == {"accepted": 5, "excluded": 1,
                                                              "refused": 2, "failed": 1}
        adapter.close()


def test_result_counts_accepted_members_who_keep_a_status(tmp_path):
    from geo.export import MailchimpAdapter
    from tests.fakes.mailchimp import FakeMailchimp

    with FakeMailchimp() as fake:
        fake.add_list("aud1")
        fake.seed_member("aud1", "person1@example.com", status="unsubscribed")
        adapter = MailchimpAdapter(fake.api_key, base_url=fake.url + "/3.0", policy=fast_policy())
        result = run_export(make_targets(3), adapter, "aud1", journal=tmp_path / "j.sqlite")
        adapter.close()
    assert result.summary["accepted"] == 3
    notes = result.summary["accepted_notes"]
    assert notes == {"kept status unsubscribed: will not receive campaigns": 1}
    assert fake.member("aud1", "person1@example.com")["status"] == "unsubscribed"
