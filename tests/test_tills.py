"""Till exports as redemptions: the Location → store table, money and local times, Square's limit."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from geo.cli import main
from geo.data.ingest import check_file, preview_file, proposed_mapping
from geo.data.tills import (
    STORE_MAP_SETTING,
    add_store_ids,
    clean_store_map,
    local_timestamps,
    location_labels,
    money_values,
    parse_store_map_args,
    zone_of,
)
from geo.errors import DataError
from geo.workspace import open_workspace
from tests.test_layouts import csv_bytes

SQUARE_HEADER = ["Date", "Time", "Time Zone", "Gross Sales", "Discounts", "Service Charges",
                 "Net Sales", "Gift Card Sales", "Tax", "Tip", "Partial Refunds",
                 "Total Collected", "Source", "Card", "Cash", "Fees", "Net Total",
                 "Transaction ID", "Payment ID", "Card Brand", "PAN Suffix", "Device Name",
                 "Staff Name", "Description", "Event Type", "Location", "Dining Option",
                 "Customer ID", "Customer Name", "Customer Reference ID"]
ORDERS_HEADER = ["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status",
                 "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
                 "Discount Amount", "Created at", "Lineitem quantity", "Lineitem name",
                 "Lineitem price", "Location", "Id"]


def square_bytes() -> bytes:
    rows = []
    for i in range(12):
        row = dict.fromkeys(SQUARE_HEADER, "")
        row.update({"Date": "2026-05-01", "Time": f"1{i % 10}:15:00",
                    "Time Zone": "Eastern Time (US & Canada)", "Gross Sales": "$1,215.00",
                    "Discounts": "-$3.00", "Net Sales": "$1,212.00",
                    "Transaction ID": f"'TX{i:04d}", "Location": "Downtown",
                    "Customer Reference ID": f"C{i}"})
        rows.append([row[h] for h in SQUARE_HEADER])
    return csv_bytes(SQUARE_HEADER, rows)


def orders_bytes() -> bytes:
    rows = []
    for i in range(20):
        location = ["Downtown", "Kallio shop", "Uptown"][i % 3]
        code = f"MU7D-{i:04d}" if i % 4 else ""
        rows.append([f"#{1000 + i}", f"c{i}@example.com", "paid", "2026-05-02 10:00:00 +0300",
                     "fulfilled", "EUR", "20.00", "0.00", "4.00", "24.00", code,
                     "5.00" if code else "0.00", "2026-05-02 09:59:00 +0300", "1", "Coffee",
                     "20.00", location, str(5000 + i)])
        rows.append([f"#{1000 + i}", f"c{i}@example.com", "", "", "", "", "", "", "", "", "",
                     "", "", "1", "Bun", "4.00", "", ""])  # the order's second line item
    return csv_bytes(ORDERS_HEADER, rows)


def test_money_and_local_times():
    money = money_values(pd.Series(["$1,234.50", "-$3.00", "(3.00)", "", "12"]))
    assert money.tolist()[:3] == [1234.5, -3.0, -3.0] and pd.isna(money[3]) and money[4] == 12
    utc = local_timestamps(pd.Series(["2026-05-01", "2026-01-15", "2026-05-01", "x"]),
                           pd.Series(["14:03:12", "09:00", "10:00", "10:00"]),
                           pd.Series(["Eastern Time (US & Canada)", "Europe/Helsinki", "Mars",
                                      "UTC"]))
    assert utc.tolist() == ["2026-05-01T18:03:12Z", "2026-01-15T07:00:00Z", "", ""]
    assert zone_of("london").key == "Europe/London" and zone_of("Atlantis/Nowhere") is None


def test_store_table_helpers():
    assert clean_store_map({" Downtown ": " S1 ", "": "S2", "Uptown": None, "x": "nan"}) == \
        {"Downtown": "S1"}
    assert parse_store_map_args(["Kallio shop=S2", "A=B=S3"]) == {"Kallio shop": "S2", "A=B": "S3"}
    with pytest.raises(DataError, match="LOCATION=STORE_ID"):
        parse_store_map_args(["Downtown"])
    chunk = pd.DataFrame({"Location": ["Downtown", "Uptown", ""]}, index=[2, 3, 4])
    out, errors = add_store_ids(chunk, {"Downtown": "S1"}, "t.csv")
    assert out["(derived) store_id"].tolist() == ["S1", "", ""]
    assert errors["row"].tolist() == [3] and errors["reason"].iloc[0].startswith(
        "till location 'Uptown' has no store")
    assert location_labels(chunk) == ["Downtown", "Uptown"]


def test_square_says_plainly_that_it_has_no_code_column():
    head, layout = preview_file(square_bytes(), "redemptions", name="transactions.csv",
                                store_map={"Downtown": "S1"})
    assert layout.name == "square" and "no discount name or code" in layout.note
    assert head["(derived) amount"].iloc[0] == "1212.0"
    assert head["(derived) timestamp"].iloc[0] == "2026-05-01T14:15:00Z"
    mapping = proposed_mapping([str(c) for c in head.columns], "redemptions", layout)
    assert "coupon_code" not in mapping and mapping["store_id"] == "(derived) store_id"
    with pytest.raises(DataError) as err:
        check_file(square_bytes(), "redemptions", name="transactions.csv",
                   store_map={"Downtown": "S1"})
    text = str(err.value)
    assert "Square transactions export, which cannot fill coupon_code" in text
    assert "orders with their discount codes" in text and "loyalty card" in text


def test_square_with_a_code_column_mapped_by_hand_imports():
    head, _ = preview_file(square_bytes(), "redemptions", name="t.csv", store_map={})
    mapping = {"coupon_code": "Description", "store_id": "(derived) store_id",
               "timestamp": "(derived) timestamp", "amount": "(derived) amount",
               "transaction_id": "Transaction ID"}
    report = check_file(square_bytes(), "redemptions", name="t.csv", mapping=mapping,
                        store_map={"Downtown": "S1"})
    # Description is blank in the fixture: every row is refused for its missing code, by row
    assert report.valid.empty and set(report.errors["column"]) == {"coupon_code"}


def test_shopify_orders_with_the_store_table(tmp_path, monkeypatch, capsys):
    report = check_file(orders_bytes(), "redemptions", name="orders_export.csv",
                        store_map={"Downtown": "S1", "Kallio shop": "S2"})
    assert report.layout == "shopify_orders"
    assert report.rows == 15  # 20 orders, 5 without a code; line-item rows left out
    assert "left out" in report.message
    good = report.valid
    assert set(good["store_id"]) == {"S1", "S2"} and len(good) == 10
    assert good["coupon_code"].iloc[0] == "MU7D-0001"
    assert str(good["timestamp"].iloc[0]) == "2026-05-02 07:00:00"  # UTC
    assert good["amount"].iloc[0] == 24.0 and good["transaction_id"].iloc[0] == "#1001"
    unmapped = report.errors
    assert len(unmapped) == 5 and set(unmapped["column"]) == {"store_id"}
    assert unmapped["reason"].str.startswith("till location 'Uptown' has no store").all()

    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    path = tmp_path / "orders_export.csv"
    path.write_bytes(orders_bytes())
    code = main(["import", "--kind", "redemptions", str(path), "--workspace", "tills",
                 "--store-map", "Downtown=S1", "--store-map", "Kallio shop=S2",
                 "--store-map", "Uptown=S3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["layout"] == "shopify_orders" and out["valid"] == 15
    ws = open_workspace("tills", tmp_path)
    assert ws.settings()[STORE_MAP_SETTING] == {"Downtown": "S1", "Kallio shop": "S2",
                                                "Uptown": "S3"}
    code = main(["import", "--kind", "redemptions", str(path), "--workspace", "tills",
                 "--replace"])  # the saved table serves the next import
    assert code == 0 and json.loads(capsys.readouterr().out)["valid"] == 15
    code = main(["validate", "--kind", "redemptions", str(tmp_path / "orders_export.csv")])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["valid"] == 0 and len(out["errors"]) == 15


def test_a_file_with_its_own_store_id_ignores_the_location_table():
    data = csv_bytes(["coupon_code", "store_id", "timestamp", "amount", "Location"],
                     [["MU7D", "S9", "2026-05-01T10:00:00Z", "12.5", "Somewhere"]])
    report = check_file(data, "redemptions", name="r.csv", store_map={})
    assert report.errors.empty and report.valid["store_id"].tolist() == ["S9"]
