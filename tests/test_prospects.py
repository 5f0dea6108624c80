"""Prospects just beyond the band (`geo.targeting.prospects`): ring counts, response curve, suggestion, tags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.data.schema import CUSTOMERS
from geo.data.tables import complete
from geo.targeting.audience import AudienceFilters, prepare_audience
from geo.targeting.prospects import (
    NO_HISTORY,
    fit_decay,
    in_ring,
    marginal_returns,
    ring_counts,
    ring_outcome,
    suggest_limit,
    tag_prospects,
)
from geo.targeting.reach import STAGES, index_reach
from geo.targeting.targets import build_target_list
from geo.workspace import create_workspace

STORES = pd.DataFrame({"store_id": ["A", "B", "C"], "name": ["a", "b", "c"]})


@pytest.fixture(scope="module")
def index():
    """3,000 customers, 0-40 min from three stores; some without consent, some sharing an address."""
    rng = np.random.default_rng(4)
    n = 3000
    email = [f"p{i}@x.test" for i in range(n)]
    for i in range(0, n, 37):  # second records of an address
        email[i] = email[i - 1] if i else email[i]
    customers = complete(pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "email": email, "first_name": "x",
        "lat": 60.0, "lon": 25.0, "opted_in": rng.random(n) < 0.8, "unsubscribed": rng.random(n) < 0.05,
        "segment": rng.choice(["gold", "basic"], n)}), CUSTOMERS)
    travel = np.round(rng.uniform(0, 40, n), 2)
    travel[:5] = [5.0, 10.0, 15.0, 20.0, 12.5]  # values on the limits themselves
    assignment = pd.DataFrame({"customer_id": customers["customer_id"], "store_id": rng.choice(["A", "B", "C"], n),
                               "travel_min": travel, "crow_km": travel / 12, "reachable": True})
    audience = prepare_audience(customers, filters=AudienceFilters(segments=("gold",)),
                                suppression=["p5@x.test"])
    return index_reach(audience, assignment, STORES, mode="walk")


@pytest.mark.parametrize("limit, delta", [(10.0, 5.0), (12.5, 2.5), (0.5, 20.0), (35.0, 10.0)])
def test_ring_counts_equal_reach_beyond_minus_reach_within(index, limit, delta):
    ring = ring_counts(index, limit, delta)
    outer, inner = index.at([limit + delta], holdout=0), index.at([limit], holdout=0)
    got = ring.set_index("store_id")
    for stage in STAGES:
        diff = outer.per_store.set_index("store_id")[stage] - inner.per_store.set_index("store_id")[stage]
        assert (got.loc[["A", "B", "C"], stage].to_numpy() == diff.loc[["A", "B", "C"]].to_numpy()).all(), stage
        assert got.loc["Total", stage] == diff.sum()
    assert got.loc["Total", "one_per_email"] == len(outer.values) - len(inner.values)


def test_in_ring_excludes_the_inner_limit_and_includes_the_outer():
    assert in_ring(np.array([5.0, 5.01, 10.0, 10.01, np.nan]), 5.0, 5.0).tolist() == [False, True, True, False,
                                                                                        False]


def _campaign_with_decay(ws, name, rng, *, n=20000, p0=0.3, tau=8.0, amount=25.0):
    t = rng.uniform(0, 30, n)
    redeemed = rng.random(n) < p0 * np.exp(-t / tau)
    codes = [f"{name}X{i}" for i in range(n)]
    targets = pd.DataFrame({"customer_id": [f"{name}{i}" for i in range(n)],
                            "email": [f"{name}{i}@x.test" for i in range(n)], "store_id": "A",
                            "travel_min": t, "crow_km": t / 12, "coupon_code": codes, "group": "treatment"})
    ws.save_campaign_file(name, "targets", targets)
    ws.save_campaign_meta(name, {"offer_start": "2026-05-01T00:00:00", "offer_end": "2026-05-03T23:59:59"})
    ws.save_campaign_file(name, "events", pd.DataFrame({"email": targets["email"], "event": "delivered",
                                                        "timestamp": pd.Timestamp("2026-04-30")}))
    ws.save_campaign_file(name, "redemptions", pd.DataFrame({
        "coupon_code": np.array(codes)[redeemed], "store_id": "A", "amount": amount,
        "timestamp": pd.Timestamp("2026-05-02 12:00")}))


def test_decay_curve_recovers_the_response_by_minute(tmp_path):
    ws = create_workspace("d", tmp_path)
    assert fit_decay(ws, "walk") is None
    _campaign_with_decay(ws, "past", np.random.default_rng(2))
    curve = fit_decay(ws, "walk")
    assert curve is not None and curve.campaigns == ("past",)
    assert -curve.b == pytest.approx(1 / 8.0, rel=0.1)
    assert np.exp(curve.a) == pytest.approx(0.3, rel=0.1)
    assert curve.revenue_per_redemption == pytest.approx(25.0)


def test_ring_outcome_with_and_without_history(tmp_path, index):
    ws = create_workspace("d", tmp_path)
    plain = ring_outcome(index, 10.0, 5.0, fit_decay(ws, "walk"))
    assert not plain.has_history and plain.message == NO_HISTORY and np.isnan(plain.redemptions)
    assert plain.counts["one_per_email"].iloc[-1] > 0
    _campaign_with_decay(ws, "past", np.random.default_rng(2))
    curve = fit_decay(ws, "walk")
    o = ring_outcome(index, 10.0, 5.0, curve, holdout=0.1, cost_per_email=0.01, discount_value=5.0)
    values = index.value[(index.value > 10) & (index.value <= 15)]
    assert o.redemptions == pytest.approx(0.9 * curve.rate(values).sum())
    assert o.revenue == pytest.approx(o.redemptions * 25.0)
    assert o.cost == pytest.approx(0.01 * 0.9 * len(values) + 5.0 * o.redemptions)
    assert o.marginal_return == pytest.approx((o.revenue - o.cost) / 5.0)


def test_suggested_limit_is_where_the_marginal_return_falls_below_the_threshold(tmp_path, index):
    ws = create_workspace("d", tmp_path)
    _campaign_with_decay(ws, "past", np.random.default_rng(2))
    curve = fit_decay(ws, "walk")
    table = marginal_returns(index, curve, upto=40, step=1.0, cost_per_email=0.05, discount_value=5.0)
    assert table["per_unit"].iloc[0] > table["per_unit"].iloc[-2]  # response decays with distance
    threshold = float(table["per_unit"].median())
    best = suggest_limit(table, threshold)
    assert best is not None
    kept = table[table["limit"] < best]
    assert (kept["per_unit"] >= threshold).all()
    nxt = table[table["limit"] == best]
    assert nxt.empty or nxt["per_unit"].iloc[0] < threshold
    assert suggest_limit(table, 1e9) is None


def test_the_ring_joins_the_target_list_as_its_own_tagged_band(index):
    r = index.at([5, 10, 15], holdout=0.1)
    targets = build_target_list(r.targets, STORES, mode="walk", offer_start="2026-06-01", offer_end="2026-06-03")
    tagged = tag_prospects(targets, 10.0, 5.0, "walk")
    ring = (tagged["travel_min"] > 10) & (tagged["travel_min"] <= 15)
    assert tagged.loc[ring, "tags"].str.endswith("prospects:10-15min").all()
    assert not tagged.loc[~ring, "tags"].str.contains("prospects").any()
    assert (tagged.loc[ring, "band"].astype(str) == "10-15").all()
    assert ring.sum() == ring_counts(index, 10.0, 5.0)["one_per_email"].iloc[-1]


def test_a_list_with_the_ring_holds_only_consenting_addresses_and_never_codes_the_holdout(index):
    from geo.data.consent import contactable
    from geo.keys import email_keys

    customers = index.audience.customers
    ok = contactable(customers)
    refused = set(email_keys(customers.loc[~ok, "email"]).dropna())
    assert refused  # the fixture has addresses without consent, some shared with consenting records
    r = index.at([5, 10, 10 + 5.0], holdout=0.1)
    targets = tag_prospects(build_target_list(r.targets, STORES, mode="walk", offer_start="2026-06-01",
                                              offer_end="2026-06-03"), 10.0, 5.0, "walk")
    ring = targets["tags"].str.contains("prospects")
    assert ring.any()
    assert not set(email_keys(targets["email"])) & refused
    assert targets.loc[targets["group"] == "holdout", "coupon_code"].isna().all()
    assert (targets.loc[ring, "group"] == "holdout").any()  # the ring has its own holdout stratum


def test_ring_points_carry_position_colour_and_tooltip_and_are_thinned():
    import json

    from geo.views.market_maps import INSIDE_COLOUR, MAX_POINTS, RING_COLOUR, ring_points_json

    inside = pd.DataFrame({"lat": [47.1, 47.2, 47.3], "lon": [9.5, 9.51, 9.523456789]})
    ring = pd.DataFrame({"lat": np.linspace(47.0, 47.4, MAX_POINTS), "lon": np.full(MAX_POINTS, 9.6)})
    points = json.loads(ring_points_json(inside, ring))
    assert len(points) == 3 + MAX_POINTS // 2
    assert points[2] == {"position": [9.52346, 47.3], "colour": INSIDE_COLOUR, "tooltip": "inside the band"}
    assert [p["colour"] for p in points[3:]] == [RING_COLOUR] * (MAX_POINTS // 2)
    assert {p["tooltip"] for p in points[3:]} == {"prospects ring"}
