"""Records that share an e-mail address: every record is kept, consent is judged per address.

The rule that does not bend: an address is targeted, exported or written to a
download only if every record of it opted in and none unsubscribed. These
tests build customer files with groups of records sharing an address (case and
surrounding blanks differ) and every mix of consent flags, then follow them
through validation, import, reach, the target list and every download layout,
and the command line.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.cli import main
from geo.data.ingest import check_file, import_file
from geo.data.schema import CUSTOMERS
from geo.data.tables import complete
from geo.export.downloads import download
from geo.keys import email_keys
from geo.targeting.reach import reach
from geo.targeting.targets import build_target_list
from geo.workspace import create_workspace

STORES = pd.DataFrame({"store_id": ["S1", "S2"], "name": ["North", "South"],
                       "lat": [60.170, 60.160], "lon": [24.940, 24.950]})
FLAGS = [("yes", "no"), ("no", "no"), ("yes", "yes"), ("0", "no"), ("yes", ""), ("true", "1")]
"""(opted_in, unsubscribed) cells as files hold them: yes/no, 1/0, true, a blank unsubscribed."""


def spelling(key: str, variant: int) -> str:
    """The same address as another record might hold it: case and surrounding blanks differ."""
    return [key, key.upper(), f"  {key.title()} ", f"{key} "][variant % 4]


@st.composite
def customer_files(draw) -> pd.DataFrame:
    """A customers table whose addresses are each held by one to four records."""
    n_addresses = draw(st.integers(1, 8))
    rows = []
    for a in range(n_addresses):
        key = f"person{a}@example.com"
        for r in range(draw(st.integers(1, 4))):
            opted, unsub = draw(st.sampled_from(FLAGS))
            rows.append({"customer_id": f"c{len(rows)}", "email": spelling(key, r),
                         "first_name": "Ann", "lat": 60.165 + 0.001 * (len(rows) % 5),
                         "lon": 24.945, "opted_in": opted, "unsubscribed": unsub})
    return pd.DataFrame(rows)


def consenting_keys(raw: pd.DataFrame) -> set[str]:
    """Addresses every record of which opted in and none unsubscribed (computed independently)."""
    ok = {}
    for email, opted, unsub in raw[["email", "opted_in", "unsubscribed"]].itertuples(index=False):
        key = email.strip().lower()
        ok[key] = ok.get(key, True) and opted in ("yes", "true") and unsub not in ("yes", "1")
    return {k for k, v in ok.items() if v}


def emails_in(data: bytes, fmt: str) -> set[str]:
    """Every e-mail key in a download (CSV or XLSX), whatever the column is called."""
    frame = (pd.read_excel(io.BytesIO(data), dtype=str) if fmt == "xlsx"
             else pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig"))
    cells = pd.Series(frame.to_numpy().ravel(), dtype="string")
    return set(email_keys(cells[cells.str.contains("@", na=False)]).dropna())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=customer_files(), holdout=st.sampled_from([0.0, 0.3]))
def test_no_address_with_a_non_consenting_record_is_targeted_or_written(raw, holdout, tmp_path):
    text = raw.to_csv(index=False).encode()
    report = check_file(text, "customers", name="c.csv")
    assert len(report.valid) == len(raw) and report.errors.empty  # every record kept
    groups = raw["email"].str.strip().str.lower().value_counts()
    assert report.shared_groups == int((groups > 1).sum())

    customers = complete(report.valid.drop(columns="_row"), CUSTOMERS)
    from geo.catchments.assign import radius_assign
    assignment = radius_assign(STORES, customers, 5.0)
    result = reach(customers, assignment, STORES, bands=[5.0], mode="radius", holdout=holdout)
    allowed = consenting_keys(raw)
    targets = result.targets
    assert set(targets["email_key"]) == allowed            # all within 5 km: each good one once
    assert targets["email_key"].is_unique
    assert len(result.second_records) == result.waterfall.set_index("stage").loc[
        "one_per_email", "removed"]
    assert set(result.second_records["email_key"]) <= allowed

    listed = build_target_list(targets, STORES, mode="radius", offer_start="2026-10-01",
                               offer_end="2026-10-03")
    treated = set(email_keys(listed.loc[listed["group"] == "treatment", "email"]))
    for layout in ("targets", "mailchimp", "klaviyo"):
        for fmt in ("csv", "xlsx"):
            found = emails_in(download(listed, layout=layout, fmt=fmt), fmt)
            assert found <= allowed, (layout, fmt)
            if layout != "targets":
                assert found == treated  # provider files: treatment only, never the holdout


def test_import_keeps_every_record_of_a_shared_address(tmp_path):
    raw = pd.DataFrame({"customer_id": ["a", "b", "c"],
                        "email": ["ann@x.com", " ANN@x.com", "bob@x.com"], "first_name": "A",
                        "lat": 60.1, "lon": 24.9, "opted_in": ["yes", "yes", "yes"],
                        "unsubscribed": ["no", "yes", "no"]})
    ws = create_workspace("w", tmp_path)
    report = import_file(raw.to_csv(index=False).encode(), "customers", ws, name="c.csv")
    stored = ws.load_table("customers")
    assert stored["customer_id"].tolist() == ["a", "b", "c"] and report.shared_groups == 1
    from geo.data.consent import contactable
    assert contactable(stored).tolist() == [False, False, True]  # b unsubscribed for both


@pytest.fixture()
def shared_files(tmp_path) -> dict:
    """Stores and a customer file where two of three shared addresses must never be mailed."""
    STORES.to_csv(tmp_path / "stores.csv", index=False)
    raw = pd.DataFrame({
        "customer_id": ["1", "2", "3", "4", "5", "6", "7"],
        "email": ["ann@x.com", "Ann@X.com ", "bob@x.com", " BOB@x.com", "cy@x.com", "CY@x.com",
                  "dee@x.com"],
        "first_name": "A", "lat": [60.165, 60.166, 60.164, 60.163, 60.165, 60.17, 60.16],
        "lon": 24.945, "opted_in": ["yes", "yes", "yes", "no", "yes", "yes", "yes"],
        "unsubscribed": ["no", "yes", "no", "no", "no", "no", "no"]})
    raw.to_csv(tmp_path / "customers.csv", index=False)
    return {"dir": tmp_path, "stores": tmp_path / "stores.csv",
            "customers": tmp_path / "customers.csv"}


def _cli(capsys, *argv) -> tuple[int, dict]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_reach_command_targets_each_consenting_address_once(shared_files, capsys, tmp_path):
    out = tmp_path / "targets.csv"
    code, summary = _cli(capsys, "reach", "--stores", shared_files["stores"], "--customers",
                         shared_files["customers"], "--mode", "radius", "--km", "3",
                         "--holdout", "0", "--out", out)
    assert code == 0 and summary["customers"] == 7
    written = pd.read_csv(out, dtype=str)
    assert sorted(email_keys(written["email"])) == ["cy@x.com", "dee@x.com"]
    assert summary["waterfall"]["opted_in"] == 3 and summary["waterfall"]["one_per_email"] == 2


def test_assign_command_assigns_every_record(shared_files, capsys, tmp_path):
    out = tmp_path / "assigned.csv"
    code, summary = _cli(capsys, "assign", "--stores", shared_files["stores"], "--customers",
                         shared_files["customers"], "--mode", "radius", "--km", "3",
                         "--out", out)
    assert code == 0 and summary["customers"] == 7 == summary["reachable"]
    assert pd.read_csv(out, dtype=str)["customer_id"].tolist() == list("1234567")


def test_validate_command_reports_shared_addresses_as_a_notice(shared_files, capsys):
    code, report = _cli(capsys, "validate", "--kind", "customers", shared_files["customers"])
    assert code == 0 and report["valid"] == 7 and report["errors"] == []
    assert report["shared_addresses"] == {"groups": 3, "records": 6}


def test_second_records_name_their_representative():
    customers = complete(pd.DataFrame({
        "customer_id": ["far", "near", "solo"], "email": ["a@x.com", "A@x.com", "b@x.com"],
        "first_name": "A", "lat": [60.18, 60.1651, 60.16], "lon": 24.945,
        "opted_in": True}), CUSTOMERS)
    from geo.catchments.assign import radius_assign
    result = reach(customers, radius_assign(STORES, customers, 5.0), STORES, bands=[5.0],
                   mode="radius", holdout=0.0)
    assert result.targets["customer_id"].tolist() == ["near", "solo"]
    second = result.second_records
    assert second[["customer_id", "represented_by", "store_id"]].values.tolist() == [
        ["far", "near", "S1"]]
    assert np.array_equal(result.waterfall["removed"].to_numpy()[-1:], [1])
