"""``python -m geo demo``: regenerate a demo workspace (Liechtenstein by default, or central Helsinki)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from geo.cli import print_json
from geo.demo.build import DEFAULT_REGION, DEFAULT_SEED, REGIONS, install_demo
from geo.errors import GeoError

NAME = "demo"
HELP = ("Regenerate a demo workspace: Liechtenstein by car (default) or central Helsinki on foot "
        "(real OSM shops and buildings, synthetic people).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo options."""
    parser.add_argument("--region", choices=list(REGIONS), default=DEFAULT_REGION,
                        help="demo region (default %(default)s; helsinki goes to workspace "
                             "'demo-helsinki')")
    parser.add_argument("--customers", type=int, default=None,
                        help="number of synthetic customers (default: the region's, "
                             + ", ".join(f"{k} {r.customers:,}" for k, r in REGIONS.items()) + ")")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--workspace", default=None,
                        help="workspace name (default: 'demo' for liechtenstein, 'demo-helsinki')")
    parser.add_argument("--root", type=Path, default=None,
                        help="data root (default: $GEO_DATA_DIR or the project's data/)")


def run(args: argparse.Namespace) -> int:
    """Build the demo and print a JSON summary."""
    t0 = time.perf_counter()
    ws = install_demo(args.root, region=args.region, n_customers=args.customers, seed=args.seed,
                      name=args.workspace)
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    if customers is None or stores is None:
        raise GeoError(f"the demo workspace at {ws.path} lacks its customers or stores table")
    print_json({"workspace": ws.name, "region": args.region, "path": str(ws.path),
                "stores": len(stores), "customers": len(customers),
                "campaigns": ws.list_campaigns(), "seconds": round(time.perf_counter() - t0, 2)})
    return 0
