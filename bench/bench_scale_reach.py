"""Benchmark reach over customers in Parquet parts (`geo.scale.reach`) against the in-memory reach.

Run: ``.venv/bin/python bench/bench_scale_reach.py [--customers 1000000] [--part-rows 250000] [--stores 500]
[--repeats 3] [--cluster] [--workdir /tmp/geo-scale-reach]``

Synthetic customers (every schema column, 70 % as many addresses as records,
so many addresses span parts; 90 % opted in, 5 % unsubscribed) and their
assignment (as `geo.scale.assign.assign_parts` writes it; the routing is timed
by ``bench_scale.py``) are written once as Parquet parts. Then, each the
median of ``--repeats`` runs, with the peak memory of the process tree:

reference
    what ``python -m geo reach`` did before: read every part into one frame
    (strict validation), read the assignment, `geo.targeting.reach.reach`,
    `build_target_list`, and write the list as one Parquet file;
parts, in process
    `geo.scale.reach.reach_parts` with ``scheduler="none"``, writing one
    target-list part per input part;
parts, LocalCluster(2) (with ``--cluster``)
    the same on a 2-worker `LocalCluster` (starting and closing it included).

Both give the same waterfall (checked), and the ratio to the reference is printed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_scale import MB, PeakMemory  # noqa: E402
from geo.scale.reach import reach_parts, read_customer_part  # noqa: E402
from geo.targeting.audience import AudienceFilters  # noqa: E402
from geo.targeting.reach import reach  # noqa: E402
from geo.targeting.targets import build_target_list  # noqa: E402

BANDS = (10.0, 20.0, 30.0)
FILTERS = AudienceFilters(segments=("vip", "regular"))
OFFER = ("2026-11-02", "2026-11-04")


def stores_frame(n: int) -> pd.DataFrame:
    """``n`` stores (ids, names, addresses)."""
    return pd.DataFrame({"store_id": [f"S{i:04d}" for i in range(n)], "name": [f"Store {i}" for i in range(n)],
                         "address": [f"{i} High Street" for i in range(n)]})


def write_inputs(n: int, part_rows: int, stores: pd.DataFrame, folder: Path) -> list[Path]:
    """Customer parts under ``folder/in`` and assigned parts under ``folder/assigned`` (made once)."""
    assigned = [folder / "assigned" / f"part-{k:05d}.parquet" for k in range(-(-n // part_rows))]
    if (folder / "DONE").exists():
        return assigned
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "in").mkdir(parents=True)
    (folder / "assigned").mkdir(parents=True)
    rng = np.random.default_rng(n)
    for k, start in enumerate(range(0, n, part_rows)):
        m = min(part_rows, n - start)
        ids = np.char.add("C", np.arange(start, start + m).astype(str))
        emails = np.char.add(np.char.add("p", rng.integers(0, int(n * 0.7), m).astype(str)), "@example.org")
        pd.DataFrame({
            "customer_id": ids, "email": emails, "first_name": rng.choice(["Ann", "Bo", "Núria"], m),
            "lat": 42.5 + rng.random(m), "lon": 1.5 + rng.random(m),
            "opted_in": rng.random(m) < 0.9, "unsubscribed": rng.random(m) < 0.05,
            "segment": rng.choice(["vip", "regular", "lapsed"], m),
        }).to_parquet(folder / "in" / f"customers-{k:05d}.parquet", index=False)
        store = rng.integers(0, len(stores), m)
        minutes = rng.random(m) * 40
        reachable = minutes <= 30
        pd.DataFrame({
            "customer_id": ids, "store_id": pd.Series(stores["store_id"].to_numpy()[store]).where(reachable),
            "travel_min": np.where(reachable, minutes, np.nan), "crow_km": np.where(reachable, minutes * 0.6, np.nan),
            "reachable": reachable,
        }).to_parquet(assigned[k], index=False)
    (folder / "DONE").touch()
    return assigned


def reference(folder: Path, assigned: list[Path], stores: pd.DataFrame, out: Path) -> pd.DataFrame:
    """The in-memory path: every customer in one frame, `reach`, `build_target_list`, one file."""
    parts = sorted((folder / "in").glob("*.parquet"))
    customers = pd.concat([read_customer_part(p, p.name) for p in parts], ignore_index=True)
    assignment = pd.concat([pd.read_parquet(p) for p in assigned], ignore_index=True)
    result = reach(customers, assignment, stores, bands=BANDS, filters=FILTERS, holdout=0.1, seed=0)
    targets = build_target_list(result.targets, stores, mode="drive", offer_start=OFFER[0], offer_end=OFFER[1])
    targets.assign(band=targets["band"].astype("string"), group=targets["group"].astype("string")).to_parquet(
        out, index=False)
    return result.waterfall


def distributed(folder: Path, assigned: list[Path], stores: pd.DataFrame, out: Path, scheduler: str) -> pd.DataFrame:
    """`reach_parts`, writing one target-list part per input part."""
    result = reach_parts(folder / "in", assigned, stores, bands=BANDS, filters=FILTERS, holdout=0.1, seed=0,
                         out_dir=out, offer_start=OFFER[0], offer_end=OFFER[1], scheduler=scheduler, workers=2)
    return result.waterfall


def timed(label: str, fn: object, repeats: int) -> tuple[float, pd.DataFrame]:
    """Run ``fn`` ``repeats`` times; print and return the median seconds and the last result."""
    seconds, peaks, result = [], [], None
    for _ in range(repeats):
        with PeakMemory() as mem:
            t = time.perf_counter()
            result = fn()  # type: ignore[operator]
            seconds.append(time.perf_counter() - t)
        peaks.append(mem.peak)
    sec = float(np.median(seconds))
    print(f"    {label:<28} {sec:8.2f} s (median of {repeats})   peak RSS {max(peaks) / MB:8.0f} MB")
    assert result is not None
    return sec, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--part-rows", type=int, default=250_000)
    ap.add_argument("--stores", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cluster", action="store_true", help="also time a 2-worker LocalCluster")
    ap.add_argument("--workdir", default="/tmp/geo-scale-reach")
    args = ap.parse_args()
    stores = stores_frame(args.stores)
    folder = Path(args.workdir) / f"customers-{args.customers}"
    assigned = write_inputs(args.customers, args.part_rows, stores, folder)
    out = Path(args.workdir) / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(f"reach of {args.customers:,} customers in parts of {args.part_rows:,} rows, {args.stores} stores, "
          f"bands {', '.join(f'{b:g}' for b in BANDS)} min, holdout 10 %")
    ref_sec, expected = timed("in memory (reference)", lambda: reference(folder, assigned, stores,
                                                                           out / "one.parquet"), args.repeats)
    for scheduler, label in [("none", "parts, in process"), ("local", "parts, LocalCluster(2)")][
            :2 if args.cluster else 1]:
        sec, got = timed(label, lambda s=scheduler: distributed(folder, assigned, stores, out / s, s), args.repeats)
        pd.testing.assert_frame_equal(got, expected)
        print(f"    {'':<28} ratio to the reference {sec / ref_sec:.2f} (same waterfall)")
    print("waterfall: " + ", ".join(f"{r.stage} {r.customers:,}" for r in expected.itertuples()))


if __name__ == "__main__":
    main()
