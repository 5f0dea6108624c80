"""Loading files: typed columns, and one clear error naming file, row and column."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.data.schema import CUSTOMERS
from geo.data.tables import check_table, load_customers, load_stores
from geo.errors import DataError

HEADER = "customer_id,email,first_name,lat,lon,opted_in\n"


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_valid_customers_are_typed(tmp_path):
    p = write(tmp_path, "c.csv", HEADER + "1,a@x.fi,Aino,60.17,24.94,yes\n2,b@x.fi,,60.16,24.95,0\n")
    df = load_customers(p)
    assert df["lat"].dtype == "float64" and df["opted_in"].tolist() == [True, False]
    assert df["unsubscribed"].tolist() == [False, False]      # optional column added
    assert df["first_name"].fillna("").tolist() == ["Aino", ""]


def test_missing_column_names_file_and_column(tmp_path):
    p = write(tmp_path, "stores.csv", "store_id,name,lat\nS1,A,60\n")
    with pytest.raises(DataError) as err:
        load_stores(p)
    assert err.value.file == "stores.csv" and err.value.column == "lon"
    assert "missing required column" in str(err.value)


@pytest.mark.parametrize("cell,column,reason", [
    ("95.0", "lat", "latitude out of range"),
    ("abc", "lat", "not a number"),
])
def test_bad_cell_names_row_and_column(tmp_path, cell, column, reason):
    p = write(tmp_path, "c.csv", HEADER + "1,a@x.fi,A,60,24,1\n" + f"2,b@x.fi,B,{cell},24,1\n")
    with pytest.raises(DataError) as err:
        load_customers(p)
    assert (err.value.row, err.value.column) == (3, column)
    assert reason in err.value.reason and "c.csv, row 3" in str(err.value)


def test_longitude_range_and_email_and_bool(tmp_path):
    p = write(tmp_path, "c.csv", HEADER + "1,a@x.fi,A,60,190,1\n2,nope,B,60,24,1\n3,c@x.fi,C,60,24,maybe\n")
    report = check_table(p, CUSTOMERS)
    got = {(e["row"], e["column"]) for e in report.as_dict()["errors"]}
    assert got == {(2, "lon"), (3, "email"), (4, "opted_in")}
    assert report.as_dict()["valid"] == 0 and report.rows == 3


def test_duplicate_id_and_semicolon_decimal_comma_latin1(tmp_path):
    text = ("customer_id;email;first_name;lat;lon;opted_in\n"
            "1;a@x.fi;Jyrki Ä;60,17;24,94;1\n1;b@x.fi;B;60,1;24,9;1\n")
    p = write(tmp_path, "c.csv", text, encoding="latin-1")
    report = check_table(p, CUSTOMERS)
    assert report.valid["lat"].tolist() == [60.17] and report.valid["first_name"].tolist() == ["Jyrki Ä"]
    errors = report.as_dict()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "customer_id")]
    assert errors[0]["reason"].startswith("duplicate customer_id")


def test_broken_csv_and_missing_file_are_data_errors(tmp_path):
    p = write(tmp_path, "c.csv", 'customer_id,email\n"1,unterminated\n')
    with pytest.raises(DataError):
        load_customers(p)
    with pytest.raises(DataError, match="file not found"):
        load_customers(tmp_path / "nope.csv")


def test_parquet_round_trip(tmp_path):
    df = pd.DataFrame({"store_id": ["S1"], "name": ["A"], "lat": [60.1], "lon": [24.9]})
    df.to_parquet(tmp_path / "s.parquet")
    out = load_stores(tmp_path / "s.parquet")
    assert out.loc[0, "store_id"] == "S1" and pd.isna(out.loc[0, "address"])
