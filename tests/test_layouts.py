"""Shopify, Mailchimp (CSV and ZIP) and Klaviyo exports: recognised, mapped, imported, consent kept.

Every fixture is written by the test: a few dozen rows with the quirks real
exports have (byte-order mark, ``'`` before Shopify ids, Mailchimp's two-space
ADDRESS cells, the unsubscribed and cleaned files of the audience ZIP).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pandas as pd
import pytest

from geo.cli import main
from geo.data.columns import check_mapping, missing_required
from geo.data.consent import contactable
from geo.data.identity import email_customer_ids
from geo.data.ingest import (
    check_file,
    import_file,
    import_history,
    preview_file,
    proposed_mapping,
)
from geo.data.layouts import (
    LAYOUTS,
    derived,
    detect_layout,
    mailchimp_status,
    resolve_layout,
    split_packed_address,
)
from geo.data.schema import CUSTOMERS
from geo.errors import DataError
from geo.workspace import create_workspace, open_workspace

SHOPIFY_HEADER = [
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
    "Default Address Company", "Default Address Address1", "Default Address Address2",
    "Default Address City", "Default Address Province Code", "Default Address Country Code",
    "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
    "Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags",
    "Birthday (customer.metafields.facts.birth_date)"]
MAILCHIMP_HEADER = [
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "MEMBER_RATING",
    "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF",
    "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS"]
UNSUB_EXTRA = ["UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON",
               "UNSUB_REASON_OTHER"]
CLEAN_EXTRA = ["CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"]
KLAVIYO_HEADER = ["Email", "Phone Number", "First Name", "Last Name", "Address", "Address 2",
                  "City", "State / Region", "Country", "Zip Code", "Latitude", "Longitude",
                  "Email Marketing Consent", "Email Marketing Consent Timestamp"]


def csv_bytes(header: list[str], rows: list[list[str]], *, bom: bool = True) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig" if bom else "utf-8")


def shopify_rows(n: int = 30) -> list[list[str]]:
    rows = []
    for i in range(n):
        rows.append([
            f"'70{i:011d}", f"Ann{i}", "Lee", f"Ann{i}@Example.com", "yes" if i % 3 else "no",
            "", f"{i + 1} Rue de Rivoli", "Apt 2" if i % 5 == 0 else "", "Paris", "",
            "FR", f"'750{i % 20 + 1:02d}", "", f"+33 1 00 00 00 {i:02d}", "no",
            f"{10.5 * i:.2f}", str(i % 7), "", "no", "vip, newsletter", ""])
    return rows


def mailchimp_row(i: int, email: str, extra: int = 0) -> list[str]:
    located = i % 2 == 0
    address = f"{i} Main St    Springfield  IL  627{i:02d}  US"  # blank addr2: four spaces
    row = [email, f"Bo{i}", "Ray", address, "", "2", "2025-01-02 10:00:00", "",
           "2025-01-02 10:01:00", "", "39.78" if located else "", "-89.65" if located else "",
           "-6", "-5", "America/Chicago", "US", "IL", "2025-06-01 09:00:00", str(1000 + i),
           f"e{i}", "", ""]
    return row + [""] * extra


def mailchimp_zip() -> bytes:
    subscribed = [mailchimp_row(i, f"sub{i}@example.com") for i in range(20)]
    subscribed.append(mailchimp_row(90, "Both@Example.com"))  # also in the unsubscribed file
    unsub = [mailchimp_row(40 + i, f"unsub{i}@example.com", len(UNSUB_EXTRA)) for i in range(5)]
    unsub.append(mailchimp_row(91, " both@example.com ", len(UNSUB_EXTRA)))
    for row in unsub:
        row[len(MAILCHIMP_HEADER)] = "2025-05-01 08:00:00"
    cleaned = [mailchimp_row(60 + i, f"clean{i}@example.com", len(CLEAN_EXTRA)) for i in range(4)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("subscribed_members_export_4f1a.csv",
                         csv_bytes(MAILCHIMP_HEADER, subscribed))
        archive.writestr("unsubscribed_members_export_4f1a.csv",
                         csv_bytes(MAILCHIMP_HEADER + UNSUB_EXTRA, unsub))
        archive.writestr("cleaned_members_export_4f1a.csv",
                         csv_bytes(MAILCHIMP_HEADER + CLEAN_EXTRA, cleaned))
    return buf.getvalue()


def klaviyo_bytes() -> bytes:
    consent = ["SUBSCRIBED", "NEVER_SUBSCRIBED", "UNSUBSCRIBED", "SUPPRESSED"]
    rows = [[f"kay{i}@example.com", "", f"Kay{i}", "Doe", f"{i} High St", "", "Leeds",
             "West Yorkshire", "United Kingdom", "LS1 4AP", "53.79" if i % 3 else "",
             "-1.54" if i % 3 else "", consent[i % 4], "2025-03-01T10:00:00+00:00"]
            for i in range(24)]
    return csv_bytes(KLAVIYO_HEADER, rows)


@pytest.fixture()
def ws(tmp_path):
    return create_workspace("shop", tmp_path)


# --- recognition ------------------------------------------------------------------------------
def test_each_layout_is_recognised_from_its_headers():
    assert detect_layout(SHOPIFY_HEADER, "customers").name == "shopify"
    assert detect_layout(MAILCHIMP_HEADER, "customers").name == "mailchimp"
    assert detect_layout(KLAVIYO_HEADER, "customers").name == "klaviyo"
    assert detect_layout(["$email", "$first_name", "$city", "$zip"], "customers").name == "klaviyo"
    assert detect_layout(["id", "email", "lat", "lon", "opted_in"], "customers") is None
    assert detect_layout(SHOPIFY_HEADER, "redemptions") is None
    with pytest.raises(DataError, match="unknown layout 'hubspot'"):
        resolve_layout("hubspot", SHOPIFY_HEADER, "customers", "f.csv")
    with pytest.raises(DataError, match="holds redemptions"):
        resolve_layout("square", SHOPIFY_HEADER, "customers", "f.csv")
    assert resolve_layout("klaviyo", SHOPIFY_HEADER, "customers", "f.csv") is LAYOUTS["klaviyo"]


def test_mailchimp_status_from_file_names():
    assert mailchimp_status("subscribed_members_export_4f1a.csv") == "subscribed"
    assert mailchimp_status("dir/unsubscribed_members_export.csv") == "unsubscribed"
    assert mailchimp_status("cleaned_email_audience_export_x.csv") == "cleaned"
    assert mailchimp_status("nonsubscribed_email_audience_export.csv") == "nonsubscribed"
    assert mailchimp_status("audience.csv") is None


def test_two_space_address_cells_are_split():
    cells = pd.Series(["1 Main St  Apt 4  Springfield  IL  62701  US",
                       "9 Elm Rd    Leeds    LS1 4AP  GB", "just a street", ""])
    parts = split_packed_address(cells)
    assert parts.iloc[0].tolist() == ["1 Main St, Apt 4", "Springfield", "IL", "62701", "US"]
    assert parts.iloc[1].tolist() == ["9 Elm Rd", "Leeds", "", "LS1 4AP", "GB"]
    assert parts.iloc[2].tolist() == ["just a street", "", "", "", ""]
    assert parts.iloc[3].tolist() == ["", "", "", "", ""]


def test_preview_shows_the_layout_and_its_mapping():
    data = csv_bytes(SHOPIFY_HEADER, shopify_rows(3))
    head, layout = preview_file(data, "customers", name="customers_export.csv")
    assert layout.name == "shopify" and len(head) == 3
    mapping = proposed_mapping([str(c) for c in head.columns], "customers", layout)
    assert mapping["customer_id"] == "Customer ID"
    assert mapping["opted_in"] == "Accepts Email Marketing"
    assert mapping["online_orders_12m"] == "Total Orders"
    assert mapping["address"] == derived("address")
    assert mapping["postcode"] == "Default Address Zip"
    assert mapping["country"] == "Default Address Country Code"
    assert head[derived("address")].iloc[0] == "1 Rue de Rivoli, Apt 2"


# --- round trips to the canonical table ----------------------------------------------------------
def test_shopify_export_round_trips(ws):
    data = csv_bytes(SHOPIFY_HEADER, shopify_rows(30))
    report = check_file(data, "customers", name="customers_export.csv")
    assert report.layout == "shopify" and report.rows == 30
    # no coordinate columns: every row is refused until located, once, with the reason
    assert report.valid.empty and len(report.errors) == 30
    assert set(report.errors["column"]) == {"lat"}
    assert report.errors["reason"].str.startswith("not located: no coordinates").all()
    assert report.errors["value"].iloc[0] == "1 Rue de Rivoli, Apt 2, 75001 Paris, FR"
    rows = shopify_rows(30)
    for row in rows:
        row += ["48.86", "2.35"]
    located = csv_bytes(SHOPIFY_HEADER + ["Latitude", "Longitude"], rows)
    report = import_file(located, "customers", ws, name="customers_export.csv")
    assert report.errors.empty and report.layout == "shopify"
    stored = ws.load_table("customers").set_index("customer_id")
    assert stored.index[0] == "70" + "0" * 11  # the leading apostrophe is gone
    assert stored["opted_in"].tolist() == [bool(i % 3) for i in range(30)]
    assert stored["online_orders_12m"].tolist() == [i % 7 for i in range(30)]
    assert set(stored["location_source"]) == {"given"}
    assert stored.loc["7000000000005", "email"] == "Ann5@Example.com"
    assert report.valid["postcode"].iloc[0] == "75001"  # Excel's apostrophe gone here too
    assert ws.settings()["imports"]["customers"]["layout"] == "shopify"
    assert import_history(ws).loc[0, "layout"] == "shopify"


def test_mailchimp_zip_sets_consent_off_from_unsubscribed_and_cleaned_files(ws):
    data = mailchimp_zip()
    report = import_file(data, "customers", ws, name="audience_export_4f1a.zip")
    assert report.layout == "mailchimp" and report.rows == 31
    stored = ws.load_table("customers")
    by_email = stored.set_index(stored["email"].str.strip().str.lower())
    assert by_email.loc["sub2@example.com", "opted_in"]
    assert not by_email.loc["sub2@example.com", "unsubscribed"]
    for who in ("unsub0@example.com", "unsub4@example.com"):
        assert not by_email.loc[who, "opted_in"] and by_email.loc[who, "unsubscribed"]
    assert not by_email.loc["clean2@example.com", "opted_in"]
    assert not by_email.loc["clean2@example.com", "unsubscribed"]
    # the address in both the subscribed and the unsubscribed file is off, once
    assert not by_email.loc["both@example.com", "opted_in"]
    assert "duplicate customer_id" in " ".join(report.errors["reason"])
    assert int(contactable(stored).sum()) == 10  # the located subscribed rows, "both" left out
    # ids come from the e-mail identity; Mailchimp's coordinates are an IP estimate
    assert stored["customer_id"].tolist() == email_customer_ids(stored["email"]).tolist()
    located = stored["lat"].notna()
    assert set(stored.loc[located, "location_source"]) == {"ip"}
    not_located = report.errors[report.errors["column"] == "lat"]
    assert len(not_located) == 15  # odd rows carry no LATITUDE: they need geocoding
    # the packed ADDRESS became the location fields
    row = report.valid.set_index("email").loc["sub2@example.com"]
    assert (row["address"], row["city"], row["postcode"], row["country"]) == \
        ("2 Main St", "Springfield", "62702", "US")


def test_same_people_keep_their_ids_across_imports(ws):
    data = mailchimp_zip()
    import_file(data, "customers", ws, name="audience.zip")
    again = import_file(data, "customers", ws, name="audience.zip")
    assert again.changes.new == 0 and again.changes.updated == 0
    assert again.changes.unchanged == len(again.valid)


def test_an_unsubscribed_file_alone_turns_consent_off_never_on(ws):
    people = csv_bytes(["customer_id", "email", "first_name", "lat", "lon", "opted_in"],
                       [["c1", "UNSUB0@example.com", "U", "39.7", "-89.6", "yes"],
                        ["c2", "other@example.com", "O", "39.7", "-89.6", "no"]])
    import_file(people, "customers", ws, name="crm.csv")
    unsub = csv_bytes(MAILCHIMP_HEADER + UNSUB_EXTRA,
                      [mailchimp_row(2, "unsub0@example.com", len(UNSUB_EXTRA)),
                       mailchimp_row(4, "other@example.com", len(UNSUB_EXTRA))])
    report = import_file(unsub, "customers", ws, name="unsubscribed_members_export_4f1a.csv")
    assert report.changes.new == 0  # matched on the e-mail address, stored ids kept
    stored = ws.load_table("customers").set_index("customer_id")
    assert not stored.loc["c1", "opted_in"] and stored.loc["c1", "unsubscribed"]
    assert not stored.loc["c2", "opted_in"] and stored.loc["c2", "unsubscribed"]
    assert not contactable(stored.reset_index()).any()


def test_mailchimp_file_of_unknown_status_opts_nobody_in():
    data = csv_bytes(MAILCHIMP_HEADER, [mailchimp_row(i, f"x{i}@example.com") for i in range(4)])
    report = check_file(data, "customers", name="members.csv")
    assert report.layout == "mailchimp"
    assert not report.valid["opted_in"].any()
    assert "cannot be told" in report.message


def test_klaviyo_profiles_round_trip(ws):
    report = import_file(klaviyo_bytes(), "customers", ws, name="profiles.csv")
    assert report.layout == "klaviyo" and report.rows == 24
    stored = ws.load_table("customers").set_index("email")
    assert len(stored) == 16 and len(report.errors) == 8  # every third row has no coordinates
    consent = {f"kay{i}@example.com": ["SUBSCRIBED", "NEVER_SUBSCRIBED", "UNSUBSCRIBED",
                                       "SUPPRESSED"][i % 4] for i in range(24)}
    for email, row in stored.iterrows():
        assert bool(row["opted_in"]) == (consent[email] == "SUBSCRIBED")
        assert bool(row["unsubscribed"]) == (consent[email] in ("UNSUBSCRIBED", "SUPPRESSED"))
    assert set(stored["location_source"]) == {"given"}
    one = report.valid.set_index("email").loc["kay1@example.com"]
    # the country name becomes its ISO 3166-1 alpha-2 code (the ad lists need the code)
    assert (one["postcode"], one["country"], one["city"]) == ("LS1 4AP", "GB", "Leeds")
    assert stored["customer_id"].str.startswith("em-").all()


def test_customer_id_is_optional_and_email_stays_mapped():
    columns = ["Email Address", "First Name", "opt-in", "lat", "lon"]
    mapping = proposed_mapping(columns, "customers", None)
    assert "customer_id" not in mapping and mapping["email"] == "Email Address"
    assert missing_required(mapping, CUSTOMERS) == []
    check_mapping(mapping, columns, CUSTOMERS, "f.csv")  # does not raise
    data = csv_bytes(columns, [[" Ann@Example.com", "Ann", "yes", "60.1", "24.9"],
                               ["ann@example.com", "Ann", "yes", "60.1", "24.9"],
                               ["", "Nobody", "yes", "60.1", "24.9"]])
    report = check_file(data, "customers", name="plain.csv")
    first = email_customer_ids(pd.Series(["ann@example.com"]))[0]
    assert report.valid["customer_id"].tolist() == [first]
    reasons = report.errors.set_index("row")["reason"].to_dict()
    assert reasons[3].startswith("duplicate customer_id") and reasons[4] == "missing value"


# --- command line -----------------------------------------------------------------------------
def test_cli_import_reports_the_layout(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    path = tmp_path / "audience.zip"
    path.write_bytes(mailchimp_zip())
    code = main(["import", "--kind", "customers", str(path), "--workspace", "mc"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["layout"] == "mailchimp" and report["valid"] == 16
    assert len(open_workspace("mc", tmp_path).load_table("customers")) == 16
    plain = tmp_path / "plain.csv"
    plain.write_text("id,email,first_name,lat,lon,opted_in\n1,a@b.co,A,1,1,yes\n")
    code = main(["import", "--kind", "customers", str(plain), "--workspace", "mc"])
    assert code == 0 and json.loads(capsys.readouterr().out)["layout"] is None
    code = main(["validate", "--kind", "customers", str(path), "--layout", "shopify"])
    out, err = capsys.readouterr()
    assert code == 2 and "missing required column(s)" in err and out == ""


def test_klaviyo_without_consent_opts_nobody_in_and_says_so():
    data = csv_bytes(["Email", "First Name", "City", "State / Region", "Latitude", "Longitude"],
                     [["k@example.com", "K", "Leeds", "West Yorkshire", "53.79", "-1.54"]])
    report = check_file(data, "customers", name="profiles.csv")
    assert report.layout == "klaviyo" and not report.valid["opted_in"].any()
    assert "no consent column" in report.message
    generic = csv_bytes(["Email", "First Name", "Zip Code", "Opt-in", "lat", "lon"],
                        [["g@example.com", "G", "10115", "yes", "52.5", "13.4"]])
    plain = check_file(generic, "customers", name="crm.csv")
    assert plain.layout is None and plain.valid["opted_in"].tolist() == [True]


def test_a_blank_customer_id_is_filled_from_the_email():
    data = csv_bytes(["id", "email", "first_name", "opted_in", "lat", "lon"],
                     [["c1", "a@x.com", "A", "yes", "60.1", "24.9"],
                      ["", "B@x.com ", "B", "yes", "60.1", "24.9"],
                      ["'c3", "c@x.com", "C", "yes", "60.1", "24.9"]])
    report = check_file(data, "customers", name="crm.csv")
    assert report.valid["customer_id"].tolist() == [
        "c1", email_customer_ids(pd.Series(["b@x.com"]))[0], "c3"]


def test_a_generic_file_with_email_and_zip_is_not_taken_for_klaviyo():
    from geo.data.layouts import detect_layout

    assert detect_layout(["Email", "Zip", "consent", "lat", "lon"], "customers") is None
    assert detect_layout(["Email", "$zip", "$city"], "customers").name == "klaviyo"


def test_a_trimmed_shopify_export_is_still_recognised():
    from geo.data.layouts import detect_layout

    cols = ["Customer ID", "First Name", "Email", "Accepts Email Marketing", "Default Address Zip",
            "Default Address Country Code", "Phone"]
    assert detect_layout(cols, "customers").name == "shopify"
