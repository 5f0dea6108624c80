"""Funnel stages, breakdowns, bands, decay curve and daily series on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.funnel.attribution import Window
from geo.funnel.funnel import analyse_funnel, breakdown, daily_redemptions, decay_curve, funnel_stages, stage_table
from geo.funnel.journeys import band_labels, build_journeys


def targets() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "h1", "h2"],
        "email": ["A@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "h1@x.com", "h2@x.com"],
        "store_id": ["S1", "S1", "S2", "S2", "S1", "S1", "S2"],
        "travel_min": [3.0, 5.0, 12.0, 16.0, 7.5, 4.0, 9.0],
        "coupon_code": ["AAA1", "BBB2", "CCC3", "DDD4", "EEE5", pd.NA, pd.NA],
        "group": ["treatment"] * 5 + ["holdout"] * 2,
        "segment": ["loyal", "new", "loyal", "new", "loyal", "loyal", "new"],
    })


def events() -> pd.DataFrame:
    # a: sent+opened+clicked; b: delivered only; c: sent+bounced; d: opened only (implies
    # sent and delivered); e: nothing; one event for an address outside the list.
    rows = [(" A@x.com", "sent"), ("a@x.com", "opened"), ("a@x.com", "clicked"), ("a@x.com", "clicked"),
            ("b@x.com", "delivered"), ("c@x.com", "sent"), ("c@x.com", "bounced"),
            ("d@x.com", "opened"), ("zz@x.com", "clicked")]
    return pd.DataFrame({"email": [r[0] for r in rows], "event": [r[1] for r in rows],
                         "timestamp": pd.Timestamp("2026-10-01 08:00"), "campaign_id": "mc1"})


def redemptions() -> pd.DataFrame:
    return pd.DataFrame({
        "coupon_code": ["AAA1", "aaa1", "DDD4", "EEE5", "WELCOME10", "BBB2"],
        "store_id": ["S1", "S1", "S1", "S1", "S2", "S1"],
        "timestamp": pd.to_datetime(["2026-10-02 10:00", "2026-10-02 18:00", "2026-10-04 09:00",
                                     "2026-10-03 12:00", "2026-10-02 12:00", "2026-10-20 12:00"]),
        "amount": [10.0, 99.0, 25.5, 4.5, 7.0, 50.0],
        "customer_id": [pd.NA, pd.NA, pd.NA, pd.NA, "h2", pd.NA],
    })


WINDOW = Window.parse("2026-10-01/2026-10-04")


@pytest.fixture()
def result():
    return analyse_funnel(targets(), events(), redemptions(), window=WINDOW,
                          store_wide_codes=["WELCOME10"])


def test_stages_hand_counted(result):
    # redeemed: c1 (AAA1; its repeat is not counted), c4 (DDD4), c5 (EEE5); BBB2 is outside the window
    assert result.stages == {"targeted": 5, "sent": 4, "delivered": 3, "opened": 2, "clicked": 1,
                             "redeemed": 3, "revenue": 40.0}
    assert funnel_stages(result.journeys, "holdout") == {
        "targeted": 2, "sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "redeemed": 1,
        "revenue": 7.0}


def test_raw_events_without_implication():
    j = build_journeys(targets(), events(), None, implied=False)
    t = j[j["group"] == "treatment"].set_index("customer_id")
    assert t["sent"].tolist() == [True, False, True, False, False]
    assert t["delivered"].tolist() == [False, True, False, False, False]
    assert t["opened"].tolist() == [True, False, False, True, False]
    assert t["bounced"].tolist() == [False, False, True, False, False]


def test_step_and_cumulative_conversion(result):
    table = stage_table(result.journeys).set_index("stage")
    assert table["customers"].tolist() == [5, 4, 3, 2, 1, 3]
    np.testing.assert_allclose(table["step_rate"], [1, 4 / 5, 3 / 4, 2 / 3, 1 / 2, 3 / 1])
    np.testing.assert_allclose(table["cumulative_rate"], [1, 4 / 5, 3 / 5, 2 / 5, 1 / 5, 3 / 5])


def test_breakdown_by_store(result):
    s = result.by_store
    assert s.loc["S1", ["targeted", "redeemed", "holdout_targeted", "holdout_redeemed"]].tolist() == [3, 2, 1, 0]
    assert s.loc["S2", ["targeted", "redeemed", "holdout_targeted", "holdout_redeemed"]].tolist() == [2, 1, 1, 1]
    assert s.loc["S1", "revenue"] == pytest.approx(14.5)
    assert s.loc["S2", "revenue"] == pytest.approx(25.5)
    assert s.loc["S1", "redemption_rate"] == pytest.approx(2 / 3)
    assert s.loc["S2", "lift_abs"] == pytest.approx(0.5 - 1.0)
    assert s.loc["S1", "open_rate"] == pytest.approx(1 / 2)  # a opened, b only delivered


def test_breakdown_by_band_keeps_band_order(result):
    b = result.by_band
    assert list(b.index) == ["0-5", "5-10", "10-15", "15+"]
    assert b["targeted"].tolist() == [2, 1, 1, 1]
    assert b["redeemed"].tolist() == [1, 1, 0, 1]
    assert b["holdout_targeted"].tolist() == [1, 1, 0, 0]


def test_breakdown_by_segment_and_campaign():
    t = targets().assign(campaign_id=["A", "A", "B", "B", "B", "A", "B"])
    r = analyse_funnel(t, events(), redemptions(), window=WINDOW)
    assert r.by_segment.loc["loyal", "targeted"] == 3 and r.by_segment.loc["new", "redeemed"] == 1
    assert r.by_campaign.loc["A", "redeemed"] == 1 and r.by_campaign.loc["B", "redeemed"] == 2
    with pytest.raises(KeyError, match="region"):
        breakdown(r.journeys, "region")


def test_events_match_on_campaign_when_ids_overlap():
    t = targets().assign(campaign_id=["mc1", "other", "mc1", "mc1", "mc1", "mc1", "mc1"])
    j = build_journeys(t, events(), None).set_index("customer_id")
    assert not j.loc["c2", "delivered"]  # b's event belongs to campaign mc1, c2 is in "other"
    assert j.loc["c1", "clicked"]


def test_band_labels_edges():
    labels = band_labels(pd.Series([0.0, 5.0, 5.01, 10.0, 15.0, 15.5, np.nan]), [5, 10, 15])
    assert labels.astype(str).tolist() == ["0-5", "0-5", "5-10", "5-10", "10-15", "15+", "unknown"]
    assert list(labels.cat.categories) == ["0-5", "5-10", "10-15", "15+", "unknown"]


def test_band_column_in_targets_is_used_as_is():
    t = targets().assign(band=["near", "near", "far", "far", "near", "near", "far"])
    j = build_journeys(t, None, None)
    assert set(j["band"]) == {"near", "far"}


def test_decay_curve_bins(result):
    curve = decay_curve(result.journeys, bin_min=5)
    assert curve["minutes_from"].tolist() == [0, 5, 10, 15]
    assert curve["targeted"].tolist() == [1, 2, 1, 1]  # 5.0 falls in [5, 10)
    assert curve["redeemed"].tolist() == [1, 1, 0, 1]
    np.testing.assert_allclose(curve["rate"], [1, 0.5, 0, 1])
    assert (curve["rate_low"] <= curve["rate"]).all() and (curve["rate"] <= curve["rate_high"]).all()
    with pytest.raises(ValueError):
        decay_curve(result.journeys, bin_min=0)


def test_daily_redemptions_fill_missing_days(result):
    d = daily_redemptions(result.attributed)
    treat = d[d["group"] == "treatment"].set_index("date")
    assert treat["redemptions"].tolist() == [1, 1, 1]  # 2, 3, 4 October
    assert treat["revenue"].tolist() == [10.0, 4.5, 25.5]
    hold = d[d["group"] == "holdout"].set_index("date")
    assert hold["redemptions"].tolist() == [1, 0, 0]


def test_without_events_or_redemptions():
    r = analyse_funnel(targets(), None, None)
    assert r.stages == {"targeted": 5, "sent": 0, "delivered": 0, "opened": 0, "clicked": 0,
                        "redeemed": 0, "revenue": 0.0}
    assert r.daily.empty and any("No provider events" in n for n in r.notes)


def test_holdout_contacted_is_reported():
    ev = pd.concat([events(), pd.DataFrame({"email": ["h1@x.com"], "event": ["sent"],
                                            "timestamp": pd.Timestamp("2026-10-01")})])
    r = analyse_funnel(targets(), ev, None)
    assert r.anomalies["holdout_contacted"] == 1


def test_as_dict_has_the_cli_shape(result):
    d = result.as_dict()
    assert set(d["stages"]) == {"targeted", "sent", "delivered", "opened", "clicked", "redeemed", "revenue"}
    assert set(d["by_store"]) == {"S1", "S2"}
    assert d["by_store"]["S1"]["redeemed"] == 2 and isinstance(d["by_store"]["S1"]["redeemed"], int)
    assert {"treatment_rate", "holdout_rate", "lift_abs", "ci", "confidence"} <= set(d["holdout"])
    assert {"unknown_code", "double_redemption", "cross_store", "outside_window",
            "holdout_redemption"} <= set(d["anomalies"])
    assert d["anomalies"]["double_redemption"] == 1
