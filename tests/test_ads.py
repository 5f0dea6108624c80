"""Ad platforms: normalisation and SHA-256 vectors, the advertising-consent rule, the minimum, pins."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from geo.ads import (
    COLUMNS,
    MIN_MEMBERS,
    AdsConsentMissing,
    build_audience,
    catchment_postcodes,
    covering_pins,
    in_catchment,
)
from geo.ads import hashing as h
from geo.catchments.assign import haversine_km, radius_assign
from geo.cli import main


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_sha256_is_hex_of_the_normalised_value_and_never_of_blank():
    # published vector: SHA-256("test@example.com")
    assert h.sha256_hex("test@example.com") == \
        "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
    assert h.sha256_hex("") is None and h.sha256_hex(None) is None


@pytest.mark.parametrize(("raw", "google", "meta"), [
    ("  Jane.Doe@Example.COM ", "jane.doe@example.com", "jane.doe@example.com"),
    ("John.Doe+promo@GMail.com", "johndoe@gmail.com", "john.doe+promo@gmail.com"),
    ("j.o.h.n@googlemail.com", "john@googlemail.com", "j.o.h.n@googlemail.com"),
    ("first.last+tag@outlook.com", "first.last+tag@outlook.com", "first.last+tag@outlook.com"),
    ("not-an-email", None, None),
    (None, None, None),
])
def test_email_rules_per_platform(raw, google, meta):
    assert h.email_google(raw) == google
    assert h.email_meta(raw) == meta


@pytest.mark.parametrize(("raw", "country", "e164"), [
    ("+358 40 123 4567", None, "+358401234567"),
    ("040 123 4567", "FI", "+358401234567"),
    ("00358-40-1234567", None, "+358401234567"),
    ("(650) 253-0000", "US", "+16502530000"),
    ("+1 650.253.0000", "FI", "+16502530000"),     # a country code wins over the default
    ("12", "FI", None),
    ("call me", "FI", None),
])
def test_phone_formats_become_e164(raw, country, e164):
    assert h.phone_e164(raw, country) == e164
    assert h.phone_meta(raw, country) == (e164[1:] if e164 else None)


def test_names_zip_city_country():
    assert h.name_google("  Mrs. Jane ") == "jane" and h.name_google("Smith Jr.") == "smith"
    assert h.letters_only("O'Brien-Smith") == "obriensmith"
    assert h.letters_only("Jyväskylä ") == "jyväskylä"
    assert h.zip_meta(" 94043-1351 ") == "94043" and h.zip_meta("SW1A 1AA") == "sw1a1aa"
    assert h.zip_google(" 00100 ") == "00100"
    assert h.country_code(" fi ") == "FI" and h.country_code("Finland") is None


def people(n: int, **extra) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)],
        "email": [f" Person.{i}+x@GMail.com " for i in range(n)],
        "first_name": ["Mrs. Anna"] * n, "last_name": ["Virtanen"] * n,
        "phone": ["040 123 4567"] * n, "postcode": ["00100"] * n, "city": ["Helsinki"] * n,
        "country": ["FI"] * n, "store_id": ["S1"] * n, "group": ["treatment"] * n,
        "ads_consent": ["yes"] * n, **extra})


def test_google_and_meta_rows_hash_the_right_fields():
    g = build_audience(people(1), "google")
    assert list(g.rows.columns) == COLUMNS["google"]
    row = g.rows.iloc[0]
    assert row["Email"] == sha("person0@gmail.com")
    assert row["Phone"] == sha("+358401234567")
    assert row["First Name"] == sha("anna") and row["Last Name"] == sha("virtanen")
    assert row["Country"] == "FI" and row["Zip"] == "00100"       # Google: not hashed
    m = build_audience(people(1), "meta")
    assert list(m.rows.columns) == COLUMNS["meta"]
    row = m.rows.iloc[0]
    assert row["email"] == sha("person.0+x@gmail.com")
    assert row["phone"] == sha("358401234567")
    assert row["fn"] == sha("mrsanna") and row["ct"] == sha("helsinki")
    assert row["zip"] == sha("00100") and row["country"] == sha("fi")
    assert pd.isna(row["st"])                                     # blank stays blank


def test_without_ads_consent_nothing_is_exported_and_the_reason_is_given():
    with pytest.raises(AdsConsentMissing, match="no ads_consent column, so nothing is exported"):
        build_audience(people(3).drop(columns="ads_consent"), "google")


def test_consent_per_address_holdout_and_the_minimum():
    t = people(6)
    t.loc[1, "ads_consent"] = "no"
    t.loc[2, "group"] = "holdout"
    t.loc[3, "email"] = "PERSON.1+x@gmail.com"      # same address as C1, which refused
    t.loc[4, "email"] = t.loc[2, "email"]           # same address as a holdout member
    a = build_audience(t, "meta")
    assert a.members == 2                            # C0 and C5
    reasons = dict(zip(a.skipped["customer_id"], a.skipped["reason"], strict=True))
    assert reasons["C1"].startswith("no advertising consent")
    assert reasons["C3"].startswith("no advertising consent")
    assert reasons["C2"].startswith("holdout") and reasons["C4"].startswith("address in the holdout")
    assert a.below_minimum and "100" in a.warning()
    big = build_audience(people(MIN_MEMBERS), "google")
    assert not big.below_minimum and big.warning() is None


def test_consent_from_the_customers_table_by_id():
    targets = people(3).drop(columns=["ads_consent", "phone"])
    customers = people(3)[["customer_id", "email", "ads_consent", "phone"]]
    customers.loc[0, "ads_consent"] = "no"
    a = build_audience(targets, "google", customers=customers)
    assert a.members == 2 and a.rows["Phone"].notna().all()


def test_audience_command(tmp_path, capsys):
    src = tmp_path / "targets.csv"
    people(3).to_csv(src, index=False)
    out = tmp_path / "list.csv"
    assert main(["audience", "--platform", "google", "--targets", str(src), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["members"] == 3 and summary["below_minimum"] is True
    assert out.read_text().splitlines()[0] == "Email,Phone,First Name,Last Name,Country,Zip"
    people(3).drop(columns="ads_consent").to_csv(src, index=False)
    assert main(["audience", "--platform", "meta", "--targets", str(src), "--out", str(out)]) == 2
    assert "ads_consent" in capsys.readouterr().err


def _customers(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)],
                         "lat": 60.17 + rng.normal(0, 0.01, n), "lon": 24.94 + rng.normal(0, 0.02, n),
                         "postcode": rng.choice(["00100", "00120", "00130"], n)})


STORES = pd.DataFrame({"store_id": ["A", "B"], "name": ["Alpha", "Beta"],
                       "lat": [60.170, 60.175], "lon": [24.930, 24.955]})


def test_pins_contain_every_customer_they_claim():
    customers = _customers(500)
    assigned = radius_assign(STORES, customers, 1.5)
    inside = in_catchment(assigned, 1.5, by="crow_km")
    pins = covering_pins(STORES, inside, customers, share=0.9, radius_km=1.5)
    pos = customers.set_index("customer_id")
    for pin in pins.itertuples():
        ids = inside.loc[inside["store_id"] == pin.store_id, "customer_id"]
        d = haversine_km(np.full(len(ids), pin.lat), np.full(len(ids), pin.lon),
                         pos.loc[ids, "lat"].to_numpy(), pos.loc[ids, "lon"].to_numpy())
        assert pin.customers == int((d <= pin.radius_km).sum())   # every claimed one is inside
        if pin.pin == "catchment":
            assert pin.customers == len(ids) and pin.radius_km >= 1.5
        else:
            assert pin.customers >= 0.9 * len(ids)
            assert (d <= pin.radius_km - 0.01).sum() < 0.9 * len(ids)   # and it is the smallest
    codes = catchment_postcodes(inside, customers)
    assert set(codes["postcode"]) <= {"00100", "00120", "00130"}
    assert codes.groupby("store_id")["share"].sum().round(6).eq(1).all()


def test_adpins_command_on_the_demo_walk_network(demo_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(demo_root))
    out = tmp_path / "pins.csv"
    assert main(["adpins", "--network", "demo", "--stores", str(demo_root / "demo" / "stores.csv"),
                 "--customers", str(demo_root / "demo" / "customers.csv"), "--mode", "walk",
                 "--minutes", "10", "--out", str(out)]) == 0
    pins = pd.read_csv(out)
    assert list(pins.columns[:5]) == ["store_id", "name", "lat", "lon", "radius_km"]
    assert len(pins) == 2 * 8
    wide = pins[pins["pin"] == "catchment"].set_index("store_id")["radius_km"]
    tight = pins[pins["pin"] == "share_90"].set_index("store_id")["radius_km"]
    assert (tight <= wide).all() and (wide < 3).all()       # 10 walking minutes: under 3 km
    assert json.loads(capsys.readouterr().out)["stores"] == 8


def test_a_customers_file_on_the_command_line_overrides_the_workspace(tmp_path, monkeypatch,
                                                                     capsys):
    from geo.targeting.targets import save_campaign
    from geo.workspace import create_workspace

    ws = create_workspace("ads", tmp_path)
    ws.save_table("customers", people(4)[["customer_id", "email"]])   # no ads_consent
    targets = people(4)[["customer_id", "email", "store_id", "group"]].assign(
        coupon_code=["A1", "A2", "A3", "A4"], offer_start="2026-11-01", offer_end="2026-11-03")
    save_campaign(ws, "fall", targets, {})
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    out = tmp_path / "meta.csv"
    args = ["audience", "--platform", "meta", "--workspace", "ads", "--campaign", "fall",
            "--out", str(out)]
    assert main(args) == 2                                   # the workspace's customers: no consent
    assert "no ads_consent column" in capsys.readouterr().err
    contacts = people(4).rename(columns={"postcode": "zip_code", "city": "City"})
    contacts.loc[3, "ads_consent"] = "no"
    src = tmp_path / "contacts.csv"
    contacts.to_csv(src, index=False)
    assert main([*args, "--customers", str(src)]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == 3
    rows = pd.read_csv(out)
    assert list(rows.columns) == COLUMNS["meta"] and rows["zip"].eq(sha("00100")).all()
    assert rows["ct"].eq(sha("helsinki")).all()
