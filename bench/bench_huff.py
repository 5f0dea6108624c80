"""Benchmark the Huff store-choice model: 1M customers x 50 stores on the Andorra drive network.

Run: ``.venv/bin/python bench/bench_huff.py [--customers 1000000] [--minutes 10] [--repeats 3]``

Stores: ``andorra-stores-50.csv`` (shared extract), attractiveness drawn
log-normal with a fixed seed. Customers: 97 % within ~150 m of a random node,
3 % anywhere in the network's box (seeded). It prints medians of ``--repeats``
runs (wall and process CPU seconds; the machine is shared) for:

* the choice sets (stores within ``--minutes`` of each customer), given the
  store times and the customers' snap (both reused by the app);
* probabilities + expected visitors + the per-customer summary (contested);
* calibration (MLE of alpha and beta) on 1M choices simulated at beta = 2,
  alpha = 1 (the estimates are printed beside the truth);
* the reference: a dense customers x stores matrix (`customer_seconds`, in
  chunks of 100,000 to stay in memory) and a dense softmax over every store,
  masked beyond the band; its expected visitors must equal ours;

then the ratio reference / ours, the number of (customer, store) pairs kept
(the memory bound: stores within the band, not stores x customers), peak
memory and the load average. The ``target`` is <= 5 s for probabilities plus
calibration.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.catchments.assign import customer_seconds, snap_customers  # noqa: E402
from geo.catchments.huff import (  # noqa: E402
    calibrate,
    customer_summary,
    expected_visitors,
    network_choice_sets,
    probabilities,
    simulate_choices,
)
from geo.errors import NetworkWarning  # noqa: E402
from geo.network.load import load_network  # noqa: E402
from geo.network.routing import Router  # noqa: E402

OSM = Path(__file__).resolve().parents[2] / "shared" / "osm"
_CHUNK = 100_000


def median_times(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and process CPU seconds of ``repeats`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def synthetic_customers(router: Router, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` customers: 97 % within ~150 m of a random node, 3 % anywhere in the network's box."""
    rng = np.random.default_rng(seed)
    near = int(n * 0.97)
    idx = rng.integers(0, len(router.node_ids), near)
    lat = np.concatenate([router.lat[idx] + rng.normal(0, 0.001, near),
                          rng.uniform(router.lat.min(), router.lat.max(), n - near)])
    lon = np.concatenate([router.lon[idx] + rng.normal(0, 0.001, near),
                          rng.uniform(router.lon.min(), router.lon.max(), n - near)])
    return pd.DataFrame({"customer_id": np.arange(n).astype(str), "lat": lat, "lon": lon})


def dense_reference(times, snap, limit_min: float, alpha: float, beta: float, log_a: np.ndarray) -> np.ndarray:
    """Expected visitors from a dense customers x stores matrix, chunk by chunk (the reference)."""
    n = len(snap.node)
    total = np.zeros(len(times.store_ids))
    for start in range(0, n, _CHUNK):
        sl = slice(start, start + _CHUNK)
        part = type(snap)(node=snap.node[sl], dist_m=snap.dist_m[sl], access_s=snap.access_s[sl],
                          reason=snap.reason[sl], xy=snap.xy[sl], served=snap.served)
        sec = customer_seconds(times, part)
        ok = sec <= limit_min * 60
        t = np.maximum(np.where(ok, sec / 60, 1.0), 0.5)
        u = np.where(ok, alpha * log_a[None, :] - beta * np.log(t), -np.inf)
        top = u.max(axis=1, keepdims=True)
        has = np.isfinite(top[:, 0])
        e = np.exp(u[has] - top[has])
        total += (e / e.sum(axis=1, keepdims=True)).sum(axis=0)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=10.0, help="the longest band, drive minutes")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(OSM / "andorra.osm.pbf", "drive")
    router = Router.from_graph(G)
    stores = pd.read_csv(OSM / "andorra-stores-50.csv")
    stores["attractiveness"] = np.round(np.exp(np.random.default_rng(3).normal(7, 0.7, len(stores))))
    customers = synthetic_customers(router, args.customers)
    times = router.store_times(stores, limit_min=args.minutes)
    snap = snap_customers(router, customers, times)

    sets_s, sets_cpu, sets = median_times(lambda: network_choice_sets(
        router, stores, customers, max_minutes=args.minutes, times=times, snap=snap), args.repeats)

    def apply() -> tuple[pd.Series, pd.DataFrame]:
        p = probabilities(sets, 1.0, 2.0)
        return expected_visitors(sets, p), customer_summary(sets, p)

    prob_s, prob_cpu, (visitors, summary) = median_times(apply, args.repeats)
    ci, si = simulate_choices(sets, 1.0, 2.0, np.random.default_rng(0))
    cal_s, cal_cpu, fit = median_times(lambda: calibrate(sets, ci, si), args.repeats)
    log_a = np.log(sets.attractiveness)
    ref_s, ref_cpu, ref = median_times(lambda: dense_reference(times, snap, args.minutes, 1.0, 2.0, log_a), 1)
    ours = sets_s + prob_s + cal_s
    ours_cpu = sets_cpu + prob_cpu + cal_cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        (f"choice sets, {args.customers:,} customers x {len(sets.store_ids)} stores, "
         f"band {args.minutes:g} min", f"{sets_s:8.3f} s", f"{sets_cpu:8.3f} s"),
        ("probabilities + expected visitors + contested", f"{prob_s:8.3f} s", f"{prob_cpu:8.3f} s"),
        (f"calibration on {fit.n:,} simulated choices", f"{cal_s:8.3f} s", f"{cal_cpu:8.3f} s"),
        ("ours, total (target <= 5 s)", f"{ours:8.3f} s", f"{ours_cpu:8.3f} s"),
        ("reference: dense customers x stores, probabilities only", f"{ref_s:8.3f} s", f"{ref_cpu:8.3f} s"),
        ("ratio reference / ours (probabilities: sets + apply)", f"{ref_s / (sets_s + prob_s):8.2f} x", ""),
        ("max |expected visitors ours - reference|", f"{np.abs(visitors.to_numpy() - ref).max():8.2e}", ""),
        ("beta: truth 2, estimate +- se", f"{fit.beta:.3f} +- {fit.se_beta:.3f}", ""),
        ("alpha: truth 1, estimate +- se", f"{fit.alpha:.3f} +- {fit.se_alpha:.3f}", ""),
        ("McFadden pseudo-R2", f"{fit.pseudo_r2:8.3f}", ""),
        ("pairs kept (customer, store within band)", f"{len(sets.store):,}",
         f"{len(sets.store) / max(args.customers, 1):.1f} per customer"),
        ("dense cells (customers x stores)", f"{args.customers * len(sets.store_ids):,}", ""),
        ("contested customers", f"{int(summary['contested'].sum()):,}", ""),
        ("peak memory (RSS)", f"{peak_mb:8.0f} MB", ""),
        ("load average", "/".join(f"{v:.1f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs", ""),
    ]
    print(f"Huff benchmark: Andorra drive, andorra-stores-50.csv, medians of {args.repeats} runs")
    print(f"{'what':<70} {'wall':>12} {'cpu':>12}")
    for what, wall, cpu in rows:
        print(f"{what:<70} {wall:>12} {cpu:>12}")


if __name__ == "__main__":
    main()
