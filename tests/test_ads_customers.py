"""Ad identifiers and advertising consent kept by the customers import, and ad lists built from it.

The customers table holds the optional columns the ad platforms need
(`geo.data.schema.AD_FIELDS`: last name, phone, postcode, city, region,
country, ``ads_consent``); the known layouts fill them, add-and-update,
replace and undo keep them, and `geo.ads` reads them straight from the
workspace. Every fixture is written by the test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from geo.access import AccessDenied, Actor
from geo.ads import AdsConsentMissing, build_audience, catchment_postcodes
from geo.audit import read_audit
from geo.cli import main
from geo.data.consent import advertisable
from geo.data.ingest import check_file, import_file, undo_import
from geo.data.schema import AD_FIELDS, CUSTOMERS
from geo.targeting.targets import save_campaign
from geo.workspace import create_workspace

SHOPIFY_HEADER = [
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
    "Default Address Company", "Default Address Address1", "Default Address Address2",
    "Default Address City", "Default Address Province Code", "Default Address Country Code",
    "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
    "Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags", "Latitude", "Longitude"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def shopify_bytes(n: int = 6, *, ads: list[str] | None = None) -> bytes:
    """A Shopify customers export with coordinates (and, if given, an ``ads_consent`` column)."""
    rows = []
    for i in range(n):
        rows.append([
            f"'70{i:011d}", f"Anna{i}", "Virtanen", f"Anna.{i}@Example.com", "yes",
            "", f"Mannerheimintie {i + 1}", "", "Helsinki", "", "FI", f"'00{100 + 10 * (i % 3)}",
            "", f"'040 123 45{i:02d}", "no", "10.00", "2", "", "no", "", "60.17", "24.94"])
    header = list(SHOPIFY_HEADER)
    if ads is not None:
        header.append("ads_consent")
        rows = [row + [ads[i]] for i, row in enumerate(rows)]
    return csv_bytes(header, rows)


@pytest.fixture()
def ws(tmp_path):
    return create_workspace("shop", tmp_path)


def campaign_targets(customers: pd.DataFrame, holdout: set[str] = frozenset()) -> pd.DataFrame:
    ids = customers["customer_id"].astype(str)
    return pd.DataFrame({
        "customer_id": ids, "email": customers["email"], "store_id": "S1",
        "travel_min": 5.0, "coupon_code": [f"C{i}" for i in range(len(ids))],
        "group": ["holdout" if c in holdout else "treatment" for c in ids],
        "offer_start": "2026-11-01", "offer_end": "2026-11-14"})


# --- the import keeps the columns ---------------------------------------------------------------
def test_schema_declares_the_ad_columns_as_optional():
    for name in AD_FIELDS:
        assert not CUSTOMERS.column(name).required
    assert CUSTOMERS.column("ads_consent").kind == "bool"


def test_shopify_round_trip_keeps_phone_postcode_country_and_ads_consent(ws):
    ads = ["yes", "no", "yes", "", "1", "true"]
    report = import_file(shopify_bytes(6, ads=ads), "customers", ws, name="customers_export.csv")
    assert report.errors.empty and report.layout == "shopify"
    assert report.mapping["phone"] == "Phone" and report.mapping["last_name"] == "Last Name"
    assert report.mapping["region"] == "Default Address Province Code"
    assert report.mapping["ads_consent"] == "ads_consent"
    stored = ws.load_table("customers").set_index("customer_id")
    first = stored.loc["7000000000000"]
    assert first["phone"] == "040 123 4500"                 # Excel's apostrophe gone
    assert first["postcode"] == "00100" and first["country"] == "FI"
    assert first["last_name"] == "Virtanen" and first["city"] == "Helsinki"
    assert pd.isna(first["region"])                         # blank in the export: missing
    consent = stored["ads_consent"]
    assert consent.isna().tolist() == [False, False, False, True, False, False]  # blank: not given
    assert consent.fillna(False).tolist() == [True, False, True, False, True, True]
    assert str(stored["ads_consent"].dtype) == "boolean"


def test_a_file_without_ads_consent_leaves_it_blank_and_an_update_keeps_stored_values(ws):
    import_file(shopify_bytes(3, ads=["yes", "no", "yes"]), "customers", ws, name="a.csv")
    # the same people again, without the column: stored consent stays, phones are updated
    again = shopify_bytes(3).replace(b"040 123 45", b"050 999 88")
    report = import_file(again, "customers", ws, name="b.csv")
    assert report.changes.updated == 3 and report.changes.new == 0
    stored = ws.load_table("customers")
    assert stored["ads_consent"].tolist() == [True, False, True]
    assert stored["phone"].str.startswith("050 999 88").all()
    undo_import(ws, "customers")
    assert ws.load_table("customers")["phone"].str.startswith("040 123 45").all()
    # replace: the file becomes the table, and it has no ads_consent
    import_file(again, "customers", ws, name="b.csv", mode="replace")
    replaced = ws.load_table("customers")
    assert replaced["ads_consent"].isna().all() and replaced["phone"].notna().all()
    undo_import(ws, "customers")
    assert ws.load_table("customers")["ads_consent"].tolist() == [True, False, True]


def test_a_generic_file_maps_the_columns_by_synonym():
    data = csv_bytes(
        ["id", "E-mail", "Vorname", "Surname", "Mobile", "Zip", "Town", "State", "Country",
         "Advertising consent", "consent", "lat", "lon"],
        [["1", "a@example.com", "Ann", "Lee", "+1 650 555 0100", "94043", "Mountain View",
          "CA", "United States", "yes", "yes", "37.4", "-122.1"]])
    report = check_file(data, "customers", name="generic.csv", layout=None)
    assert report.errors.empty
    assert {k: report.mapping[k] for k in AD_FIELDS} == {
        "last_name": "Surname", "phone": "Mobile", "postcode": "Zip", "city": "Town",
        "region": "State", "country": "Country", "ads_consent": "Advertising consent"}
    assert report.mapping["opted_in"] == "consent"
    row = report.valid.iloc[0]
    assert row["country"] == "US" and bool(row["ads_consent"]) is True


def test_klaviyo_and_mailchimp_fill_last_name_phone_and_region():
    klaviyo = csv_bytes(
        ["Email", "Phone Number", "First Name", "Last Name", "City", "State / Region", "Country",
         "Zip Code", "Latitude", "Longitude", "Email Marketing Consent"],
        [["kay@example.com", "+44 7700 900123", "Kay", "Doe", "Leeds", "West Yorkshire",
          "United Kingdom", "LS1 4AP", "53.79", "-1.54", "SUBSCRIBED"]])
    row = check_file(klaviyo, "customers", name="profiles.csv").valid.iloc[0]
    assert (row["last_name"], row["phone"], row["region"], row["country"]) == \
        ("Doe", "+44 7700 900123", "West Yorkshire", "GB")
    mailchimp = csv_bytes(
        ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "MEMBER_RATING",
         "LATITUDE", "LONGITUDE", "CC", "REGION", "LEID"],
        [["bo@example.com", "Bo", "Ray", "1 Main St    Springfield  IL  62701  US",
          "217-555-0100", "2", "39.78", "-89.65", "US", "IL", "1"]])
    row = check_file(mailchimp, "customers", name="subscribed_members_export.csv").valid.iloc[0]
    assert (row["last_name"], row["phone"], row["region"], row["postcode"], row["country"]) == \
        ("Ray", "217-555-0100", "IL", "62701", "US")


# --- the consent rule ---------------------------------------------------------------------------
def test_advertisable_needs_every_record_of_the_address_and_blank_is_no():
    df = pd.DataFrame({"email": ["a@x.com", " A@x.com", "b@x.com", "c@x.com", None, "d@x.com"],
                       "ads_consent": pd.array([True, False, True, None, True, True],
                                               dtype="boolean")})
    assert advertisable(df).tolist() == [False, False, True, False, False, True]
    assert not advertisable(df.drop(columns="ads_consent")).any()


# --- ad lists straight from the imported workspace ----------------------------------------------
def test_an_ad_list_from_an_imported_workspace(ws, tmp_path, monkeypatch, capsys):
    import_file(shopify_bytes(6, ads=["yes", "no", "yes", "yes", "yes", "yes"]), "customers", ws,
                name="customers_export.csv")
    customers = ws.load_table("customers")
    # a second record of Anna.3's address without advertising consent (another import)
    extra = csv_bytes(["customer_id", "email", "first_name", "lat", "lon", "opted_in",
                       "ads_consent"], [["X3", " anna.3@example.com", "A", "60.1", "24.9", "yes",
                                         "no"]])
    import_file(extra, "customers", ws, name="extra.csv")
    holdout = {customers["customer_id"].iloc[4]}
    save_campaign(ws, "fall", campaign_targets(customers, holdout), {})
    from geo.targeting.targets import load_campaign

    targets = load_campaign(ws, "fall").targets
    audience = build_audience(targets, "google", customers=ws.load_table("customers"))
    assert audience.members == 3                     # rows 0, 2, 5
    reasons = dict(zip(audience.skipped["email"], audience.skipped["reason"], strict=True))
    assert reasons["Anna.1@Example.com"].startswith("no advertising consent")
    assert reasons["Anna.3@Example.com"].startswith("no advertising consent")  # X3 refused
    assert reasons["Anna.4@Example.com"].startswith("holdout")
    row = audience.rows.iloc[0]
    assert row["Phone"] == sha("+358401234500") and row["Country"] == "FI"
    assert row["Zip"] == "00100" and row["Last Name"] == sha("virtanen")
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    out = tmp_path / "meta.csv"
    assert main(["audience", "--platform", "meta", "--workspace", "shop", "--campaign", "fall",
                 "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == 3
    rows = pd.read_csv(out, dtype=str)
    assert rows["zip"].isin([sha("00100"), sha("00110"), sha("00120")]).all()
    assert rows["country"].eq(sha("fi")).all() and rows["phone"].notna().all()
    trail = read_audit(tmp_path, "shop").events
    assert trail.iloc[-1]["action"] == "download" and trail.iloc[-1]["count"] == 3
    assert trail.iloc[-1]["details"] == {"layout": "meta-audience", "campaign": "fall"}
    viewer = Actor("Vi", "viewer", email="v@shop.example", signed_in=True)
    with pytest.raises(AccessDenied):                 # a viewer never gets the hashed list
        audience.release(actor=viewer, workspace=ws, campaign="fall")
    assert len(read_audit(tmp_path, "shop").events) == len(trail)


def test_without_ads_consent_in_the_import_nothing_is_exported_with_the_reason(
        ws, tmp_path, monkeypatch, capsys):
    import_file(shopify_bytes(4), "customers", ws, name="customers_export.csv")
    customers = ws.load_table("customers")
    assert customers["ads_consent"].isna().all()
    save_campaign(ws, "fall", campaign_targets(customers), {})
    from geo.targeting.targets import load_campaign

    with pytest.raises(AdsConsentMissing, match="no ads_consent column .*nothing is exported"):
        build_audience(load_campaign(ws, "fall").targets, "meta", customers=customers)
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    out = tmp_path / "list.csv"
    assert main(["audience", "--platform", "google", "--workspace", "shop", "--campaign", "fall",
                 "--out", str(out)]) == 2
    assert "ads_consent" in capsys.readouterr().err and not out.exists()


def test_catchment_postcodes_come_from_the_imported_postcode_column(ws):
    import_file(shopify_bytes(6, ads=["yes"] * 6), "customers", ws, name="customers_export.csv")
    customers = ws.load_table("customers")
    inside = pd.DataFrame({"customer_id": customers["customer_id"], "store_id": "S1"})
    codes = catchment_postcodes(inside, customers)
    assert codes["postcode"].tolist() == ["00100", "00110", "00120"]
    assert codes["customers"].tolist() == [2, 2, 2]
    assert np.isclose(codes["share"].sum(), 1.0, atol=1e-3)      # shares rounded to 4 places
