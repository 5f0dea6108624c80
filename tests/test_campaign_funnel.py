"""Saved-campaign funnel helpers, like-for-like lift, band order, activity from bytes, breakdown chart."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from geo.data.activity import read_activity
from geo.errors import DataError, WorkspaceError
from geo.funnel.attribution import attribute_redemptions
from geo.funnel.campaign import (
    analyse_campaign,
    campaign_versions,
    saved_campaign,
    store_campaign_rows,
    suggested_redemption_mapping,
    upload_columns,
    with_store_names,
)
from geo.funnel.funnel import analyse_funnel
from geo.funnel.journeys import build_journeys, order_bands
from geo.funnel.lift import holdout_lift, like_for_like_lift
from geo.views import charts
from geo.workspace import create_workspace


def small_campaign() -> tuple[pd.DataFrame, pd.DataFrame]:
    """4 treatment (codes A1..A4), 4 holdout; who redeems and how is written out below."""
    targets = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(1, 9)],
        "email": [f"c{i}@x.org" for i in range(1, 9)],
        "store_id": ["S1", "S1", "S2", "S2", "S1", "S1", "S2", "S2"],
        "store_name": ["One", "One", "Two", "Two", "One", "One", "Two", "Two"],
        "travel_min": [2.0, 7.0, 3.0, 12.0, 2.0, 7.0, 3.0, 12.0],
        "coupon_code": ["A1", "A2", "A3", "A4", None, None, None, None],
        "group": ["treatment"] * 4 + ["holdout"] * 4,
    })
    redemptions = pd.DataFrame({
        # C1 with code and card, C2 with code only, C3 with code and card,
        # holdout C5 with the store-wide code and card, anonymous walk-in.
        "coupon_code": ["a1", "A2 ", "A3", "WELCOME", "WELCOME"],
        "store_id": ["S1", "S1", "S2", "S1", "S2"],
        "timestamp": pd.to_datetime(["2026-10-09 10:00"] * 5),
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
        "customer_id": ["C1", None, "C3", "C5", None],
    })
    return targets, redemptions


def test_like_for_like_counts_card_redemptions_only_in_both_groups():
    targets, redemptions = small_campaign()
    attributed = attribute_redemptions(targets, redemptions, store_wide_codes=["WELCOME"])
    journeys = build_journeys(targets, None, attributed)
    plain = holdout_lift(journeys)
    like = like_for_like_lift(journeys, attributed)
    # all redemptions: treatment 3/4 (C1, C2, C3), holdout 1/4 (C5)
    assert (plain.treatment_redeemed, plain.holdout_redeemed) == (3, 1)
    assert plain.lift_abs == pytest.approx(0.5)
    # card only: treatment 2/4 (C1, C3; C2 showed no card), holdout 1/4
    assert (like.treatment_redeemed, like.holdout_redeemed) == (2, 1)
    assert like.lift_abs == pytest.approx(0.25)
    assert like.treatment_card_share == pytest.approx(2 / 3)
    assert "like-for-like" in like.basis
    # revenue on the card basis: treatment 10 + 30 over 4, holdout 40 over 4 -> 0 per member
    assert like.incremental_revenue == pytest.approx((40 / 4 - 40 / 4) * 4)


def test_analyse_funnel_carries_both_lifts_and_the_caveat_note():
    targets, redemptions = small_campaign()
    result = analyse_funnel(targets, None, redemptions, store_wide_codes=["WELCOME"])
    assert result.lift.treatment_redeemed == 3
    assert result.lift_like_for_like.treatment_redeemed == 2
    assert result.as_dict()["holdout_like_for_like"]["lift_abs"] == pytest.approx(0.25)
    assert any("loyalty card" in n for n in result.notes)


def test_order_bands_sorts_by_leading_minutes():
    labels = pd.Series(["10-15", "0-5", None, "5-10", "15+", "near"])
    out = order_bands(labels)
    assert list(out.cat.categories) == ["0-5", "5-10", "10-15", "15+", "near", "unknown"]
    assert out.iloc[2] == "unknown"


def test_breakdown_by_text_band_column_is_in_minute_order():
    targets, redemptions = small_campaign()
    targets["band"] = ["0-5", "5-10", "0-5", "10-15"] * 2
    result = analyse_funnel(targets, None, redemptions, store_wide_codes=["WELCOME"])
    assert list(result.by_band.index) == ["0-5", "5-10", "10-15"]


def test_breakdown_chart_uses_the_table_as_data():
    targets, redemptions = small_campaign()
    result = analyse_funnel(targets, None, redemptions)
    named = with_store_names(result.by_store, result.journeys)
    assert list(named["store_name"]) == ["One (S1)", "Two (S2)"]
    spec = charts.breakdown_chart(named, "store_id", label="store_name").to_dict()
    data = next(iter(spec["datasets"].values()))
    assert [row["store_name"] for row in data] == ["One (S1)", "Two (S2)"]
    with pytest.raises(ValueError, match="segment"):
        charts.breakdown_chart(result.by_store, "store_id", label="segment")


def test_read_activity_from_bytes_csv_and_zip():
    csv = b"Email Address,Action,Timestamp\nc1@x.org,open,2026-10-07 10:00\nbad,click,2026-10-07\n"
    got = read_activity(csv, name="activity.csv", layout="mailchimp", campaign_id="K")
    assert got.layout == "mailchimp"
    assert list(got.events["event"]) == ["opened"]
    assert got.events["campaign_id"].iloc[0] == "K"
    assert int(got.report.errors["row"].iloc[0]) == 3
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("opened.csv", "Email Address,First Name\nc1@x.org,Ann\nc2@x.org,Bo\n")
        z.writestr("not_opened.csv", "Email Address\nc3@x.org\n")
    got = read_activity(buf.getvalue(), name="report.zip", sent_at="2026-10-07 09:00")
    assert sorted(got.events["email"]) == ["c1@x.org", "c2@x.org"]
    assert set(got.events["event"]) == {"opened"}
    with pytest.raises(DataError, match="report.zip"):
        read_activity(b"not a zip", name="report.zip")


@pytest.fixture()
def saved(tmp_path):
    from geo.targeting.targets import save_campaign

    ws = create_workspace("w", tmp_path)
    targets, redemptions = small_campaign()
    targets["offer_start"] = pd.Timestamp("2026-10-09")
    targets["offer_end"] = pd.Timestamp("2026-10-09 12:00")
    save_campaign(ws, "Camp", targets, {"campaign_id": "camp-1", "bands": [3, 8],
                                        "store_wide_codes": ["WELCOME"],
                                        "sent_at": "2026-10-07T09:00:00"})
    ws.save_campaign_file("Camp", "redemptions", redemptions)
    return ws


def test_campaign_settings_and_analysis_follow_campaign_json(saved):
    s = saved_campaign(saved, "Camp")
    assert s.campaign_id == "camp-1" and s.store_wide_codes == ("WELCOME",)
    assert s.bands == (3.0, 8.0) and s.sent_at == "2026-10-07T09:00:00"
    assert s.window.end == pd.Timestamp("2026-10-09 12:00")
    result = analyse_campaign(saved, "Camp")
    assert result.stages["redeemed"] == 3 and result.store_wide["redemptions"] == 2
    assert list(result.by_band.index) == ["0-3", "3-8", "8+"]
    with pytest.raises(WorkspaceError, match="Nope"):
        analyse_campaign(saved, "Nope")


def test_store_campaign_rows_replace_and_append_without_repeats(saved):
    before = campaign_versions(saved, "Camp")
    imported = read_activity(b"email,event,timestamp\nc1@x.org,clicked,2026-10-07 10:00\n",
                             name="a.csv")
    assert store_campaign_rows(saved, "Camp", "events", imported.report.valid) == 1
    assert campaign_versions(saved, "Camp") != before
    more = read_activity(b"email,event,timestamp\nc1@x.org,clicked,2026-10-07 10:00\n"
                         b"c2@x.org,opened,2026-10-07 11:00\n", name="b.csv")
    assert store_campaign_rows(saved, "Camp", "events", more.report.valid, replace=False) == 2
    assert analyse_campaign(saved, "Camp").stages["clicked"] == 1
    assert analyse_campaign(saved, "Camp").stages["opened"] == 2
    with pytest.raises(DataError, match="targets"):
        store_campaign_rows(saved, "Camp", "targets", more.report.valid)
    with pytest.raises(WorkspaceError):
        store_campaign_rows(saved, "Nope", "events", more.report.valid)


def test_upload_columns_and_suggested_mapping():
    data = b"Voucher;Shop;Date;Total;Receipt;Member\nA1;S1;2026-10-09;10,5;R1;C1\n"
    cols = upload_columns(data, name="till.csv")
    assert cols == ["Voucher", "Shop", "Date", "Total", "Receipt", "Member"]
    mapping = suggested_redemption_mapping(cols)
    assert mapping["coupon_code"] == "Voucher" and mapping["store_id"] == "Shop"
    assert mapping["amount"] == "Total" and mapping["timestamp"] == "Date"
