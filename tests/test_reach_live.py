"""The slider path of the reach page: `ReachIndex.at`, band limits, overlaps, candidates, charts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.targeting.audience import prepare_audience
from geo.targeting.holdout import _order_within
from geo.targeting.live import (
    bands_up_to,
    candidate_targets,
    cell_grid,
    overlap_by_store,
    store_positions,
)
from geo.targeting.reach import (
    compute_reach,
    index_reach,
    travel_histogram,
)
from geo.views.reach_charts import (
    chart_spec,
    histogram_table,
    travel_histogram_chart,
    waterfall_chart,
    waterfall_table,
)

STORES = pd.DataFrame({"store_id": ["S1", "S2", "S3"], "name": ["North", "South", "East"],
                       "lat": [60.0, 60.01, 60.02], "lon": [24.0, 24.01, 24.02]})


def population(n: int = 3000, seed: int = 3):
    """Customers with duplicate addresses, mixed consent, and an assignment with runner-ups."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:05d}" for i in range(n)])
    emails = np.array([f"p{i % (n * 4 // 5)}@x.com" for i in range(n)], dtype=object)
    emails[::7] = [e.upper() + " " for e in emails[::7]]
    customers = pd.DataFrame({
        "customer_id": pd.array(ids, dtype="string"),
        "email": pd.array(emails, dtype="string"),
        "first_name": pd.array(rng.choice(["Ann", "Bo"], n), dtype="string"),
        "lat": 60 + rng.random(n) * 0.03, "lon": 24 + rng.random(n) * 0.03,
        "opted_in": pd.array(rng.random(n) < 0.8, dtype="boolean"),
        "unsubscribed": pd.array(rng.random(n) < 0.05, dtype="boolean"),
        "segment": pd.array(rng.choice(["vip", "new"], n), dtype="string"),
        "online_orders_12m": pd.array(rng.poisson(2, n), dtype="Int64"),
        "last_order_date": pd.Timestamp("2026-06-01")
        - pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        "location_source": pd.array(rng.choice(["address", "ip"], n), dtype="string"),
    })
    reachable = rng.random(n) < 0.95
    first = rng.integers(0, 3, n)
    second = (first + rng.integers(1, 3, n)) % 3
    t1 = np.round(rng.gamma(2.0, 4.0, n), 2)   # ties in minutes on purpose
    store_cats = pd.Index(["S1", "S2", "S3"])
    assignment = pd.DataFrame({
        "customer_id": ids,
        "store_id": pd.Categorical.from_codes(np.where(reachable, first, -1), store_cats),
        "travel_min": np.where(reachable, t1, np.nan),
        "second_store_id": pd.Categorical.from_codes(np.where(reachable, second, -1), store_cats),
        "second_travel_min": np.where(reachable, t1 + rng.random(n) * 6, np.nan),
        "crow_km": np.where(reachable, t1 * 0.3, np.nan),
        "reachable": reachable,
    })
    return customers, assignment


def reference_targets(customers, assignment, limit, audience) -> set[str]:
    """Brute force in pandas: catchment, consent and filters, then the nearest record per address."""
    df = pd.DataFrame({"cid": customers["customer_id"].astype(str),
                       "key": audience.email_key.astype(str),
                       "t": assignment["travel_min"], "ok": assignment["reachable"]})
    keep = (df["ok"] & (df["t"] <= limit) & audience.consented & audience.not_suppressed
            & audience.not_contacted & audience.in_segment)
    best = df[keep].sort_values(["key", "t", "cid"]).groupby("key").head(1)
    return set(best["cid"])


@pytest.fixture(scope="module")
def pop():
    customers, assignment = population()
    audience = prepare_audience(customers, suppression=["P3@x.com"], today="2026-06-01")
    return customers, assignment, audience


@pytest.mark.parametrize("limit", [2.0, 5.0, 9.5, 20.0, 80.0])
def test_index_at_matches_brute_force_and_compute_reach(pop, limit):
    customers, assignment, audience = pop
    index = index_reach(audience, assignment, STORES, mode="drive")
    bands = bands_up_to([5, 10, 15], limit)
    r = index.at(bands, holdout=0.1, seed=4)
    assert set(r.targets["customer_id"]) == reference_targets(customers, assignment, limit,
                                                              audience)
    again = compute_reach(audience, assignment, STORES, bands=bands, holdout=0.1, seed=4)
    pd.testing.assert_frame_equal(r.targets, again.targets)
    pd.testing.assert_frame_equal(r.per_store, again.per_store)
    # the cheap per-move frame holds the same numbers as the full target list
    assert list(r.values["travel_min"]) == list(r.targets["travel_min"])
    assert list(r.values["group"]) == list(r.targets["group"])
    assert list(r.values["store_id"].astype(str)) == list(r.targets["store_id"])
    s = r.summary()
    assert s["targets"] == len(r.targets)
    assert s["holdout"] == int((r.targets["group"] == "holdout").sum())
    assert r.treatment_by_band().sum() == s["treatment"]


def test_candidates_thresholded_are_the_targets(pop):
    customers, assignment, audience = pop
    index = index_reach(audience, assignment, STORES, mode="drive")
    cand = candidate_targets(index)
    assert cand["customer_id"].is_unique
    for limit in (3.0, 7.0, 12.0):
        r = index.at([limit], holdout=0)
        assert set(cand.loc[cand["value"] <= limit, "customer_id"]) == set(r.targets["customer_id"])
    # positions are the customers' own
    pos = customers.set_index("customer_id").loc[cand["customer_id"]]
    assert np.allclose(pos["lat"].to_numpy(), cand["lat"].to_numpy())


def test_order_within_equals_lexsort():
    rng = np.random.default_rng(0)
    group = rng.integers(0, 40, 5000)
    key = rng.random(5000)
    _, inverse, sizes = np.unique(group, return_inverse=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    assert (_order_within(inverse, key, starts, sizes) == np.lexsort((key, inverse))).all()


def test_bands_up_to():
    assert bands_up_to([5, 10, 15], 12) == [5.0, 10.0, 12.0]
    assert bands_up_to([5, 10, 15], 15) == [5.0, 10.0, 15.0]
    assert bands_up_to([5, 10, 15], 3) == [3.0]
    assert bands_up_to([], 0.5) == [0.5]
    with pytest.raises(ValueError):
        bands_up_to([5], 0)


def test_overlap_by_store_travel_and_radius(pop):
    customers, assignment, _ = pop
    got = overlap_by_store(assignment, STORES, 8.0, mode="drive")
    both = (assignment["travel_min"] <= 8) & (assignment["second_travel_min"] <= 8)
    expected = assignment.loc[both, "store_id"].astype(str).value_counts()
    assert got.to_dict() == {s: int(expected.get(s, 0)) for s in STORES["store_id"]}
    # radius: the runner-up's distance comes from the customers' coordinates
    from geo.catchments.assign import radius_assign
    radius = radius_assign(STORES, customers, 1.0)
    got_r = overlap_by_store(radius, STORES, 1.0, mode="radius", customers=customers)
    assert got_r.sum() == int(radius["second_store_id"].notna().sum())
    with pytest.raises(ValueError):
        overlap_by_store(radius, STORES, 1.0, mode="radius")


def test_store_positions_categorical_and_text():
    ids = pd.Index(["S1", "S2"])
    cat = pd.Series(pd.Categorical(["S2", None, "S9", "S1"]))
    assert store_positions(cat, ids).tolist() == [1, -1, -1, 0]
    text = pd.Series(["S2", None, "S9", "S1"], dtype="string")
    assert store_positions(text, ids).tolist() == [1, -1, -1, 0]


def test_chart_tables_and_specs(pop):
    customers, assignment, audience = pop
    r = compute_reach(audience, assignment, STORES, bands=[5, 10], holdout=0.2, seed=1)
    wt = waterfall_table(r.waterfall)
    assert list(wt["order"]) == list(range(6))
    assert wt["note"].iloc[0] == "" and wt["note"].iloc[1].startswith("−")
    ht = histogram_table(travel_histogram(r.values, bin_width=1.0))
    assert ht.groupby("group")["targets"].sum().to_dict() == {
        "holdout": int((r.targets["group"] == "holdout").sum()),
        "treatment": int((r.targets["group"] == "treatment").sum())}
    for chart in (waterfall_chart(wt), travel_histogram_chart(ht, unit="km")):
        spec = chart_spec(chart)
        assert "datasets" not in spec and "data" not in spec
        assert all("data" not in layer for layer in spec.get("layer", []))
    assert chart_spec(travel_histogram_chart(ht, unit="km"))["encoding"]["x"]["title"] == \
        "Distance (km)"


def test_cell_grid_puts_every_candidate_in_its_cell(pop):
    customers, assignment, audience = pop
    cand = candidate_targets(index_reach(audience, assignment, STORES, mode="drive"))
    grid = cell_grid(cand, cell_m=300.0)
    assert len(grid.cell) == len(cand) and grid.cell.max() < len(grid.lon)
    # every candidate lies in its cell (300 m square around the centre, ~1 % scale error)
    dy = (cand["lat"].to_numpy() - grid.lat[grid.cell]) * 111_195
    assert (abs(dy) <= 150 * 1.01).all()
