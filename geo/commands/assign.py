"""``python -m geo assign``: assign every customer to the nearest store by travel time (or radius)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from geo.catchments.assign import assign_customers, radius_assign
from geo.cli import print_json
from geo.commands.catchments import (
    add_network_arguments,
    router_from_args,
    unplaced_summary,
)
from geo.data.tables import load_customers, load_stores, write_csv
from geo.errors import DataError
from geo.modes import MODES, Mode
from geo.scale.assign import AUTO_LOCAL_ROWS, assign_parts, summary_json
from geo.scale.cluster import AUTO, check_scheduler
from geo.scale.parts import PART_SUFFIXES

NAME = "assign"
HELP = "Assign each customer to the nearest store by travel time, with the runner-up and crow-flies km."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    add_network_arguments(parser)
    parser.add_argument("--stores", required=True, type=Path, help="stores CSV (store_id, name, lat, lon)")
    parser.add_argument("--customers", required=True, type=Path,
                        help="customers CSV or Parquet file, or a folder of Parquet/GeoParquet parts")
    parser.add_argument("--mode", required=True, choices=[m.value for m in MODES], help="travel mode, or radius")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="customers farther than this from every store are unreachable")
    parser.add_argument("--km", type=float, default=2.0, help="radius in km (radius mode)")
    parser.add_argument("--out", required=True, type=Path,
                        help="CSV file to write, one row per customer; or a folder (no .csv suffix) "
                             "receiving partitioned Parquet, one part per input part")
    parser.add_argument("--scheduler", default=AUTO,
                        help="for Parquet input written to a folder: none (this process), local (a Dask "
                             "LocalCluster, one worker per core), tcp://HOST:8786 (an existing Dask "
                             f"cluster) or auto (local from {AUTO_LOCAL_ROWS:,} customers; default)")


def partitioned(args: argparse.Namespace) -> bool:
    """Whether to run part by part: Parquet input (file or folder) and an output folder."""
    source = Path(args.customers)
    parquet = source.is_dir() or source.suffix.lower() in PART_SUFFIXES
    if source.is_dir() and Path(args.out).suffix.lower() == ".csv":
        raise DataError("--out", "a folder of customer parts is written as partitioned Parquet: give a "
                                 "folder, not a .csv file")
    return parquet and Path(args.out).suffix.lower() != ".csv"


def run_partitioned(args: argparse.Namespace) -> int:
    """Assign Parquet parts (in process or on Dask), write partitioned Parquet, print the JSON summary."""
    if args.mode == Mode.RADIUS:
        raise DataError("--mode", "radius mode reads one customers file; use a travel mode for Parquet parts")
    check_scheduler(args.scheduler)
    stores = load_stores(args.stores)
    router = router_from_args(args, args.mode)
    counts = assign_parts(router, stores, args.customers, args.out, traffic=args.traffic,
                          max_minutes=args.max_minutes, scheduler=args.scheduler)
    print_json({"command": NAME, "mode": args.mode, **summary_json(counts),
                "unplaced_stores": unplaced_summary(router, stores), "out": str(args.out),
                "scheduler": args.scheduler})
    return 0


def run(args: argparse.Namespace) -> int:
    """Assign, write the CSV (or partitioned Parquet) and print a one-line JSON summary."""
    if partitioned(args):
        return run_partitioned(args)
    stores = load_stores(args.stores)
    customers = load_customers(args.customers)
    unplaced: list[dict[str, Any]] = []
    if args.mode == Mode.RADIUS:
        out = radius_assign(stores, customers, args.km)
    else:
        router = router_from_args(args, args.mode)
        out = assign_customers(router, stores, customers, mode=args.mode, traffic=args.traffic,
                               max_minutes=args.max_minutes)
        unplaced = unplaced_summary(router, stores)
    write_csv(out, args.out)
    reasons = out.loc[~out["reachable"], "unreachable_reason"].astype(str).value_counts()
    print_json({"command": NAME, "mode": args.mode, "customers": int(len(out)),
                "reachable": int(out["reachable"].sum()), "unreachable": int((~out["reachable"]).sum()),
                "unreachable_by_reason": {str(k): int(v) for k, v in reasons.items()},
                "per_store": {str(k): int(v) for k, v in out["store_id"].value_counts().sort_index().items()},
                "unplaced_stores": unplaced, "out": str(args.out)})
    return 0
