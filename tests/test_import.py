"""Readers, column mapping and the import pipeline (geo.data.readers, geo.data.columns, geo.data.ingest)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.data.columns import (
    apply_mapping,
    check_mapping,
    merge_mapping,
    normalise_header,
    suggest_mapping,
)
from geo.data.ingest import bad_rows_csv, check_file, errors_csv, import_file
from geo.data.readers import iter_csv, read_any
from geo.data.schema import CUSTOMERS, EVENTS, REDEMPTIONS, STORES
from geo.data.sniff import clean_headers, detect_delimiter, detect_encoding, detect_format
from geo.errors import DataError, WorkspaceError
from geo.workspace import (
    create_workspace,
    delete_workspace,
    list_workspaces,
    open_workspace,
)

HEADER = "customer_id,email,first_name,lat,lon,opted_in\n"


def customers_csv(n: int, *, dup_every: int = 0) -> bytes:
    rows = [HEADER.strip()]
    for i in range(n):
        cid = i - 1 if dup_every and i and i % dup_every == 0 else i
        rows.append(f"{cid},u{i}@example.com,N{i},{48.85 + i * 1e-4:.5f},{2.35 + i * 1e-4:.5f},yes")
    return ("\n".join(rows) + "\n").encode()


# --- detection ------------------------------------------------------------------
@pytest.mark.parametrize("text, delim", [
    ("a,b,c\n1,2,3\n4,5,6\n", ","),
    ("a;b;c\n1;48,85;2,35\n4;5;6\n", ";"),
    ("a\tb\tc\n1\t2,5\t3\n", "\t"),
    ("a|b\n1|2\n", "|"),
    ('name,note\n"x; y; z",1\n"p; q",2\n', ","),
])
def test_detect_delimiter(text, delim):
    assert detect_delimiter(text) == delim


@pytest.mark.parametrize("data, encoding", [
    ("café".encode("utf-8"), "utf-8"),
    ("café".encode("utf-8-sig"), "utf-8-sig"),
    ("café €".encode("cp1252"), "cp1252"),
    (b"caf\xe9 \x81", "latin-1"),  # 0x81 is undefined in cp1252
    ("café".encode("utf-16"), "utf-16"),
])
def test_detect_encoding(data, encoding):
    assert detect_encoding(io.BytesIO(data)) == encoding


def test_detect_encoding_reads_past_the_sample():
    data = ("a,b\n" + "x,1\n" * 40000 + "é,2\n").encode("cp1252")
    assert detect_encoding(io.BytesIO(data)) == "cp1252"
    df = read_any(data, name="late.csv")
    assert df["a"].iloc[-1] == "é"


def test_detect_format_by_magic_and_name():
    assert detect_format(b"PK\x03\x04rest", "x.csv") == "xlsx"
    assert detect_format(b"PAR1....", "x.bin") == "parquet"
    assert detect_format(b"SQLite format 3\x00", "x") == "gpkg"
    assert detect_format(b'{"type": "FeatureCollection"}', "upload") == "geojson"
    assert detect_format(b"a,b\n1,2", "x.txt") == "csv"
    with pytest.raises(DataError, match="xls"):
        detect_format(b"\xd0\xcf\x11\xe0", "old.xls")


def test_clean_headers_names_blanks_and_repeats():
    assert clean_headers([" a ", "", "a", None, "a"]) == ["a", "column 2", "a.1", "column 4", "a.2"]


# --- readers ---------------------------------------------------------------------
def test_read_any_bytes_and_path_agree(tmp_path):
    data = "id;lat;lon\n1;48,85;2,35\n".encode("cp1252")
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    a, b = read_any(data, name="x.csv"), read_any(path)
    pd.testing.assert_frame_equal(a, b)
    assert a.index.tolist() == [2]
    assert a.loc[2, "lat"] == "48,85"


def test_row_numbers_skip_leading_blank_lines_and_keep_gaps():
    df = read_any(b"\n\nid,x\n1,a\n\n2,b\n", name="gaps.csv")
    assert df.index.tolist() == [4, 6]


def test_csv_chunks_cover_every_row_with_progress():
    marks = []
    chunks = list(iter_csv(customers_csv(95), chunksize=10, progress=marks.append))
    assert len(chunks) == 10
    rows = np.concatenate([c.index.to_numpy() for c in chunks])
    assert rows.tolist() == list(range(2, 97))
    assert marks == sorted(marks) and marks[-1] == pytest.approx(1.0)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_any(tmp_path / "nope.csv")


def test_xlsx_keeps_sheet_row_numbers_and_text_cells():
    df = read_any(Path(__file__).parent / "data" / "import" / "customers.xlsx")
    assert df.index.tolist() == [3, 4, 5, 7]  # header on row 2, row 6 blank
    assert df.loc[3, "Customer ID"] == "1001" and df.loc[5, "Customer ID"] == "1003"
    assert df.loc[3, "Opt in"] == "true"
    assert df.loc[3, "Last order"].startswith("2024-03-01")


def test_geojson_from_bytes_keeps_attributes():
    data = (Path(__file__).parent / "data" / "import" / "stores.geojson").read_bytes()
    df = read_any(data, name="upload.geojson")
    assert df["store_id"].tolist() == ["S1", "S2", "S3"]
    assert df.index.tolist() == [2, 3, 4]
    assert {"lat", "lon"} <= set(df.columns) and "geometry" not in df.columns


# --- mapping ---------------------------------------------------------------------
def test_normalise_header():
    assert normalise_header(" E-Mail Address ") == "emailaddress"
    assert normalise_header("Längengrad") == "langengrad"


@pytest.mark.parametrize("columns, expected", [
    (["Email Address", "First Name", "LATITUDE", "LONGITUDE", "Customer ID", "Opt-in"],
     {"customer_id": "Customer ID", "email": "Email Address", "first_name": "First Name",
      "lat": "LATITUDE", "lon": "LONGITUDE", "opted_in": "Opt-in"}),
    (["id", "e-mail", "FNAME", "y", "x", "consent", "zip"],
     {"customer_id": "id", "email": "e-mail", "first_name": "FNAME", "lat": "y", "lon": "x",
      "opted_in": "consent", "postcode": "zip"}),
    (["firstname", "lng", "lat", "long", "E_MAIL", "customer id", "postal code"],
     {"customer_id": "customer id", "email": "E_MAIL", "first_name": "firstname", "lat": "lat",
      "lon": "lng", "postcode": "postal code"}),
])
def test_suggest_mapping_customers(columns, expected):
    got = suggest_mapping(columns, CUSTOMERS)
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert len(set(got.values())) == len(got)


def test_canonical_name_beats_synonym_and_id_maps_to_key():
    assert suggest_mapping(["x", "lon", "y", "lat"], STORES)["lon"] == "lon"
    assert suggest_mapping(["id", "name", "lat", "lon"], STORES)["store_id"] == "id"
    assert "customer_id" not in suggest_mapping(["id", "code"], REDEMPTIONS)
    assert suggest_mapping(["Email", "Type", "Date"], EVENTS) == {
        "email": "Email", "event": "Type", "timestamp": "Date"}


def test_merge_mapping_overrides_and_unmaps():
    merged = merge_mapping({"lat": "y", "lon": "x", "segment": "tier"},
                           {"lat": "Breite", "lon": "y", "segment": None})
    assert merged == {"lat": "Breite", "lon": "y"}


def test_check_mapping_messages():
    cols = ["a", "b"]
    with pytest.raises(DataError, match="'zz' .* not in the file"):
        check_mapping({"customer_id": "zz"}, cols, CUSTOMERS, "f.csv")
    with pytest.raises(DataError, match="mapped twice"):
        check_mapping({"lat": "a", "lon": "a"}, cols, STORES, "f.csv")
    with pytest.raises(DataError, match="unknown column 'nope'"):
        check_mapping({"nope": "a"}, cols, STORES, "f.csv")
    with pytest.raises(DataError, match=r"missing required column\(s\) store_id, name"):
        check_mapping({"lat": "a", "lon": "b"}, cols, STORES, "f.csv")


def test_apply_mapping_renames_and_keeps_row_index():
    df = pd.DataFrame({"Y": ["1"], "X": ["2"], "junk": ["3"]}, index=[5])
    out = apply_mapping(df, {"lat": "Y", "lon": "X"})
    assert out.columns.tolist() == ["lat", "lon"] and out.index.tolist() == [5]


def test_hand_mapping_rescues_unknown_headers():
    data = "Kundennr;Mail;Vorname;Breite;Länge;Einwilligung\n7;a@b.de;Jörg;52,5;13,4;ja\n"
    with pytest.raises(DataError, match="Einwilligung"):
        check_file(data.encode("utf-8"), "customers", name="de.csv")
    mapping = {"customer_id": "Kundennr", "email": "Mail", "first_name": "Vorname",
               "lat": "Breite", "lon": "Länge", "opted_in": "Einwilligung"}
    report = check_file(data.encode("utf-8"), "customers", name="de.csv", mapping=mapping)
    assert report.valid.empty and report.errors.iloc[0]["column"] == "opted_in"  # "ja" not a bool
    assert report.mapping == mapping


# --- pipeline --------------------------------------------------------------------
def test_duplicates_found_across_chunks_with_true_rows():
    report = check_file(customers_csv(50, dup_every=20), "customers", name="c.csv", chunksize=7)
    dups = report.errors[report.errors["column"] == "customer_id"]
    assert dups["row"].tolist() == [22, 42]
    assert dups["reason"].tolist() == ["duplicate customer_id (same as row 21)",
                                       "duplicate customer_id (same as row 41)"]
    assert len(report.valid) == 48 and report.valid["_row"].is_monotonic_increasing


def test_chunked_and_whole_reads_give_the_same_report():
    data = (Path(__file__).parent / "data" / "import" / "every_problem.csv").read_bytes()
    a = check_file(data, "customers", name="e.csv", chunksize=3)
    b = check_file(data, "customers", name="e.csv")
    pd.testing.assert_frame_equal(a.errors, b.errors)
    pd.testing.assert_frame_equal(a.valid, b.valid)


def test_progress_reaches_one():
    marks = []
    check_file(customers_csv(30), "customers", name="c.csv", chunksize=10, progress=marks.append)
    assert marks[-1] == pytest.approx(1.0) and marks == sorted(marks) and len(marks) >= 4


def test_bad_rows_csv_round_trips():
    path = Path(__file__).parent / "data" / "import" / "every_problem.csv"
    report = check_file(path, "customers")
    out = bad_rows_csv(path, report)
    assert out.startswith(b"\xef\xbb\xbf")
    bad = read_any(out, name="bad.csv")
    assert bad["row"].astype(int).tolist() == [5, 6, 7, 8, 9, 10, 12, 13]  # 11 shares row 2's address
    assert bad.columns.tolist()[:3] == ["row", "reason", "customer_id"]
    swapped = bad[bad["row"] == "8"].iloc[0]
    assert "lat: latitude and longitude look swapped" in swapped["reason"]
    assert swapped["lat"] == "2.35"
    errs = read_any(errors_csv(report), name="errors.csv")
    assert len(errs) == len(report.errors)


def test_bad_rows_csv_empty_when_all_good():
    report = check_file(customers_csv(3), "customers", name="c.csv")
    assert report.ok and bad_rows_csv(customers_csv(3), report, name="c.csv") == b""


# --- workspace -------------------------------------------------------------------
def test_import_persists_and_deletion_removes_every_file(tmp_path):
    ws = create_workspace("shop", tmp_path)
    corpus = Path(__file__).parent / "data" / "import"
    report = import_file(corpus / "every_problem.csv", "customers", ws)
    assert len(report.valid) == 4
    import_file(corpus / "stores.geojson", "stores", ws)
    again = open_workspace("shop", tmp_path)  # a fresh handle, as after a restart
    customers = again.load_table("customers")
    assert customers["customer_id"].tolist() == ["1", "2", "3", "10"]
    assert list(customers.columns[:len(CUSTOMERS.names)]) == CUSTOMERS.names
    assert customers["opted_in"].dtype == "boolean"
    assert again.load_table("stores")["store_id"].tolist() == ["S1", "S2", "S3"]
    info = again.settings()["imports"]["customers"]
    assert info["file"] == "every_problem.csv" and info["valid"] == 4 and info["errors"] == 8
    assert info["mapping"]["lat"] == "lat"
    other = create_workspace("other", tmp_path)
    delete_workspace("shop", tmp_path)
    assert not (tmp_path / "workspaces" / "shop").exists()
    assert list_workspaces(tmp_path) == ["other"] and other.exists()
    assert not [p for p in tmp_path.rglob("*") if "shop" in p.parts]


def test_file_without_good_rows_replaces_nothing(tmp_path):
    ws = create_workspace("w", tmp_path)
    import_file(customers_csv(3), "customers", ws, name="good.csv")
    before = ws.table_version("customers")
    bad = HEADER + "1,nope,A,48.8,2.3,yes\n"
    report = import_file(bad.encode(), "customers", ws, name="bad.csv")
    assert report.valid.empty and ws.table_version("customers") == before
    assert len(ws.load_table("customers")) == 3


def test_events_go_to_campaign_or_workspace_table(tmp_path):
    ws = create_workspace("w", tmp_path)
    events = ("Email,Type,Timestamp\nA@x.com,opened,2024-05-01T10:00:00Z\n"
              "b@x.com,clicked,2024-05-01 11:00\nc@x.com,exploded,2024-05-01\n").encode()
    report = import_file(events, "events", ws, name="ev.csv")
    assert len(report.valid) == 2 and report.errors["column"].tolist() == ["event"]
    assert ws.load_table("events")["event"].tolist() == ["opened", "clicked"]
    with pytest.raises(WorkspaceError):
        import_file(events, "events", ws, name="ev.csv", campaign="spring")
    ws.save_campaign_meta("spring", {"name": "spring"})
    import_file(events, "events", ws, name="ev.csv", campaign="spring")
    assert len(ws.load_campaign_file("spring", "events")) == 2
    with pytest.raises(DataError, match="only events and redemptions"):
        import_file(events, "customers", ws, name="ev.csv", campaign="spring")


def test_redemptions_import(tmp_path):
    ws = create_workspace("w", tmp_path)
    data = ("Voucher;Shop ID;Date;Revenue;Receipt\nAB12;S1;2024-05-02 12:30;23,50;R1\n"
            "CD34;S2;yesterday;10;R2\n").encode()
    report = import_file(data, "redemptions", ws, name="pos.csv")
    assert report.errors[["row", "column"]].values.tolist() == [[3, "timestamp"]]
    stored = ws.load_table("redemptions")
    assert stored["amount"].tolist() == [23.5] and stored["transaction_id"].tolist() == ["R1"]


def test_unknown_kind():
    with pytest.raises(DataError, match="unknown kind"):
        check_file(b"a,b\n1,2\n", "people", name="x.csv")
