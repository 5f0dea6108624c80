"""Domain helpers behind the Export page: consent re-check, journal state, report bytes."""

from __future__ import annotations

import io

import pandas as pd

from geo.export import (ExportJournal, dry_run, journal_state, make_adapter, prepare_targets,
                        run_export, with_current_consent)
from tests.fakes import fast_policy, make_targets
from tests.fakes.brevo import FakeBrevo


def _customers(targets: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": targets["customer_id"], "opted_in": True,
                         "unsubscribed": False})


def test_current_consent_refuses_who_withdrew_since_the_list_was_built():
    t = make_targets(4).drop(columns=["opted_in", "unsubscribed"])
    customers = _customers(t)
    customers.loc[customers["customer_id"] == "C001", "unsubscribed"] = True
    customers.loc[customers["customer_id"] == "C002", "opted_in"] = False
    customers = customers[customers["customer_id"] != "C003"]            # deleted since
    p = prepare_targets(with_current_consent(t, customers))
    assert sorted(p.eligible["customer_id"]) == ["C000", "N1", "U1"]      # list had no flags
    why = p.skipped.set_index("customer_id")["reason"]
    assert why["C001"] == "no consent: unsubscribed"
    assert why["C002"] == "no consent: opted_in is not true"
    assert why["C003"] == "no consent: opted_in is not true"
    assert why["H1"] == "holdout group: never exported"


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
        export_id = plan.summary["export_id"]
        assert journal_state(path, export_id, "brevo", lid) == {}
        assert not path.exists()
        result = run_export(t, adapter, lid, journal=path)
        assert result.export_id == export_id
        assert journal_state(path, export_id, "brevo", lid) == {"accepted": 5}
        with ExportJournal(path) as jr:
            assert journal_state(jr, export_id, "brevo", lid) == {"accepted": 5}
        assert journal_state(path, "other", "brevo", lid) == {}
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
