"""The reach page's live preview: counts and map for every slider step equal `ReachIndex.at`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo.targeting.audience import prepare_audience
from geo.targeting.live import bands_up_to, overlap_by_store, overlap_index
from geo.targeting.preview import (
    CURVE_COLUMNS,
    counts_at,
    map_counts_at,
    preview_counts_json,
    preview_map_json,
    preview_stores,
    reach_curve,
    slider_steps,
    snap_to_step,
    step_of,
    targets_by_store,
)
from geo.targeting.reach import STAGES, index_reach
from tests.test_reach_live import STORES, population


@pytest.fixture(scope="module")
def pop():
    customers, assignment = population()
    audience = prepare_audience(customers, suppression=["P3@x.com"], today="2026-06-01")
    return customers, assignment, audience


def test_slider_steps_and_snapping():
    minutes, km = slider_steps("drive"), slider_steps("radius")
    assert minutes.tolist() == list(range(1, 61))
    assert len(km) == 100 and km[0] == 0.1 and km[-1] == 10.0 and km[2] == 0.3
    assert snap_to_step(7.4, minutes) == 7.0 and snap_to_step(0.0, minutes) == 1.0
    assert snap_to_step(99, minutes) == 60.0 and snap_to_step(0.26, km) == 0.3


def test_step_of_is_the_first_step_that_includes_the_value():
    steps = np.array([1.0, 2.0, 3.0])
    got = step_of(np.array([0.2, 1.0, 1.01, 3.0, 3.5, np.nan]), steps)
    assert got.tolist() == [0, 0, 1, 2, 3, 3]


@pytest.mark.parametrize("mode,holdout", [("drive", 0.1), ("drive", 0.0), ("radius", 0.25)])
def test_curve_equals_index_at_for_every_step(pop, mode, holdout):
    customers, assignment, audience = pop
    index = index_reach(audience, assignment, STORES, mode=mode)
    over = overlap_index(assignment, STORES, mode=mode, customers=customers)
    steps = slider_steps(mode)
    curve = reach_curve(index, over, steps, holdout=holdout)
    by_store = targets_by_store(index, steps)
    assert by_store.shape == (len(STORES), len(steps))
    assert (by_store.sum(axis=0) == curve["targets"].to_numpy()).all()
    assert tuple(curve.columns) == CURVE_COLUMNS and len(curve) == len(steps)
    limits = [2, 5] if mode != "radius" else [0.5, 1.5]
    for j in range(0, len(steps), 7):
        step = float(steps[j])
        r = index.at(bands_up_to(limits, step), holdout=holdout, seed=3)
        s = r.summary()
        row = curve.iloc[j]
        for stage in STAGES[:-1]:
            assert row[stage] == s["waterfall"][stage], stage
        assert row["targets"] == s["targets"] == s["waterfall"]["one_per_email"]
        assert row["treatment"] == s["treatment"] and row["holdout"] == s["holdout"]
        shared = overlap_by_store(assignment, STORES, step, mode=mode, customers=customers)
        assert row["in_two_catchments"] == shared.sum()
        assert by_store[:, j].tolist() == r.per_store["one_per_email"].tolist()
    raw = preview_counts_json(curve, by_store)
    assert json.loads(raw)["stores"][0] == by_store[0].tolist()
    for j in (0, 9, len(steps) - 1):
        assert counts_at(raw, j) == {c: int(curve[c].iloc[j]) for c in CURVE_COLUMNS[1:]}
    assert curve["targets"].is_monotonic_increasing
    assert (curve["targets"] > 0).any() and (curve["in_two_catchments"] > 0).any()


def test_overlap_by_store_agrees_with_a_brute_force(pop):
    customers, assignment, audience = pop
    for limit in (4.0, 9.0):
        both = ((assignment["travel_min"] <= limit) & (assignment["second_travel_min"] <= limit)
                & assignment["store_id"].notna())
        expected = assignment.loc[both, "store_id"].astype(str).value_counts()
        got = overlap_by_store(assignment, STORES, limit, mode="drive")
        assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()


@pytest.mark.parametrize("points_max", [10**9, 0])
def test_map_draws_exactly_the_targets_of_each_step(pop, points_max):
    customers, assignment, audience = pop
    index = index_reach(audience, assignment, STORES, mode="drive")
    steps = slider_steps("drive")
    over = overlap_index(assignment, STORES, mode="drive")
    curve = reach_curve(index, over, steps, holdout=0.1)
    raw = preview_map_json(index, steps, points_max=points_max, cell_m=300.0)
    body = json.loads(raw)
    assert body["draw"] == ("points" if points_max else "cells")
    for j in (0, 3, 9, 30, 59):
        assert map_counts_at(raw, j) == curve["targets"].iloc[j]
    assert body["k"] == sorted(body["k"])   # the browser draws a prefix per step
    text = raw.decode()
    assert "@x.com" not in text and "c0000" not in text   # no e-mail or id leaves the server
    if points_max:
        assert len(body["lon"]) == len(body["lat"]) == len(body["k"]) == len(body["s"])
        assert set(body["s"]) <= set(range(len(STORES)))
    else:
        assert max(body["c"]) < len(body["lon"])


def test_preview_stores_carry_the_targets_colours():
    rows = preview_stores(STORES)
    assert [r["id"] for r in rows] == ["S1", "S2", "S3"]
    assert rows[0]["name"] == "North" and len(rows[0]["colour"]) == 3
    assert len({tuple(r["colour"]) for r in rows}) == 3


def test_curve_refuses_an_impossible_holdout(pop):
    customers, assignment, audience = pop
    index = index_reach(audience, assignment, STORES, mode="drive")
    over = overlap_index(assignment, STORES, mode="drive")
    with pytest.raises(ValueError, match="holdout"):
        reach_curve(index, over, slider_steps("drive"), holdout=1.0)
