"""Domain helpers behind the Data page: peek, recall_mapping, report counts, inventory."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from geo.data.columns import recall_mapping, suggest_mapping
from geo.data.ingest import (
    check_file,
    import_file,
    import_history,
    problem_counts,
    report_summary,
    shared_addresses_csv,
)
from geo.data.inventory import (
    describe_workspace,
    owned_files,
    table_rows,
    workspace_inventory,
)
from geo.data.readers import peek
from geo.data.schema import CUSTOMERS, STORES
from geo.errors import DataError
from geo.workspace import create_workspace

DATA = Path(__file__).parent / "data" / "import"


# --- peek -------------------------------------------------------------------------------
def test_peek_returns_first_rows_indexed_by_spreadsheet_row():
    df = peek(DATA / "every_problem.csv", rows=3)
    assert list(df.columns) == ["customer_id", "email", "first_name", "lat", "lon", "opted_in"]
    assert list(df.index) == [2, 3, 4]
    assert df.loc[2, "email"] == "ann@example.com"


def test_peek_reads_other_formats_and_header_only_files():
    assert {"lat", "lon"} <= set(peek(DATA / "stores.geojson", rows=2).columns)
    assert len(peek(DATA / "customers.xlsx", rows=2)) <= 2
    header_only = peek(DATA / "header_only.csv")
    assert header_only.empty and len(header_only.columns) > 0


def test_peek_on_bytes_detects_semicolons_and_decimal_commas():
    df = peek((DATA / "crm_export_synonyms.csv").read_bytes(), name="crm.csv", rows=1)
    assert list(df.columns)[:3] == ["Customer ID", "Email Address", "FNAME"]
    assert df.iloc[0]["Latitude"] == "48,8566"


@pytest.mark.parametrize("name", ["empty.csv", "whitespace_only.csv", "old_excel.xls",
                                  "truncated.xlsx"])
def test_peek_raises_data_error_on_unusable_files(name):
    with pytest.raises(DataError):
        peek(DATA / name)


# --- recall_mapping ----------------------------------------------------------------------
def test_recall_mapping_prefers_earlier_choices_that_still_fit():
    cols = ["Customer ID", "Mail Addr", "Email Address", "FNAME", "Latitude", "Longitude", "OK"]
    previous = {"email": "Mail Addr", "opted_in": "OK", "segment": "Gone column",
                "bogus_field": "FNAME"}
    got = recall_mapping(cols, CUSTOMERS, previous)
    assert got["email"] == "Mail Addr"          # earlier choice beats the synonym
    assert got["opted_in"] == "OK"
    assert "segment" not in got and "bogus_field" not in got
    assert list(got) == [f for f in CUSTOMERS.names if f in got]   # canonical order
    assert len(set(got.values())) == len(got)


def test_recall_mapping_without_history_is_the_suggestion():
    cols = ["store", "Shop Name", "lat", "lng"]
    assert recall_mapping(cols, STORES, None) == suggest_mapping(cols, STORES)


# --- report counts -----------------------------------------------------------------------
def test_report_summary_and_problem_counts_on_every_problem_file():
    report = check_file(DATA / "every_problem.csv", "customers")
    s = report_summary(report)
    assert s == {"rows": 12, "valid": 4, "rejected": 8, "problems": len(report.errors),
                 "shared_addresses": 1}
    shared = pd.read_csv(io.BytesIO(shared_addresses_csv(report)), encoding="utf-8-sig",
                         dtype=str)
    assert shared[["row", "customer_id"]].values.tolist() == [["2", "1"], ["11", "10"]]
    counts = problem_counts(report)
    assert counts["rows"].sum() == len(report.errors)
    assert counts["rows"].is_monotonic_decreasing
    assert "(whole row)" in set(counts["column"])   # the row with a surplus field
    assert not counts["reason"].str.contains(r"\(").any()   # details in brackets dropped


def test_problem_counts_groups_reasons_that_differ_only_in_details():
    text = "customer_id,email,first_name,lat,lon,opted_in\n" + "".join(
        f"1,a{i}@x.com,A,60.1,24.9,yes\n" for i in range(4))
    report = check_file(text.encode(), "customers", name="dups.csv")
    counts = problem_counts(report)
    dup = counts[counts["column"] == "customer_id"]
    assert len(dup) == 1 and int(dup["rows"].iloc[0]) == 3


def test_problem_counts_of_a_clean_report_is_empty():
    text = b"customer_id,email,first_name,lat,lon,opted_in\n1,a@x.com,A,60.1,24.9,yes\n"
    assert problem_counts(check_file(text, "customers", name="ok.csv")).empty


# --- history and inventory ---------------------------------------------------------------
def test_import_history_and_inventory_follow_imports(tmp_path):
    ws = create_workspace("Inv", tmp_path)
    assert import_history(ws).empty
    row = describe_workspace(ws)
    assert row["customers"] == 0 and row["stores"] == 0 and row["files"] == 1
    report = import_file(DATA / "every_problem.csv", "customers", ws)
    hist = import_history(ws)
    assert hist.loc[0, "kind"] == "customers" and hist.loc[0, "file"] == "every_problem.csv"
    assert hist.loc[0, "valid"] == len(report.valid)
    assert hist.loc[0, "errors"] == len(report.errors)
    inv = workspace_inventory(tmp_path)
    assert list(inv["workspace"]) == ["Inv"]
    assert inv.loc[0, "customers"] == len(report.valid) == table_rows(ws.table_path("customers"))
    assert inv.loc[0, "stores"] == 0  # no stores yet: 0, not a blank
    files = owned_files(ws)
    assert ws.table_path("customers") in files and inv.loc[0, "files"] == len(files)
    assert inv.loc[0, "size_mb"] == round(sum(p.stat().st_size for p in files) / 1e6, 2)


def test_inventory_of_an_empty_root(tmp_path):
    inv = workspace_inventory(tmp_path)
    assert inv.empty and list(inv.columns)[0] == "workspace"
