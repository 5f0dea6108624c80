"""Demand per store per day (`geo.targeting.daily`) and `geo forecast`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from geo.cli import main
from geo.targeting.daily import (
    DAILY_COLUMNS,
    backtest,
    campaign_daily_forecast,
    fit_profile,
    window_days,
)
from geo.targeting.targets import OfferWindow
from geo.workspace import create_workspace

STORES = ("S1", "S2")


def save_campaign_files(ws, name, *, start, days, per_store=(300, 100), minutes=(3.0, 8.0),
                        redeemed_by_day=None, sent=True, rng=None):
    """A campaign: treatment targets per store (half at each of ``minutes``), 10 holdout, events, redemptions.

    ``redeemed_by_day``: per store, redemptions on each day of the window (codes taken in order).
    """
    rows = []
    for s, n in zip(STORES, per_store, strict=True):
        for i in range(n):
            rows.append({"customer_id": f"{name}-{s}-{i}", "email": f"{name}.{s}.{i}@x.test", "store_id": s,
                         "travel_min": minutes[i % 2], "crow_km": 0.5, "coupon_code": f"{name}{s}C{i}".upper(),
                         "group": "treatment"})
    for i in range(10):
        rows.append({"customer_id": f"{name}-h{i}", "email": f"{name}.h{i}@x.test", "store_id": "S1",
                     "travel_min": 3.0, "crow_km": 0.5, "coupon_code": None, "group": "holdout"})
    targets = pd.DataFrame(rows)
    ws.save_campaign_file(name, "targets", targets)
    start = pd.Timestamp(start)
    end = start + pd.Timedelta(days=days) - pd.Timedelta(seconds=1)
    ws.save_campaign_meta(name, {"offer_start": start.isoformat(), "offer_end": end.isoformat()})
    if not sent:
        return targets
    treat = targets[targets["group"] == "treatment"]
    ws.save_campaign_file(name, "events", pd.DataFrame({"email": treat["email"], "event": "sent",
                                                        "timestamp": start - pd.Timedelta(days=1)}))
    red = []
    for s, by_day in zip(STORES, redeemed_by_day or [], strict=False):
        codes = iter(treat.loc[treat["store_id"] == s, "coupon_code"])
        for d, k in enumerate(by_day):
            for _ in range(k):
                red.append({"coupon_code": next(codes).lower(), "store_id": s, "amount": 20.0,
                            "timestamp": start + pd.Timedelta(days=d, hours=12)})
    # a late redemption and a foreign code never count
    red.append({"coupon_code": "NOTACODE", "store_id": "S1", "amount": 5.0, "timestamp": start})
    red.append({"coupon_code": treat["coupon_code"].iloc[-1], "store_id": "S2", "amount": 5.0,
                "timestamp": end + pd.Timedelta(days=3)})
    ws.save_campaign_file(name, "redemptions", pd.DataFrame(red))
    return targets


@pytest.fixture()
def ws(tmp_path):
    w = create_workspace("w", tmp_path)
    # Fri-Sun window; S1: 30/20/10, S2: 6/4/2
    save_campaign_files(w, "past", start="2026-10-09", days=3, redeemed_by_day=[[30, 20, 10], [6, 4, 2]])
    save_campaign_files(w, "plan", start="2026-11-06", days=3, per_store=(200, 50), sent=False)
    return w


def test_profile_of_one_campaign_is_its_day_shares(ws):
    prof = fit_profile(ws)
    assert prof.campaigns == ("past",) and prof.redemptions == 72 and not prof.weekday_fitted
    shares = prof.shares(window_days(OfferWindow.parse("2026-12-01", "2026-12-03")))
    assert np.allclose(shares, [36 / 72, 24 / 72, 12 / 72])
    assert "weekday" in prof.describe()


def test_days_sum_to_each_store_and_stores_to_the_campaign_total(ws):
    daily, fc, _ = campaign_daily_forecast(ws, "plan", [5, 10])
    assert list(daily.columns) == DAILY_COLUMNS
    assert fc.has_history and fc.campaigns == ["past"]
    assert daily["expected"].sum() == pytest.approx(fc.totals.redemptions)
    assert daily["revenue"].sum() == pytest.approx(float(fc.expected["revenue"].sum()))
    per_store = daily.groupby("store_id")["expected"].sum()
    # rates from "past": 0-5 min: S1 15 of 150... recipients split half/half across the two bands
    assert per_store.sum() == pytest.approx(fc.totals.redemptions)
    assert (daily["low"] <= daily["expected"]).all() and (daily["expected"] <= daily["high"]).all()
    assert daily["date"].tolist()[:3] == ["2026-11-06", "2026-11-07", "2026-11-08"]
    assert daily["weekday"].tolist()[:3] == ["Fri", "Sat", "Sun"]
    s1 = daily[daily["store_id"] == "S1"]["expected"].to_numpy()
    assert np.allclose(s1 / s1.sum(), [0.5, 1 / 3, 1 / 6])


def test_per_store_totals_follow_recipients_and_band_rates(ws):
    daily, fc, _ = campaign_daily_forecast(ws, "plan", [5, 10])
    rate = fc.rates.set_index("band")["redeem_rate"]
    # 'plan': S1 100 + 100, S2 25 + 25 recipients in bands 0-5 and 5-10
    want = {"S1": 100 * rate["0-5"] + 100 * rate["5-10"], "S2": 25 * rate["0-5"] + 25 * rate["5-10"]}
    got = daily.groupby("store_id")["expected"].sum()
    assert got["S1"] == pytest.approx(want["S1"]) and got["S2"] == pytest.approx(want["S2"])


def test_no_history_gives_no_daily_forecast_and_equal_days(tmp_path):
    w = create_workspace("empty", tmp_path)
    save_campaign_files(w, "plan", start="2026-11-06", days=4, sent=False)
    daily, fc, prof = campaign_daily_forecast(w, "plan", [5, 10])
    assert not fc.has_history and daily.empty and list(daily.columns) == DAILY_COLUMNS
    assert np.allclose(prof.shares(window_days(OfferWindow.parse("2026-11-06", "2026-11-09"))), 0.25)
    assert "same share" in prof.describe()


def test_weekday_effect_is_recovered_from_campaigns_starting_on_different_weekdays(tmp_path):
    w = create_workspace("wk", tmp_path)
    g = np.array([1.5, 1.0, 0.5])
    f = np.array([0.8, 0.8, 0.8, 0.9, 1.2, 1.6, 0.9])  # Mon..Sun
    starts = ["2026-03-02", "2026-03-12", "2026-03-20", "2026-03-28", "2026-04-05"]  # Mon, Thu, Fri, Sat, Sun
    for k, start in enumerate(starts):
        wd = window_days(OfferWindow.parse(start, pd.Timestamp(start) + pd.Timedelta(days=2)))
        w_ = g * f[wd.weekday]
        counts = np.round(3000 * w_ / w_.sum()).astype(int)
        save_campaign_files(w, f"c{k}", start=start, days=3, per_store=(3100, 10),
                            redeemed_by_day=[counts.tolist(), [0, 0, 0]])
    prof = fit_profile(w)
    assert prof.weekday_fitted
    ratio = prof.weekday_factor / f  # every weekday is seen in these windows
    assert np.allclose(ratio / ratio.mean(), 1, atol=0.02)
    assert np.allclose(prof.day_weight / prof.day_weight.sum(), g / g.sum(), atol=0.01)


def test_backtest_scores_the_forecast_of_another_campaign(tmp_path):
    w = create_workspace("bt", tmp_path)
    # both stores redeem 20 % in a 3:2:1 daily pattern: the band rates and the profile fit exactly
    kw = {"days": 3, "per_store": (300, 120)}
    save_campaign_files(w, "A", start="2026-10-09", redeemed_by_day=[[30, 20, 10], [12, 8, 4]], **kw)
    save_campaign_files(w, "B", start="2026-10-23", redeemed_by_day=[[30, 20, 10], [12, 8, 4]], **kw)
    table, mape = backtest(w, "A", "B", [5, 10])
    assert mape == pytest.approx(0.0, abs=1e-9)  # same targets, same outcome
    assert table["actual"].sum() == 84
    save_campaign_files(w, "C", start="2026-11-06", redeemed_by_day=[[20, 20, 20], [3, 3, 6]], **kw)
    table, mape = backtest(w, "A", "C", [5, 10])
    actual = np.array([20, 20, 20, 3, 3, 6])
    expected = np.array([30, 20, 10, 12, 8, 4])
    assert table["expected"].to_numpy() == pytest.approx(expected)
    assert table["actual"].tolist() == actual.tolist()
    assert mape == pytest.approx(np.mean(np.abs(expected - actual) / actual) * 100)


def test_cli_prints_expected_low_high_per_store_and_date(ws, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GEO_DATA_DIR", str(ws.root))
    out = tmp_path / "daily.csv"
    assert main(["forecast", "--workspace", "w", "--campaign", "plan", "--bands", "5,10", "--json",
                 "--out", str(out)]) == 0
    res = json.loads(capsys.readouterr().out)
    days = res["per_store"]["S1"]
    assert set(days) == {"2026-11-06", "2026-11-07", "2026-11-08"}
    assert set(days["2026-11-06"]) >= {"expected", "low", "high"}
    total = sum(d["expected"] for s in res["per_store"].values() for d in s.values())
    assert total == pytest.approx(res["expected_total"], abs=0.01)
    assert len(pd.read_csv(out)) == 6
    assert main(["forecast", "--workspace", "w", "--campaign", "past", "--bands", "5,10",
                 "--backtest-from", "past"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["mape_percent"] == pytest.approx(backtest(ws, "past", "past", [5, 10])[1], abs=1e-3)
    assert scored["per_store"]["S1"]["2026-10-09"]["actual"] == 30
    assert main(["forecast", "--workspace", "w", "--campaign", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
