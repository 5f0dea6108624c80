"""``python -m geo compare``: a radius segment versus a travel-time catchment, customer by customer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from geo.catchments.compare import compare_counts, distances
from geo.cli import print_json
from geo.commands.catchments import add_network_arguments, router_from_args, unplaced_summary
from geo.data.tables import load_customers, load_stores
from geo.errors import GeoError
from geo.modes import TRAVEL_MODES

NAME = "compare"
HELP = ("Compare a radius (km, great-circle) with a travel time (minutes): customers in both, "
        "only in the radius (wasted mails), only in the travel time (missed).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    add_network_arguments(parser)
    parser.add_argument("--stores", required=True, type=Path, help="stores CSV (store_id, name, lat, lon)")
    parser.add_argument("--customers", required=True, type=Path, help="customers CSV")
    parser.add_argument("--mode", default="drive", choices=[m.value for m in TRAVEL_MODES],
                        help="travel mode (default %(default)s)")
    parser.add_argument("--minutes", type=float, required=True, help="travel time T in minutes")
    parser.add_argument("--km", type=float, required=True, help="radius R in km (great-circle)")
    parser.add_argument("--json", action="store_true",
                        help="print only the counts: {overall, by_store} (records)")


def run(args: argparse.Namespace) -> int:
    """Count and print one line of JSON."""
    if args.minutes <= 0 or args.km <= 0:
        raise GeoError(f"--minutes and --km must be positive, got {args.minutes:g} and {args.km:g}")
    stores = load_stores(args.stores)
    customers = load_customers(args.customers)
    router = router_from_args(args, args.mode)
    counts = compare_counts(distances(router, stores, customers, mode=args.mode, traffic=args.traffic),
                            customers, args.km, args.minutes)
    by_store: dict[str, Any] = counts["by_store"]  # type: ignore[assignment]
    if args.json:
        print_json({"overall": counts["overall"],
                    "by_store": {sid: {k: c[k] for k in ("both", "radius_only", "time_only", "best_km")}
                                 for sid, c in by_store.items()}})
        return 0
    print_json({"command": NAME, **counts, "unplaced_stores": unplaced_summary(router, stores)})
    return 0
