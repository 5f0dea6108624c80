"""Benchmark the server-side reach computation for 1M customers (target: median <= 1 s).

Usage::

    .venv/bin/python bench/bench_reach.py [--customers 1000000] [--stores 50] [--repeat 7]

Builds a synthetic customer table and a synthetic assignment frame (the shape
`geo.catchments.assign.assign_customers` returns: nearest store, travel minutes, second
store, crow-flies km), then times

* ``prepare_audience`` (e-mail keys, consent rule, suppression, filters; runs
  once per filter change), and
* ``compute_reach`` (catchment + waterfall + per-store counts + one-per-address
  + stratified holdout; runs on every minutes-slider move),

and prints the median of each and of both together, plus a target list build
with coupon codes for the treatment group.

The reach page answers a slider move in the browser from data computed for
every slider step at once; it also times that preparation (`index_reach`,
`geo.targeting.preview.reach_curve` for all 60 minute steps, and the preview's
map data) against the reference method, ``ReachIndex.at`` once per step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.targeting.audience import AudienceFilters, prepare_audience  # noqa: E402
from geo.targeting.live import bands_up_to, overlap_index  # noqa: E402
from geo.targeting.preview import preview_map_json, reach_curve, slider_steps  # noqa: E402
from geo.targeting.reach import compute_reach, index_reach  # noqa: E402
from geo.targeting.targets import build_target_list


def synthetic(n: int, n_stores: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customers, stores and an assignment frame of realistic shape and value ranges."""
    rng = np.random.default_rng(seed)
    ids = pd.array([f"C{i:07d}" for i in range(n)], dtype="string")
    # 2% of addresses appear twice (same person, two records, different case)
    emails = np.array([f"user{i}@example.com" for i in range(n)], dtype=object)
    dup = rng.choice(n, size=n // 50, replace=False)
    emails[dup[: len(dup) // 2]] = [e.upper() + " " for e in emails[dup[len(dup) // 2:]]]
    customers = pd.DataFrame({
        "customer_id": ids,
        "email": pd.array(emails, dtype="string"),
        "first_name": pd.array(rng.choice(["Anna", "Ben", "Carla", "Dev"], n), dtype="string"),
        "lat": 42.5 + rng.random(n) * 0.1, "lon": 1.5 + rng.random(n) * 0.1,
        "opted_in": pd.array(rng.random(n) < 0.8, dtype="boolean"),
        "unsubscribed": pd.array(rng.random(n) < 0.05, dtype="boolean"),
        "segment": pd.array(rng.choice(["vip", "regular", "new"], n), dtype="string"),
        "online_orders_12m": pd.array(rng.poisson(2, n), dtype="Int64"),
        "last_order_date": pd.Timestamp("2026-01-01")
        - pd.to_timedelta(rng.integers(0, 720, n), unit="D"),
        "location_source": pd.array(rng.choice(["address", "postcode", "ip"], n), dtype="string"),
    })
    stores = pd.DataFrame({"store_id": [f"S{i:03d}" for i in range(n_stores)],
                           "name": [f"Store {i}" for i in range(n_stores)],
                           "address": [f"{i} Main Street" for i in range(n_stores)]})
    travel = rng.gamma(3.0, 4.0, n)
    reachable = rng.random(n) < 0.97
    store = np.where(reachable, rng.integers(0, n_stores, n), -1)
    assignment = pd.DataFrame({
        "customer_id": ids,
        "store_id": pd.array(np.where(store >= 0, stores["store_id"].to_numpy()[store], None),
                             dtype="string"),
        "travel_min": np.where(reachable, travel, np.nan),
        "second_store_id": pd.array(np.where(
            store >= 0, stores["store_id"].to_numpy()[(store + 1 + rng.integers(0, n_stores - 1, n))
                                                      % n_stores], None), dtype="string"),
        "second_travel_min": np.where(reachable, travel + rng.random(n) * 5, np.nan),
        "crow_km": travel * 0.6,
        "reachable": reachable,
    })
    return customers, stores, assignment


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall-clock and median CPU seconds of ``repeat`` calls, and the last result.

    CPU time is printed too because the benchmark machine is shared: when other
    processes compete for the cores, wall time grows while CPU time does not.
    """
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    customers, stores, assignment = synthetic(args.customers, args.stores)
    suppression = [f"USER{i}@example.com " for i in range(0, args.customers, 97)]
    filters = AudienceFilters(segments=("vip", "regular"), min_online_orders=1,
                              ordered_within_days=365)
    prep_s, prep_cpu, audience = timed(lambda: prepare_audience(
        customers, filters=filters, suppression=suppression, today="2026-01-01"), args.repeat)
    moves = iter(range(args.repeat))

    def slider_move():
        shift = next(moves) % 3  # each move changes the bands, as the minutes slider does
        return compute_reach(audience, assignment, stores, bands=[m + shift for m in (5, 10, 15)],
                             holdout=0.1, seed=7)

    reach_s, reach_cpu, r = timed(slider_move, args.repeat)
    list_s, list_cpu, targets = timed(lambda: build_target_list(
        r.targets, stores, mode="drive", offer_start="2026-02-01 09:00",
        offer_end="2026-02-03 20:00"), 3)

    steps = slider_steps("drive")
    index_s, index_cpu, index = timed(lambda: index_reach(audience, assignment, stores,
                                                          mode="drive"), 3)
    over_s, over_cpu, over = timed(lambda: overlap_index(assignment, stores, mode="drive"), 3)
    curve_s, curve_cpu, curve = timed(lambda: reach_curve(index, over, steps, holdout=0.1),
                                      args.repeat)
    ref_s, ref_cpu, ref = timed(lambda: [index.at(bands_up_to([5, 10, 15], s), holdout=0.1)
                                         .summary()["targets"] for s in steps], 1)
    assert ref == curve["targets"].tolist(), "the curve must equal ReachIndex.at at every step"
    map_s, map_cpu, raw = timed(lambda: preview_map_json(index, steps), 3)

    print(f"customers: {args.customers:,}  stores: {args.stores}  repeats: {args.repeat}")
    print(f"prepare_audience (per filter change): median {prep_s:.3f} s wall, {prep_cpu:.3f} s CPU")
    print(f"compute_reach (per slider move):      median {reach_s:.3f} s wall, {reach_cpu:.3f} s CPU"
          " (target <= 1 s)")
    print(f"both together:                        {prep_s + reach_s:.3f} s wall, "
          f"{prep_cpu + reach_cpu:.3f} s CPU")
    print(f"build_target_list with coupon codes:  median {list_s:.3f} s wall, {list_cpu:.3f} s CPU "
          f"({int((targets['group'] == 'treatment').sum()):,} codes)")
    print(f"live preview, per selection: index_reach {index_s:.3f} s, overlap_index "
          f"{over_s:.3f} s, preview map data {map_s:.3f} s ({len(raw) / 1e6:.2f} MB)")
    print(f"live preview, all {len(steps)} steps: reach_curve median {curve_s * 1000:.1f} ms wall "
          f"({curve_cpu * 1000:.1f} ms CPU); reference ReachIndex.at per step {ref_s:.2f} s; "
          f"ratio {ref_s / curve_s:.0f}x")
    print("waterfall:", ", ".join(f"{s}={c:,}" for s, c in zip(r.waterfall.stage,
                                                                r.waterfall.customers, strict=True)))
    print(f"targets: {len(r.targets):,}  holdout share: "
          f"{(r.targets['group'] == 'holdout').mean():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
