"""Target lists of `geo.targeting.targets`: merge fields, codes, downloads, formula neutralising, campaigns."""

from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from geo.data.tables import read_raw
from geo.errors import DataError, WorkspaceError
from geo.export import (
    manual_import_csv,
    manual_import_frame,
    prepare_targets,
    with_current_consent,
    write_manual_import,
)
from geo.export.csv_layouts import neutralise_formulas
from geo.export.downloads import (
    CLI_COLUMNS,
    download,
    download_name,
    targets_layout,
    to_csv_bytes,
    to_xlsx_bytes,
    write_download,
)
from geo.targeting.codes import existing_codes, validate
from geo.targeting.reach import reach
from geo.targeting.targets import (
    TARGET_COLUMNS,
    OfferWindow,
    build_target_list,
    load_campaign,
    save_campaign,
    treatment_only,
)
from geo.workspace import create_workspace

STORES = pd.DataFrame({"store_id": ["S1", "S2"], "name": ["=North", "South"],
                       "address": ["1 North St", "@2 South St"]})
DANGEROUS = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB", "\rCR",
             "=HYPERLINK(\"http://x\")"]


def reach_targets(n=40, holdout=0.25, seed=1, mode="drive"):
    rng = np.random.default_rng(seed)
    ids = [f"c{i:03d}" for i in range(n)]
    names = (DANGEROUS * n)[:n]
    customers = pd.DataFrame({
        "customer_id": pd.array(ids, dtype="string"),
        "email": pd.array([f"p{i}@x.com" for i in range(n)], dtype="string"),
        "first_name": pd.array(names, dtype="string"),
        "opted_in": pd.array([True] * n, dtype="boolean"),
        "unsubscribed": pd.array([False] * n, dtype="boolean"),
        "segment": pd.array(["vip", "-minus"] * (n // 2), dtype="string"),
    })
    assignment = pd.DataFrame({"customer_id": customers["customer_id"],
                               "store_id": pd.array(rng.choice(["S1", "S2"], n), dtype="string"),
                               "travel_min": rng.random(n) * 15, "crow_km": rng.random(n) * 5,
                               "reachable": True})
    if mode == "radius":                                  # crow-flies km only, as geo.catchments.assign gives
        assignment["travel_min"] = np.nan
    bands = [1, 3, 5] if mode == "radius" else [5, 10, 15]
    return reach(customers, assignment, STORES, bands=bands, mode=mode, holdout=holdout,
                 seed=seed).targets


@pytest.fixture()
def targets():
    return build_target_list(reach_targets(), STORES, mode="drive",
                             offer_start="2026-05-01 09:00", offer_end="2026-05-03")


def test_merge_fields_and_codes(targets):
    assert list(targets.columns) == list(TARGET_COLUMNS)
    treat = targets[targets["group"] == "treatment"]
    hold = targets[targets["group"] == "holdout"]
    assert len(hold) == 10 and len(treat) == 30
    assert treat["coupon_code"].map(validate).all() and treat["coupon_code"].is_unique
    assert hold["coupon_code"].isna().all()                      # holdout never gets a code
    row = targets[targets["store_id"] == "S2"].iloc[0]
    assert row["store_name"] == "South" and row["store_address"] == "@2 South St"
    assert row["mode"] == "drive"
    assert row["offer_start"] == pd.Timestamp("2026-05-01 09:00")
    assert row["offer_end"] == pd.Timestamp("2026-05-03 23:59:59")  # a date-only end: whole day
    assert row["tags"].startswith("store:S2,band:") and "min,segment:" in row["tags"]
    out = targets_layout(targets)
    assert list(out.columns[:len(CLI_COLUMNS)]) == list(CLI_COLUMNS)
    assert str(out["travel_min"].dtype) == "Int64"
    assert (out["travel_min"] - targets["travel_min"]).abs().max() <= 0.5
    assert out["offer_start"].iloc[0] == "2026-05-01 09:00"


def test_offer_window_must_not_be_empty():
    with pytest.raises(DataError, match="not after the start"):
        OfferWindow.parse("2026-05-03 10:00", "2026-05-03 09:00")
    with pytest.raises(DataError):
        OfferWindow.parse("soon", "2026-05-03")
    with pytest.raises(DataError, match="both"):
        OfferWindow.parse(None, "2026-05-03")


def test_provider_layouts_exclude_holdout(targets):
    mc, kl = manual_import_frame(targets, "mailchimp"), manual_import_frame(targets, "klaviyo")
    assert mc.columns[0] == "Email Address" and kl.columns[0] == "Email"
    assert {"First Name", "Nearest Store", "Drive Minutes", "Coupon Code", "Tags",
            "Offer Start", "Offer End"} <= set(mc.columns)
    held = set(targets.loc[targets["group"] == "holdout", "email"])
    for layout in (mc, kl):
        assert len(layout) == 30 and not held & set(layout.iloc[:, 0])
        assert layout["Coupon Code"].notna().all()
    assert len(treatment_only(targets)) == 30
    walk = targets.assign(mode="walk")
    assert "Walk Minutes" in manual_import_frame(walk, "mailchimp").columns
    assert "Distance km" in manual_import_frame(targets.assign(mode="radius"), "klaviyo").columns


def test_neutralise_leaves_numbers_and_safe_text():
    df = pd.DataFrame({"t": pd.array(["=A1", "ok", None, "-x", "a=b"], dtype="string"),
                       "n": [-1.5, 2, 3, -4, 5], "o": ["@x", 1, None, "\tq", "fine"]})
    out = neutralise_formulas(df)
    assert out["t"].tolist()[:2] == ["'=A1", "ok"] and pd.isna(out["t"].iloc[2])
    assert out["t"].tolist()[3:] == ["'-x", "a=b"]
    assert out["n"].tolist() == [-1.5, 2, 3, -4, 5]
    assert out["o"].tolist()[0] == "'@x" and out["o"].iloc[1] == 1 and out["o"].iloc[3] == "'\tq"
    cat = neutralise_formulas(pd.DataFrame({"c": pd.Categorical(["+1", "ok"]),
                                            "i": pd.Series([1, None], dtype=object)}))
    assert cat["c"].tolist() == ["'+1", "ok"] and cat["i"].tolist() == [1, None]


def _no_formula(value) -> bool:
    return not (isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("layout,bom", [("targets", False), ("targets", True),
                                        ("mailchimp", True), ("klaviyo", True)])
def test_csv_round_trip_has_no_live_formula(targets, layout, bom):
    """Every CSV meant for a spreadsheet: the target list, and any CSV for Excel."""
    data = download(targets, layout=layout, fmt="csv", bom=bom)
    assert data.startswith(b"\xef\xbb\xbf") == bom
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    cells = [c for r in rows[1:] for c in r]
    assert cells and all(_no_formula(c) for c in cells)
    assert "'=1+2" in cells and "'-2+3" in cells
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert len(back) == (40 if layout == "targets" else 30)
    name_col = "first_name" if layout == "targets" else "First Name"
    # stripping the one added quote gives the original text back (provider files: trimmed)
    original = targets if layout == "targets" else treatment_only(targets)
    names = original["first_name"] if layout == "targets" else original["first_name"].str.strip()
    assert "'\rCR" in cells if layout == "targets" else "CR" in cells
    assert sorted(back[name_col].str.removeprefix("'")) == sorted(names)


@pytest.mark.parametrize("layout", ["targets", "mailchimp"])
def test_xlsx_round_trip_has_no_formula_cells(targets, layout):
    data = download(targets, layout=layout, fmt="xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.active
    values = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert values
    assert all(c.data_type != "f" for c in values)                 # nothing is a formula
    assert all(_no_formula(c.value) for c in values)
    texts = {c.value for c in values}
    assert "'=1+2" in texts and "'@2 South St" in texts
    back = pd.read_excel(io.BytesIO(data), dtype=str)
    assert len(back) == (40 if layout == "targets" else 30)


def test_csv_bom_option_and_encoding(targets):
    accent = targets.assign(first_name="Zoë")
    plain, bom = to_csv_bytes(accent), to_csv_bytes(accent, bom=True)
    assert not plain.startswith(b"\xef\xbb\xbf") and bom.startswith(b"\xef\xbb\xbf")
    assert "Zoë" in bom.decode("utf-8-sig")
    assert to_xlsx_bytes(accent).startswith(b"PK")
    with pytest.raises(Exception, match="layout"):
        download(targets, layout="sendgrid")
    assert download_name("Spring Offer", layout="mailchimp") == "spring-offer-mailchimp.csv"


def test_save_and_load_campaign(tmp_path, targets):
    ws = create_workspace("w", tmp_path)
    params = {"mode": "drive", "bands": [5, 10, 15], "holdout": 0.25, "seed": 1}
    saved = save_campaign(ws, "Spring offer", targets, params)
    assert saved.meta["counts"] == {"targets": 40, "treatment": 30, "holdout": 10}
    loaded = load_campaign(ws, "Spring offer")
    assert loaded.meta["params"] == params
    assert loaded.window.start == pd.Timestamp("2026-05-01 09:00")
    assert loaded.targets["coupon_code"].dropna().tolist() == \
        targets["coupon_code"].dropna().tolist()
    assert set(loaded.targets["group"]) == {"treatment", "holdout"}
    with pytest.raises(WorkspaceError, match="already exists"):
        save_campaign(ws, "Spring offer", targets, params)
    # the next campaign's codes avoid every code in the workspace
    taken = existing_codes(ws)
    assert len(taken) == 30
    second = build_target_list(reach_targets(seed=2), STORES, mode="walk",
                               offer_start="2026-06-01", offer_end="2026-06-02",
                               existing_codes=taken)
    assert not set(second["coupon_code"].dropna()) & taken
    save_campaign(ws, "Summer", second, {})
    # reusing a code from another campaign is refused
    with pytest.raises(WorkspaceError, match="already in use"):
        save_campaign(ws, "Copy", targets, {})


def test_write_download_picks_format_from_extension(tmp_path, targets):
    p = write_download(targets, tmp_path / "out.xlsx", layout="klaviyo")
    assert p.read_bytes().startswith(b"PK")
    p = write_download(targets, tmp_path / "out.csv", bom=True)
    assert p.read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("mode", ["drive", "radius"])
@pytest.mark.parametrize("provider", ["mailchimp", "klaviyo"])
def test_reach_download_and_export_fallback_are_the_same_file(tmp_path, provider, mode):
    targets = build_target_list(reach_targets(mode=mode), STORES, mode=mode,
                                offer_start="2026-05-01 09:00", offer_end="2026-05-03")
    reach_csv = download(targets, layout=provider, fmt="csv")
    # the Export page: the saved campaign, consent re-checked against today's customers
    ws = create_workspace("w", tmp_path)
    save_campaign(ws, "Offer", targets, {"mode": mode})
    customers = pd.DataFrame({"customer_id": targets["customer_id"], "email": targets["email"],
                              "opted_in": True, "unsubscribed": False})
    saved = with_current_consent(load_campaign(ws, "Offer").targets, customers)
    page_csv = manual_import_csv(saved, provider).encode("utf-8")
    # ``geo export --manual-csv``: the list read back from a CSV file, every cell text (CRLF,
    # so the csv writer quotes the name holding a carriage return)
    targets.to_csv(tmp_path / "targets.csv", index=False, lineterminator="\r\n")
    cli_csv = write_manual_import(prepare_targets(read_raw(tmp_path / "targets.csv")), provider,
                                  tmp_path / "import.csv").read_bytes()
    assert reach_csv == page_csv == cli_csv
    assert b"@2 South St" in reach_csv                     # verbatim, for the provider's importer
    excel = download(targets, layout=provider, bom=True)  # the CSV for Excel: neutralised
    assert excel == b"\xef\xbb\xbf" + manual_import_csv(saved, provider, spreadsheet=True).encode()
    assert b"'@2 South St" in excel and b"'@2 South St" not in reach_csv

    back = pd.read_csv(io.BytesIO(reach_csv), dtype=str, keep_default_na=False)
    treat = treatment_only(targets).set_index("coupon_code")
    got = back.set_index("Coupon Code").loc[treat.index]
    assert len(back) == 30 and list(back.columns)[0] == ("Email Address" if provider ==
                                                         "mailchimp" else "Email")
    if mode == "radius":
        assert "Drive Minutes" not in back and "Travel Minutes" not in back
        assert np.allclose(got["Distance km"].astype(float), treat["crow_km"], atol=0.05)
        assert (treat["band"].astype(str) != "").all() and got["Tags"].str.contains("km").all()
    else:
        assert "Distance km" not in back
        assert (got["Drive Minutes"].astype(int) - treat["travel_min"]).abs().max() <= 0.5
    assert set(back["Offer Start"]) == {"2026-05-01 09:00"}    # the time of day is kept
    assert set(back["Offer End"]) == {"2026-05-03"}            # a whole day reads as a date
