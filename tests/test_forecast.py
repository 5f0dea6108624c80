"""Expected outcome and ROI of `geo.targeting.forecast` from past campaigns saved in a workspace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.stats import jeffreys_interval
from geo.targeting.forecast import NO_HISTORY, campaign_history, forecast
from geo.workspace import create_workspace


def past_campaign(ws, name, *, n, minutes, opened, clicked, redeemed, amount=20.0,
                  late_redemptions=0, with_events=True):
    """Save a sent campaign: n treatment targets (+ 5 holdout) at ``minutes``."""
    emails = [f"{name}{i}@x.com" for i in range(n + 5)]
    codes = [f"{name}CODE{i}" for i in range(n)] + [None] * 5
    targets = pd.DataFrame({"customer_id": [f"{name}{i}" for i in range(n + 5)],
                            "email": emails, "store_id": "S1",
                            "travel_min": [minutes] * (n + 5), "crow_km": 1.0,
                            "coupon_code": codes,
                            "group": ["treatment"] * n + ["holdout"] * 5})
    ws.save_campaign_file(name, "targets", targets)
    ws.save_campaign_meta(name, {"offer_start": "2026-01-10T00:00:00",
                                 "offer_end": "2026-01-12T23:59:59"})
    if with_events:
        ev = [(e, "sent") for e in emails[:n]] + [(e, "opened") for e in emails[:opened]] \
            + [(e.upper(), "clicked") for e in emails[:clicked]]
        events = pd.DataFrame(ev, columns=["email", "event"])
        events["timestamp"] = pd.Timestamp("2026-01-09 10:00")
        ws.save_campaign_file(name, "events", events)
    red = pd.DataFrame({"coupon_code": [c.lower() for c in codes[:redeemed + late_redemptions]],
                        "store_id": "S1", "amount": amount,
                        "timestamp": [pd.Timestamp("2026-01-11")] * redeemed
                        + [pd.Timestamp("2026-02-01")] * late_redemptions})
    ws.save_campaign_file(name, "redemptions", red)


def test_no_history_says_so(tmp_path):
    ws = create_workspace("w", tmp_path)
    f = forecast(ws, pd.Series({"0-5": 100}), [5, 10])
    assert not f.has_history and f.message == NO_HISTORY
    assert np.isnan(f.totals.redemptions) and f.totals.recipients == 100
    past_campaign(ws, "unsent", n=50, minutes=3, opened=0, clicked=0, redeemed=0,
                  with_events=False)
    assert not forecast(ws, pd.Series({"0-5": 100}), [5, 10]).has_history


def test_history_per_band_and_window(tmp_path):
    ws = create_workspace("w", tmp_path)
    past_campaign(ws, "near", n=200, minutes=3, opened=100, clicked=40, redeemed=20,
                  late_redemptions=7)
    past_campaign(ws, "far", n=400, minutes=8, opened=120, clicked=20, redeemed=8, amount=50)
    h = campaign_history(ws, "near")
    assert len(h) == 200 and h["sent"].all()
    assert h["opened"].sum() == 100 and h["clicked"].sum() == 40
    assert h["redeemed"].sum() == 20                 # redemptions after the window don't count
    f = forecast(ws, pd.Series({"0-5": 1000, "5-10": 500}), [5, 10], cost_per_email=0.01,
                 discount_value=5.0)
    assert f.has_history and sorted(f.campaigns) == ["far", "near"]
    rates = f.rates.set_index("band")
    assert rates.loc["0-5", "redeem_rate"] == pytest.approx(0.10)
    assert rates.loc["5-10", "redeem_rate"] == pytest.approx(0.02)
    assert rates.loc["0-5", "revenue_per_redemption"] == pytest.approx(20.0)
    assert (rates["redeem_rate_low"] < rates["redeem_rate"]).all()
    assert (rates["redeem_rate"] < rates["redeem_rate_high"]).all()
    exp = f.expected.set_index("band")
    assert exp.loc["0-5", "redemptions"] == pytest.approx(100)
    assert exp.loc["5-10", "redemptions"] == pytest.approx(10)
    t = f.totals
    assert t.redemptions == pytest.approx(110)
    assert t.redemptions_low < 110 < t.redemptions_high
    assert t.revenue == pytest.approx(100 * 20 + 10 * 50)
    assert t.revenue_low < t.revenue < t.revenue_high
    cost = 1500 * 0.01 + 110 * 5.0
    assert t.cost == pytest.approx(cost)
    assert t.roi == pytest.approx((2500 - cost) / cost)
    assert t.roi_low < t.roi < t.roi_high
    # same seed, same range
    g = forecast(ws, pd.Series({"0-5": 1000, "5-10": 500}), [5, 10], cost_per_email=0.01,
                 discount_value=5.0)
    assert g.totals == t


def test_band_without_history_borrows_pooled_rates(tmp_path):
    ws = create_workspace("w", tmp_path)
    past_campaign(ws, "near", n=100, minutes=3, opened=50, clicked=10, redeemed=10)
    f = forecast(ws, pd.Series({"0-5": 10, "5-10": 10, "10-15": 0}), [5, 10, 15])
    assert list(f.rates["basis"]) == ["band", "all bands", "all bands"]
    assert "have no history" in f.message
    assert f.expected.set_index("band").loc["5-10", "redemptions"] == pytest.approx(1.0)


def test_jeffreys_interval():
    lo, hi = jeffreys_interval([0, 5, 10], [10, 10, 10], 0.95)
    assert lo[0] == 0 and hi[2] == 1
    assert 0.18 < lo[1] < 0.25 and 0.75 < hi[1] < 0.82
    lo, hi = jeffreys_interval([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])
