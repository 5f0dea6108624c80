"""Imports add and update by default, replace only when asked, count what changes, and undo."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from geo.cli import main
from geo.data.ingest import can_undo_import, import_file, preview_import, undo_import
from geo.data.merge import merge_table
from geo.data.schema import CUSTOMERS, EVENTS
from geo.errors import DataError
from geo.workspace import create_workspace, open_workspace


def customers(rows: list[tuple]) -> bytes:
    df = pd.DataFrame(rows, columns=["customer_id", "email", "first_name", "lat", "lon",
                                     "opted_in"])
    return df.to_csv(index=False).encode()


BASE = customers([("1", "a@x.com", "Ann", 60.1, 24.9, "yes"),
                  ("2", "b@x.com", "Bob", 60.1, 24.9, "yes"),
                  ("3", "c@x.com", "Cy", 60.1, 24.9, "no")])


def test_add_and_update_matches_on_id_then_email_and_removes_nothing(tmp_path):
    ws = create_workspace("w", tmp_path)
    import_file(BASE, "customers", ws, name="base.csv")
    update = customers([("1", "a@x.com", "Ann", 60.1, 24.9, "yes"),      # unchanged
                        ("2", "b@x.com", "Robert", 60.1, 24.9, "yes"),   # updated by id
                        ("X9", " C@X.com", "Cy", 60.1, 24.9, "yes"),     # updated by e-mail
                        ("4", "d@x.com", "Dee", 60.1, 24.9, "yes")])     # new
    report = import_file(update, "customers", ws, name="update.csv")
    assert report.changes.as_dict() == {"new": 1, "updated": 2, "unchanged": 1, "removed": 0,
                                        "mode": "add"}
    stored = ws.load_table("customers").set_index("customer_id")
    assert stored.index.tolist() == ["1", "2", "3", "4"]  # Cy keeps the id campaigns know
    assert stored.loc["2", "first_name"] == "Robert" and bool(stored.loc["3", "opted_in"])


def test_a_file_without_a_column_leaves_that_column_alone():
    stored = pd.DataFrame({"customer_id": ["1", "2"], "email": ["a@x.com", "b@x.com"],
                           "segment": ["loyal", "new"]})
    incoming = pd.DataFrame({"customer_id": ["2"], "email": ["b@x.com"]})
    table, changes = merge_table(stored, incoming, CUSTOMERS)
    assert table["segment"].tolist() == ["loyal", "new"] and changes.unchanged == 1


def test_replace_counts_removed_and_keeps_ids_matched_by_email():
    stored = pd.DataFrame({"customer_id": ["1", "2", "3"],
                           "email": ["a@x.com", "b@x.com", "c@x.com"]})
    incoming = pd.DataFrame({"customer_id": ["1", "Z"], "email": ["a@x.com", "B@x.com"]})
    table, changes = merge_table(stored, incoming, CUSTOMERS, mode="replace")
    assert table["customer_id"].tolist() == ["1", "2"]
    # the e-mail is written differently: an update of record 2
    assert (changes.new, changes.updated, changes.unchanged, changes.removed) == (0, 1, 1, 1)


def test_an_address_shared_by_stored_records_is_not_a_match():
    stored = pd.DataFrame({"customer_id": ["1", "2"], "email": ["a@x.com", "A@x.com"]})
    incoming = pd.DataFrame({"customer_id": ["9"], "email": ["a@x.com"]})
    table, changes = merge_table(stored, incoming, CUSTOMERS)
    assert changes.new == 1 and len(table) == 3


def test_rows_without_a_key_are_appended_once():
    stored = pd.DataFrame({"email": ["a@x.com"], "event": ["sent"],
                           "timestamp": pd.to_datetime(["2026-10-01"])})
    incoming = pd.DataFrame({"email": ["a@x.com", "a@x.com"], "event": ["sent", "opened"],
                             "timestamp": pd.to_datetime(["2026-10-01", "2026-10-02"])})
    table, changes = merge_table(stored, incoming, EVENTS)
    assert len(table) == 2 and (changes.new, changes.unchanged) == (1, 1)


def test_preview_writes_nothing_and_undo_restores_the_previous_table(tmp_path):
    ws = create_workspace("w", tmp_path)
    import_file(BASE, "customers", ws, name="base.csv")
    version = ws.table_version("customers")
    small = customers([("9", "z@x.com", "Zed", 60.1, 24.9, "yes")])
    preview = preview_import(small, "customers", ws, mode="replace", name="small.csv")
    assert (preview.changes.new, preview.changes.removed) == (1, 3)
    assert ws.table_version("customers") == version
    import_file(small, "customers", ws, mode="replace", name="small.csv")
    assert ws.load_table("customers")["customer_id"].tolist() == ["9"]
    assert can_undo_import(ws, "customers")
    undo_import(ws, "customers")
    assert ws.load_table("customers")["customer_id"].tolist() == ["1", "2", "3"]
    with pytest.raises(DataError, match="no import of customers to undo"):
        undo_import(ws, "customers")


def test_undo_of_a_first_import_empties_the_table(tmp_path):
    ws = create_workspace("w", tmp_path)
    import_file(BASE, "customers", ws, name="base.csv")
    undo_import(ws, "customers")
    assert ws.load_table("customers") is None


def test_import_command_adds_by_default_and_replaces_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    base, more = tmp_path / "base.csv", tmp_path / "more.csv"
    base.write_bytes(BASE)
    more.write_bytes(customers([("4", "d@x.com", "Dee", 60.1, 24.9, "yes")]))
    for path, extra in ((base, []), (more, []), (more, ["--replace"])):
        assert main(["import", "--kind", "customers", str(path), "--workspace", "shop",
                     *extra]) == 0
        out = json.loads(capsys.readouterr().out)
    assert (out["new"], out["unchanged"], out["removed"], out["mode"]) == (0, 1, 3, "replace")
    assert open_workspace("shop", tmp_path).load_table("customers")["customer_id"].tolist() == [
        "4"]


def test_workspace_names_differing_only_in_case_are_one(tmp_path):
    from geo.errors import WorkspaceError

    create_workspace("Andorra test", tmp_path)
    with pytest.raises(WorkspaceError, match="'Andorra test' already exists"):
        create_workspace("andorra  TEST", tmp_path)
    assert create_workspace("ANDORRA test", tmp_path, exist_ok=True).name == "Andorra test"


def test_a_stored_table_written_out_and_read_back_is_unchanged(tmp_path):
    """Blank optional cells (names, phone, ads consent...) read back as missing, not as '' or no."""
    ws = create_workspace("shop", tmp_path)
    import_file(BASE, "customers", ws, name="first.csv")
    stored = ws.load_table("customers")
    assert stored["ads_consent"].isna().all() and stored["phone"].isna().all()
    again = preview_import(stored.to_csv(index=False).encode(), "customers", ws, name="again.csv")
    assert (again.changes.new, again.changes.updated, again.changes.unchanged) == (0, 0, 3)
