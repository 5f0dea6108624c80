"""Re-create the import test corpus in this folder: ``python tests/data/import/make_corpus.py``.

The files are kept in the repository (the tests read them, not this script);
``expected.json`` says what importing each one must give. Run it again only
to change the corpus on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

CLEAN = [
    ("customer_id", "email", "first_name", "lat", "lon", "opted_in"),
    ("1", "ann@example.com", "Ann", "48.8566", "2.3522", "yes"),
    ("2", "bob@example.com", "Bob", "48.8606", "2.3376", "no"),
    ("3", "chloe@example.com", "Chloé", "48.8530", "2.3499", "1"),
    ("4", "dan@example.com", "Dan", "48.8738", "2.2950", "true"),
]

EVERY_PROBLEM = [
    "customer_id,email,first_name,lat,lon,opted_in",
    "1,ann@example.com,Ann,48.85,2.35,yes",
    "2,bob@example.com,Bob,48.86,2.36,no",
    "3,chloe@example.com,Chloé,48.87,2.33,1",
    "4,dan@example.com,Dan,,2.34,yes",
    "5,eve@example.com,Eve,abc,2.34,yes",
    "6,fay@example.com,Fay,148.8,2.3,yes",
    "7,gus@example.com,Gus,2.35,48.85,yes",
    "8,not-an-email,Hal,48.85,2.35,yes",
    "1,ivy@example.com,Ivy,48.85,2.35,yes",
    "10, ANN@Example.com ,Annie,48.85,2.35,yes",
    "11,kim@example.com,Kim,48.85,2.35,maybe",
    "12,lee@example.com,Lee,48.85,2.35,yes,surplus",
]


def rows_text(rows, sep=",", decimal="."):
    out = []
    for r in rows:
        cells = [c.replace(".", decimal) if i in (3, 4) and "@" not in c else c
                 for i, c in enumerate(r)]
        out.append(sep.join(cells))
    return "\n".join(out) + "\n"


def write_tables(expected: dict) -> None:
    (HERE / "utf8_comma.csv").write_text(rows_text(CLEAN), encoding="utf-8")
    (HERE / "utf8_bom_semicolon_decimal_comma.csv").write_bytes(
        rows_text(CLEAN, ";", ",").encode("utf-8-sig"))
    (HERE / "cp1252_tab.tsv").write_bytes(rows_text(CLEAN, "\t").encode("cp1252"))
    (HERE / "latin1_semicolon_crlf.csv").write_bytes(
        rows_text(CLEAN, ";", ",").replace("\n", "\r\n").encode("latin-1"))
    (HERE / "utf16_excel_unicode_text.txt").write_bytes(rows_text(CLEAN, "\t").encode("utf-16"))
    for name in ("utf8_comma.csv", "utf8_bom_semicolon_decimal_comma.csv", "cp1252_tab.tsv",
                 "latin1_semicolon_crlf.csv", "utf16_excel_unicode_text.txt"):
        expected[name] = {"kind": "customers", "rows": 4, "valid": 4, "reasons": [],
                          "first_names": ["Ann", "Bob", "Chloé", "Dan"]}
    (HERE / "every_problem.csv").write_text("\n".join(EVERY_PROBLEM) + "\n", encoding="utf-8")
    expected["every_problem.csv"] = {
        "kind": "customers", "rows": 12, "valid": 4, "shared_addresses": 1,
        "errors": [[5, "lat", "missing value"], [6, "lat", "not a number"],
                   [7, "lat", "latitude out of range"], [8, "lat", "look swapped"],
                   [9, "email", "not a valid e-mail"], [10, "customer_id", "duplicate customer_id"],
                   [12, "opted_in", "not a yes/no"],
                   [13, None, "row has 7 fields but the header has 6"]], "exact": True}
    crm = ("Customer ID;Email Address;FNAME;LNAME;Latitude;Longitude;Accepts Email Marketing;"
           "Zip\n"
           "C-1;ann@example.com;Ann;Smith;48,8566;2,3522;yes;75001\n"
           "C-2;bob@example.com;Bob;Jones;48,8606;2,3376;no;75002\n")
    (HERE / "crm_export_synonyms.csv").write_text(crm, encoding="utf-8")
    expected["crm_export_synonyms.csv"] = {"kind": "customers", "rows": 2, "valid": 2,
                                           "reasons": [], "first_names": ["Ann", "Bob"]}
    multi = ('customer_id,email,first_name,lat,lon,opted_in,segment\r\n'
             '1,ann@example.com,"Ann ""the boss""",48.85,2.35,yes,"gold, VIP"\r\n'
             '2,bob@example.com,"Bob\r\nline two",48.86,2.36,no,silver\r\n'
             '\r\n'
             '3,carl@example.com,Carl,48.87,2.37,yes,bronze\r\n'
             '4,,Dora,48.88,2.38,yes,bronze\r\n')
    (HERE / "quoted_multiline_blank_rows.csv").write_bytes(multi.encode("utf-8"))
    expected["quoted_multiline_blank_rows.csv"] = {
        "kind": "customers", "rows": 4, "valid": 3,
        "errors": [[6, "email", "missing value"]]}
    ragged = ("customer_id,email,first_name,lat,lon,opted_in\n"
              "1,ann@example.com,Ann,48.85,2.35,yes\n"
              "2,bob@example.com,Bob,48,86,2,36,no\n"
              "3,carl@example.com,Carl,48.87\n"
              "4,dora@example.com,Dora,48.88,2.38,1,,,,,,,,,,,,,,,,,,,,,,,,,,x\n"
              "5,eve@example.com,Eve,48.89,2.39,0\n")
    (HERE / "ragged_rows.csv").write_text(ragged, encoding="utf-8")
    expected["ragged_rows.csv"] = {
        "kind": "customers", "rows": 5, "valid": 2,
        "errors": [[3, None, "row has 8 fields"], [4, "lon", "missing value"],
                   [5, None, "row has 14 or more fields but the header has 6"]]}
    (HERE / "unterminated_quote.csv").write_text(
        'customer_id,email,first_name,lat,lon,opted_in\n1,ann@example.com,Ann,48.85,2.35,yes\n'
        '2,bob@example.com,"Bob,48.86,2.36,no\n3,c@example.com,C,48.8,2.3,no\n', encoding="utf-8")
    expected["unterminated_quote.csv"] = {"kind": "customers", "rows": 2, "valid": 1,
                                          "errors": [[3, "lat", "missing value"]]}
    (HERE / "header_only.csv").write_text("customer_id,email,first_name,lat,lon,opted_in\n")
    expected["header_only.csv"] = {"kind": "customers", "rows": 0, "valid": 0, "reasons": []}
    (HERE / "empty.csv").write_bytes(b"")
    expected["empty.csv"] = {"kind": "customers", "error": "empty"}
    (HERE / "whitespace_only.csv").write_bytes(b"\n\n  \r\n\t\n")
    expected["whitespace_only.csv"] = {"kind": "customers", "error": "empty"}
    (HERE / "binary_garbage.csv").write_bytes(bytes(range(256)) * 4)
    expected["binary_garbage.csv"] = {"kind": "customers", "error": "not a text file"}
    (HERE / "nul_bytes.csv").write_bytes(
        b"customer_id,email,first_name,lat,lon,opted_in\n1,a\x00@example.com,A\x00nn,48.85,2.35,yes\n"
        b"2,b@example.com,Bob,48.86,2.36,no\n")
    expected["nul_bytes.csv"] = {"kind": "customers", "rows": 2, "valid_at_least": 1}
    (HERE / "wrong_columns.csv").write_text("foo,bar\n1,2\n")
    expected["wrong_columns.csv"] = {"kind": "customers", "error": "missing required column"}
    (HERE / "old_excel.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    expected["old_excel.xls"] = {"kind": "customers", "error": ".xls"}
    (HERE / "truncated.xlsx").write_bytes(b"PK\x03\x04" + b"\x14\x00" * 40)
    expected["truncated.xlsx"] = {"kind": "customers", "error": "not a readable .xlsx"}
    (HERE / "broken.geojson").write_text('{"type": "FeatureCollection", "features": [')
    expected["broken.geojson"] = {"kind": "stores", "error": "not a readable GeoJSON"}
    (HERE / "broken.parquet").write_bytes(b"PAR1" + b"\x00" * 64)
    expected["broken.parquet"] = {"kind": "stores", "error": "not a readable Parquet"}


def write_xlsx(expected: dict) -> None:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append([])  # a blank first row: the header is on row 2
    ws.append(["Customer ID", "E-mail", "First name", "Lat", "Lng", "Opt in", "Last order"])
    ws.append([1001, "ann@example.com", "Ann", 48.8566, 2.3522, True, dt.date(2024, 3, 1)])
    ws.append([1002, "bob@example.com", "Bob", 48.8606, 2.3376, False, dt.date(2024, 5, 2)])
    ws.append([1003.0, "bad email", "Chloé", "48,853", "2,3499", "yes", None])
    ws.append([None, None, None, None, None, None, None])
    ws.append([1004, "dan@example.com", "Dan", 95.5, 2.2950, 1, "2024-06-30"])
    wb.save(HERE / "customers.xlsx")
    expected["customers.xlsx"] = {
        "kind": "customers", "rows": 4, "valid": 2,
        "errors": [[5, "email", "not a valid e-mail"], [7, "lat", "latitude out of range"]],
        "first_names": ["Ann", "Bob"], "ids": ["1001", "1002"]}


def write_geo(expected: dict) -> None:
    import geopandas as gpd
    from shapely.geometry import Point, Polygon

    stores = gpd.GeoDataFrame(
        {"store_id": ["S1", "S2", "S3"], "name": ["Louvre", "Bastille", "Opéra"]},
        geometry=[Point(2.3364, 48.8606), Point(2.3691, 48.8532),
                  Polygon([(2.331, 48.871), (2.333, 48.871), (2.333, 48.873), (2.331, 48.873)])],
        crs="EPSG:4326")
    stores.to_file(HERE / "stores.geojson", driver="GeoJSON")
    stores.to_crs("EPSG:3857").to_file(HERE / "stores_3857.gpkg", driver="GPKG")
    stores.to_crs("EPSG:2154").to_parquet(HERE / "stores_lambert93.geoparquet")
    plain = stores.drop(columns="geometry").assign(latitude=[48.8606, 48.8532, 48.872],
                                                   longitude=[2.3364, 2.3691, 2.332])
    plain.to_parquet(HERE / "stores_plain.parquet")
    for name in ("stores.geojson", "stores_3857.gpkg", "stores_lambert93.geoparquet",
                 "stores_plain.parquet"):
        expected[name] = {"kind": "stores", "rows": 3, "valid": 3, "reasons": [],
                          "lat": [48.8606, 48.8532, 48.872], "lon": [2.3364, 2.3691, 2.332]}


def main() -> None:
    expected: dict = {}
    write_tables(expected)
    write_xlsx(expected)
    write_geo(expected)
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")


if __name__ == "__main__":
    main()
