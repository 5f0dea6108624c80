"""Treatment vs holdout: the lift interval against the textbook formula worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from geo.funnel.lift import holdout_lift, lift_table
from geo.stats import relative_lift_ci, two_proportion_ci, wilson_interval


def test_unpooled_wald_interval_by_hand():
    # p1 = 30/200 = 0.15, p2 = 10/100 = 0.10, d = 0.05
    # SE = sqrt(0.15*0.85/200 + 0.10*0.90/100) = sqrt(0.0006375 + 0.0009) = sqrt(0.0015375)
    #    = 0.0392109678...
    # z(0.975) = 1.959963985 -> half width 0.0768520...
    d, low, high = two_proportion_ci(30, 200, 10, 100)
    assert d == pytest.approx(0.05)
    assert low == pytest.approx(0.05 - 0.0768520, abs=1e-6)
    assert high == pytest.approx(0.05 + 0.0768520, abs=1e-6)


def test_wald_interval_other_level_and_empty_group():
    _, low, high = two_proportion_ci(30, 200, 10, 100, confidence=0.90)
    assert high - low == pytest.approx(2 * 1.6448536 * 0.0392109678, rel=1e-6)
    assert all(math.isnan(x) for x in two_proportion_ci(3, 10, 0, 0))


def test_relative_lift_katz_interval_by_hand():
    # RR = 0.15 / 0.10 = 1.5; SE(log RR) = sqrt(1/30 - 1/200 + 1/10 - 1/100) = sqrt(0.1183333)
    se = math.sqrt(1 / 30 - 1 / 200 + 1 / 10 - 1 / 100)
    rel, low, high = relative_lift_ci(30, 200, 10, 100)
    assert rel == pytest.approx(0.5)
    assert low == pytest.approx(1.5 * math.exp(-1.959963985 * se) - 1, rel=1e-7)
    assert high == pytest.approx(1.5 * math.exp(1.959963985 * se) - 1, rel=1e-7)
    assert math.isnan(relative_lift_ci(3, 10, 0, 10)[0])


def test_wilson_interval_known_values():
    low, high = wilson_interval([0, 5], [10, 10])
    z2 = 1.959963985 ** 2
    assert low[0] == 0 and high[0] == pytest.approx(z2 / (10 + z2))
    assert (low[1] + high[1]) / 2 == pytest.approx(0.5)
    assert np.isnan(wilson_interval([0], [0])[0][0])


def journeys(n1=200, k1=30, n2=100, k2=10, sent=180, rev1=600.0, rev2=150.0) -> pd.DataFrame:
    g = ["treatment"] * n1 + ["holdout"] * n2
    redeemed = [True] * k1 + [False] * (n1 - k1) + [True] * k2 + [False] * (n2 - k2)
    revenue = ([rev1 / k1] * k1 + [0.0] * (n1 - k1) + [rev2 / k2] * k2 + [0.0] * (n2 - k2))
    sent_flags = [True] * sent + [False] * (n1 - sent) + [False] * n2
    return pd.DataFrame({"group": g, "redeemed": redeemed, "revenue": revenue, "sent": sent_flags})


def test_holdout_lift_figures():
    lift = holdout_lift(journeys(), cost_per_email=0.10)
    assert lift.treatment_rate == pytest.approx(0.15)
    assert lift.holdout_rate == pytest.approx(0.10)
    assert lift.lift_abs == pytest.approx(0.05)
    assert [lift.lift_low, lift.lift_high] == pytest.approx([0.05 - 0.0768520, 0.05 + 0.0768520], abs=1e-6)
    assert lift.lift_rel == pytest.approx(0.5)
    assert lift.incremental_redemptions == pytest.approx(10.0)  # 0.05 x 200
    assert lift.incremental_revenue == pytest.approx((600 / 200 - 150 / 100) * 200)  # 300
    assert lift.cost == pytest.approx(18.0)  # 180 sent x 0.10
    assert lift.cost_per_incremental_visit == pytest.approx(1.8)


def test_no_positive_lift_means_no_cost_per_visit():
    lift = holdout_lift(journeys(k1=10, k2=10, rev1=100.0, rev2=100.0), cost_per_email=0.1)
    assert lift.lift_abs < 0 and lift.cost_per_incremental_visit is None


def test_no_holdout_gives_nulls_not_nan():
    lift = holdout_lift(journeys().query("group == 'treatment'"))
    assert lift.holdout_rate is None and [lift.lift_low, lift.lift_high] == [None, None]


def test_lift_table_for_the_chart():
    table = lift_table(holdout_lift(journeys()))
    assert table["group"].tolist() == ["treatment", "holdout"]
    assert table["rate"].tolist() == pytest.approx([0.15, 0.10])
    assert (table["rate_low"] < table["rate"]).all() and (table["rate"] < table["rate_high"]).all()


def test_the_interval_says_its_confidence():
    wide, narrow = holdout_lift(journeys()), holdout_lift(journeys(), confidence=0.90)
    assert (wide.confidence, narrow.confidence) == (0.95, 0.90)
    assert narrow.lift_high - narrow.lift_low < wide.lift_high - wide.lift_low
    d = narrow.as_dict()
    assert d["confidence"] == 0.90 and d["ci"] == [narrow.lift_low, narrow.lift_high]
    assert "ci95" not in d
