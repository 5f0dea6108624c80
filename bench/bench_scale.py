"""Benchmark a national chain: sparse routing, customers in Parquet parts in process and on a LocalCluster, payloads.

Run: ``.venv/bin/python bench/bench_scale.py [--nodes 2000000] [--stores 500] [--bands 10,20,30]
[--customers 1000000,3000000,10000000] [--part-rows 500000] [--dense-stores 20] [--polygon-stores 0]
[--workdir /tmp/geo-scale] [--skip-cluster]``

On a synthetic country (`bench/network_gen.py`, deterministic) it prints:

(a) routing: the stores' sparse times bounded by the longest band
    (`Router.store_times`), their size, the nearest and second store per node
    (`StoreTimes.best_two`), against the reference, the dense
    ``stores x nodes`` Dijkstra of before, run for ``--dense-stores`` stores
    and scaled to all (time per store, and the 8 bytes x stores x nodes it
    would hold); optionally catchment polygons for the first ``--polygon-stores`` (e.g. ``50,200,500``)
    stores (each count in turn; the 500 stores' times are reused, fewer stores
    are routed first), wall and process CPU seconds (the machine is shared);
(b) assignment of 1M, 3M and 10M customers (Parquet parts of ``--part-rows``
    rows, drawn in the towns in proportion to their size) with
    `geo.scale.assign.assign_parts`, in this process and on a 2-worker
    `LocalCluster`: seconds, customers per second, peak memory of the
    process tree (sampled every 0.1 s);
(c) map payloads at 1M customers: the point file the pages sent (measured at
    100k, scaled) against the H3 cell layer (`geo.views.aggregate`).

Every figure is the median of ``--repeats`` runs (default 1: each run is long).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.network_gen import SyntheticNetwork, generate, sample_town_nodes  # noqa: E402
from geo.scale.assign import assign_parts  # noqa: E402

MB = 1024 * 1024


class PeakMemory:
    """Peak resident memory (bytes) of this process and its children while the ``with`` block runs."""

    def __init__(self, every_s: float = 0.1) -> None:
        self.every_s, self.peak, self._stop = every_s, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return int(total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakMemory:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, int, Any]:
    """Median seconds, peak memory (bytes) and the last result of ``fn``."""
    times, peaks, out = [], [], None
    for _ in range(repeats):
        with PeakMemory() as mem:
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        peaks.append(mem.peak)
    return float(np.median(times)), int(max(peaks)), out


def stores_of(net: SyntheticNetwork, n: int) -> pd.DataFrame:
    """``n`` stores on town nodes (seed 1), bigger towns getting more."""
    nodes = sample_town_nodes(net, n, np.random.default_rng(1))
    return pd.DataFrame({"store_id": [f"S{i:04d}" for i in range(n)], "name": [f"Store {i}" for i in range(n)],
                         "lat": net.lat[nodes], "lon": net.lon[nodes]})


def write_customers(net: SyntheticNetwork, n: int, part_rows: int, folder: Path) -> Path:
    """``n`` customers within 300 m of town nodes, as Parquet parts of ``part_rows`` rows (made once)."""
    done = folder / "DONE"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(n)
    for k, start in enumerate(range(0, n, part_rows)):
        m = min(part_rows, n - start)
        nodes = sample_town_nodes(net, m, rng)
        pd.DataFrame({"customer_id": np.char.add("C", np.arange(start, start + m).astype(str)),
                      "lat": net.lat[nodes] + rng.normal(0, 0.0015, m),
                      "lon": net.lon[nodes] + rng.normal(0, 0.002, m)}).to_parquet(folder / f"part-{k:04d}.parquet",
                                                                                 index=False)
    done.touch()
    return folder


def routing(args: argparse.Namespace, net: SyntheticNetwork, R: Any, stores: pd.DataFrame) -> Any:
    bands = [float(b) for b in args.bands.split(",")]
    R.place_stores(stores)  # warm both methods alike: k-d tree and transposed matrix built once, outside the timings
    R.graph_seconds()
    sec, peak, times = timed(lambda: R.store_times(stores, limit_min=max(bands)))
    entries = times.reached.nodes.size
    print(f"(a) routing: {len(times.store_ids)} stores, limit {max(bands):g} min, {R.node_ids.size:,} nodes")
    print(f"    sparse store_times        {sec:8.2f} s   peak RSS {peak / MB:8.0f} MB   kept {entries:,} "
          f"(store, node) times = {times.reached.nbytes / MB:,.0f} MB, "
          f"{entries / len(times.store_ids):,.0f} nodes per store")
    b_sec, _, _ = timed(times.best_two)
    print(f"    best_two (nearest + 2nd)  {b_sec:8.2f} s   4 arrays of {R.node_ids.size:,} nodes")
    k = min(args.dense_stores, len(times.store_ids))
    d_sec, _, _ = timed(lambda: R.node_seconds(times.node[:k], limit_s=max(bands) * 60), 3)
    s_sec, _, _ = timed(lambda: R.store_times(stores.head(k), limit_min=max(bands)), 3)
    print(f"    same {k} stores, median of 3: dense reference {d_sec:6.2f} s, sparse {s_sec:6.2f} s "
          f"(ratio {s_sec / d_sec:.2f}); dense for all {len(times.store_ids)} stores would hold "
          f"{8 * len(times.store_ids) * R.node_ids.size / MB:,.0f} MB (sparse/dense memory "
          f"{times.reached.nbytes / (8 * len(times.store_ids) * R.node_ids.size):.3f})")
    for n in (int(x) for x in str(args.polygon_stores).split(",") if int(x) > 0):
        polygons(R, stores.head(n), bands, times if n == len(times.store_ids) else None)
    return times


def polygons(R: Any, stores: pd.DataFrame, bands: list[float], times: Any) -> None:
    """Catchment polygons of ``stores`` (their sparse times reused when given): wall and CPU seconds, peak RSS."""
    from geo.catchments.polygons import catchment_polygons
    if times is None:
        sec, _, times = timed(lambda: R.store_times(stores, limit_min=max(bands)))
        routed = f"routing {sec:.2f} s, then "
    else:
        routed = "routing as above, then "
    base = PeakMemory()._sample()
    cpu = time.process_time()
    p_sec, p_peak, gdf = timed(lambda: catchment_polygons(R, stores, bands, mode="drive", times=times))
    cpu = time.process_time() - cpu
    print(f"    catchment_polygons {len(stores):>4} stores: {routed}{p_sec:6.2f} s wall, {cpu:6.2f} s CPU, "
          f"{len(gdf):,} polygons; peak RSS {p_peak / MB:,.0f} MB ({(p_peak - base) / MB:+,.0f} MB over the "
          f"{base / MB:,.0f} MB before; sparse rows, a batch of stores at a time)")


def assignment(args: argparse.Namespace, net: SyntheticNetwork, R: Any, stores: pd.DataFrame,
               times: Any) -> None:
    bands = [float(b) for b in args.bands.split(",")]
    workdir = Path(args.workdir)
    if times is None:
        times = R.store_times(stores, limit_min=max(bands))
    print(f"(b) assignment, parts of {args.part_rows:,} rows, max {max(bands):g} min (the stores' sparse times "
          "computed once beforehand; a LocalCluster run includes starting and closing it)")
    for n in (int(float(x)) for x in args.customers.split(",")):
        folder = write_customers(net, n, args.part_rows, workdir / f"customers-{n}")
        schedulers = ["none"] if args.skip_cluster else ["none", "local"]
        for scheduler in schedulers:
            out = workdir / "out"
            shutil.rmtree(out, ignore_errors=True)
            run = functools.partial(assign_parts, R, stores, folder, out, max_minutes=max(bands),
                                    scheduler=scheduler, workers=2, times=times)
            sec, peak, counts = timed(run, args.repeats)
            label = "in process" if scheduler == "none" else "LocalCluster(2)"
            print(f"    {n:>11,} customers  {label:<16} {sec:8.1f} s  {n / sec:>10,.0f} /s  "
                  f"peak RSS {peak / MB:8.0f} MB  reachable {counts.reachable / counts.customers:.1%}")
            shutil.rmtree(out, ignore_errors=True)


def payloads(args: argparse.Namespace, net: SyntheticNetwork) -> None:
    from geo.views.aggregate import assigned_cells, cells_json, customer_cells
    from geo.views.maps import customer_points_json, store_palette

    def people(n: int) -> pd.DataFrame:
        rng = np.random.default_rng(7)
        nodes = sample_town_nodes(net, n, rng)
        ids = np.char.add("C", np.arange(n).astype(str))
        return pd.DataFrame({"customer_id": ids, "email": np.char.add(ids, "@example.org"), "first_name": "Ann",
                             "lat": net.lat[nodes] + rng.normal(0, 0.0015, n),
                             "lon": net.lon[nodes] + rng.normal(0, 0.002, n),
                             "opted_in": rng.random(n) < 0.8, "unsubscribed": rng.random(n) < 0.05,
                             "segment": rng.choice(["new", "regular", "vip"], n)})

    small = people(100_000)
    p_sec, _, points = timed(lambda: customer_points_json(small))
    print(f"(c) map payloads: points file at 100k customers {len(points) / MB:6.1f} MB ({p_sec:.1f} s) "
          f"-> {10 * len(points) / MB:6.0f} MB at 1M (linear)")
    big = people(1_000_000)
    c_sec, _, cells = timed(lambda: cells_json(customer_cells(big)))
    print(f"    Map page cells at 1M customers      {len(cells) / MB:6.2f} MB ({c_sec:.1f} s to count and write)")
    rng = np.random.default_rng(3)
    ids = [f"S{i:04d}" for i in range(args.stores)]
    fake = pd.DataFrame({"store_id": pd.Categorical(rng.choice(ids, len(big)), categories=ids)})
    a_sec, _, acells = timed(lambda: cells_json(assigned_cells(big, fake, store_palette(ids))))
    print(f"    Catchments page cells at 1M         {len(acells) / MB:6.2f} MB ({a_sec:.1f} s); a band-slider move "
          "re-sends none of it (same URL: the assignment does not depend on the bands)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=2_000_000)
    ap.add_argument("--stores", type=int, default=500)
    ap.add_argument("--bands", default="10,20,30")
    ap.add_argument("--customers", default="1000000,3000000,10000000")
    ap.add_argument("--part-rows", type=int, default=500_000)
    ap.add_argument("--dense-stores", type=int, default=20)
    ap.add_argument("--polygon-stores", default="0",
                    help="comma-separated store counts to draw catchment polygons for, e.g. 50,200,500")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workdir", default="/tmp/geo-scale")
    ap.add_argument("--skip-cluster", action="store_true")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: routing,assign,payload")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    g_sec, _, net = timed(lambda: generate(args.nodes))
    r_sec, r_peak, R = timed(net.router)
    print(f"network: {net.n_nodes:,} nodes, {2 * len(net.u):,} directed edges, {len(net.town_nodes):,} towns; "
          f"generated in {g_sec:.1f} s, router in {r_sec:.1f} s, peak RSS {r_peak / MB:,.0f} MB")
    stores = stores_of(net, args.stores)
    times = routing(args, net, R, stores) if "routing" not in skip else None
    if "assign" not in skip:
        assignment(args, net, R, stores, times)
    if "payload" not in skip:
        payloads(args, net)


if __name__ == "__main__":
    main()
