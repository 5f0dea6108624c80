"""Fuzz the importers: any input gives a report or a DataError, never another exception."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.data.ingest import check_file
from geo.data.readers import read_any
from geo.errors import DataError

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HEADERS = ["customer_id", "email", "first_name", "lat", "lon", "opted_in", "segment",
           "Latitude", "E-mail", "x", "y", ""]
CSVISH = st.text(alphabet=st.sampled_from(list(',;\t|"\'\n\r ') + list("ab1.-9@éÿ€\x00")),
                 max_size=300)
CELL = st.one_of(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                         max_size=12), st.floats(allow_nan=True).map(str),
                 st.sampled_from(["", " ", "yes", "no", "91", "-181", "1e400", "48,85",
                                  "a@b.co", "A@B.CO ", "NaN", "inf", "\"", ";", "\n"]))


def assert_consistent(report) -> None:
    """Every row is either good or named in the errors, and rows are spreadsheet rows."""
    bad = report.errors["row"].dropna().astype(int)
    assert len(report.valid) + bad.nunique() == report.rows
    if len(bad):
        assert bad.min() >= 2
    assert report.as_dict()["rows"] == report.rows


def check_or_data_error(data: bytes, name: str, kind: str = "customers") -> None:
    try:
        report = check_file(data, kind, name=name, chunksize=3)
    except DataError:
        return
    assert_consistent(report)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["f.csv", "f.xlsx", "f.geojson", "f.gpkg",
                                                 "f.parquet", "upload"]))
def test_random_bytes(data, name):
    try:
        read_any(data, name=name)
    except DataError:
        pass
    check_or_data_error(data, name)


@FUZZ
@given(st.sampled_from([b"PK\x03\x04", b"PAR1", b"SQLite format 3\x00", b'{"type":',
                        b"\xef\xbb\xbf", b"\xff\xfe"]), st.binary(max_size=300))
def test_magic_prefix_then_garbage(prefix, rest):
    check_or_data_error(prefix + rest, "upload", "stores")


@FUZZ
@given(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8), CSVISH,
       st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
def test_csvish_text(header, body, encoding):
    text = ",".join(header) + "\n" + body
    check_or_data_error(text.encode(encoding, errors="replace"), "f.csv")


@settings(FUZZ, max_examples=40)
@given(st.lists(st.lists(CELL, min_size=6, max_size=6), max_size=12),
       st.sampled_from([",", ";", "\t"]))
def test_random_cells_in_a_valid_layout(rows, sep):
    df = pd.DataFrame(rows, columns=["customer_id", "email", "first_name", "lat", "lon",
                                     "opted_in"], dtype=object)
    buf = io.StringIO()
    df.to_csv(buf, sep=sep, index=False)
    report = check_file(buf.getvalue().encode("utf-8"), "customers", name="f.csv")
    assert_consistent(report)
    assert report.rows <= len(rows)
    if len(report.valid):
        assert report.valid["lat"].abs().max() <= 90
        assert report.valid["customer_id"].is_unique


@pytest.mark.parametrize("kind", ["stores", "events", "redemptions"])
@settings(FUZZ, max_examples=25)
@given(rows=st.lists(st.lists(CELL, min_size=6, max_size=6), max_size=8))
def test_random_cells_other_kinds(kind, rows):
    names = {"stores": ["store_id", "name", "lat", "lon", "address", "extra"],
             "events": ["email", "event", "timestamp", "campaign_id", "a", "b"],
             "redemptions": ["coupon_code", "store_id", "timestamp", "amount", "transaction_id",
                             "customer_id"]}[kind]
    buf = io.StringIO()
    pd.DataFrame(rows, columns=names, dtype=object).to_csv(buf, index=False)
    report = check_file(buf.getvalue().encode("utf-8"), kind, name="f.csv")
    assert_consistent(report)
