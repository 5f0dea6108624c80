"""Chart builders: each chart carries exactly its aggregated table, renders to PNG, exports CSV."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from geo.funnel.funnel import analyse_funnel
from geo.funnel.lift import lift_table
from geo.views import charts

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    targets = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "h1"], "email": ["a@x.com", "b@x.com", "c@x.com", "h@x.com"],
        "store_id": ["S1", "S2", "S2", "S1"], "travel_min": [2.0, 6.5, 11.0, 3.0],
        "coupon_code": ["AAA1", "BBB2", "CCC3", pd.NA], "group": ["treatment"] * 3 + ["holdout"]})
    events = pd.DataFrame({"email": ["a@x.com", "b@x.com"], "event": ["clicked", "opened"],
                           "timestamp": pd.Timestamp("2026-10-01")})
    red = pd.DataFrame({"coupon_code": ["AAA1", "CCC3"], "store_id": ["S1", "S2"],
                        "timestamp": pd.to_datetime(["2026-10-02", "2026-10-04"]),
                        "amount": [12.0, 8.0]})
    return analyse_funnel(targets, events, red)


def data_of(chart) -> pd.DataFrame:
    """The rows the chart will draw (inline values of its top-level data)."""
    spec = chart.to_dict()
    name = spec["data"]["name"]
    return pd.DataFrame(spec["datasets"][name])


def fields(chart) -> set[str]:
    spec = chart.to_dict()
    out = set()
    for layer in spec.get("layer", [spec]):
        for enc in layer.get("encoding", {}).values():
            if isinstance(enc, dict) and "field" in enc:
                out.add(enc["field"])
    return out


def test_funnel_chart_data(result):
    chart = charts.funnel_chart(result.stage_table)
    d = data_of(chart)
    assert d["stage"].tolist() == ["targeted", "sent", "delivered", "opened", "clicked", "redeemed"]
    assert d["customers"].tolist() == [3, 2, 2, 2, 1, 2]
    assert {"stage", "customers", "cumulative_rate"} <= fields(chart)


def test_store_chart_data(result):
    chart = charts.store_chart(result.by_store)
    d = data_of(chart).set_index("store_id")
    assert d.loc["S1", "redemption_rate"] == 1.0 and d.loc["S2", "redemption_rate"] == 0.5
    assert d.loc["S1", "holdout_rate"] == 0.0
    assert {"store_id", "redemption_rate", "holdout_rate"} <= fields(chart)


def test_decay_chart_data(result):
    chart = charts.decay_chart(result.decay)
    d = data_of(chart)
    assert d["minutes"].tolist() == [2.5, 6.5, 11.5]
    assert d["rate"].tolist() == [1.0, 0.0, 1.0]
    assert {"minutes", "rate", "rate_low", "rate_high", "targeted"} <= fields(chart)


def test_daily_chart_data(result):
    chart = charts.daily_chart(result.daily)
    d = data_of(chart)
    assert len(d) == 3 and d["redemptions"].tolist() == [1, 0, 1]
    assert {"date", "redemptions", "group"} <= fields(chart)


def test_holdout_chart_data(result):
    chart = charts.holdout_chart(lift_table(result.lift))
    d = data_of(chart)
    assert d["group"].tolist() == ["treatment", "holdout"]
    assert d["rate"].tolist() == pytest.approx([2 / 3, 0.0])


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="customers"):
        charts.funnel_chart(pd.DataFrame({"stage": ["sent"]}))


def test_chart_png_renders(result):
    png = charts.chart_png(charts.holdout_chart(lift_table(result.lift)), scale=1)
    assert png.startswith(PNG_MAGIC) and len(png) > 1000


def test_table_csv_round_trip(result):
    back = pd.read_csv(io.BytesIO(charts.table_csv(result.by_store)))
    assert back["store_id"].tolist() == ["S1", "S2"]
    assert back["redeemed"].tolist() == [1, 1]
    back = pd.read_csv(io.BytesIO(charts.table_csv(result.decay)))
    assert "minutes" in back and "Unnamed: 0" not in back
