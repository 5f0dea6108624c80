"""``python -m geo adpins``: radius pins (and postcodes) that stand for each store's catchment on ad platforms."""

from __future__ import annotations

import argparse
from pathlib import Path

from geo.ads import catchment_postcodes, covering_pins, in_catchment
from geo.catchments.assign import assign_customers, radius_assign
from geo.cli import print_json
from geo.commands.catchments import add_network_arguments, router_from_args
from geo.data.tables import load_customers, load_stores, read_raw, write_csv
from geo.modes import MODES, Mode

NAME = "adpins"
HELP = ("per store, the radius pin covering the travel-time catchment and the one holding 90%% "
        "of its customers (store_id, name, lat, lon, radius_km), plus postcodes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``python -m geo adpins``."""
    add_network_arguments(parser)
    parser.add_argument("--stores", required=True, type=Path, help="stores CSV")
    parser.add_argument("--customers", required=True, type=Path,
                        help="customers CSV (a postcode or zip column gives the postcodes)")
    parser.add_argument("--mode", required=True, choices=[m.value for m in MODES])
    parser.add_argument("--minutes", type=float, default=15.0, help="catchment limit, minutes")
    parser.add_argument("--km", type=float, default=1.0, help="catchment radius in radius mode, km")
    parser.add_argument("--share", type=float, default=0.9,
                        help="share of catchment customers the tighter pin holds (default 0.9)")
    parser.add_argument("--out", required=True, type=Path, help="pins CSV to write")
    parser.add_argument("--postcodes-out", type=Path, help="postcodes CSV to write")


def run(args: argparse.Namespace) -> int:
    """Assign, draw the catchment, size the pins, write the CSVs and print a summary."""
    stores = load_stores(args.stores)
    customers = load_customers(args.customers)
    polygons: dict[str, object] = {}
    if Mode.parse(args.mode) is Mode.RADIUS:
        assigned = radius_assign(stores, customers, args.km)
        inside = in_catchment(assigned, args.km, by="crow_km")
        radius = args.km
    else:
        from geo.catchments.polygons import catchment_polygons
        router = router_from_args(args, args.mode)
        assigned = assign_customers(router, stores, customers, mode=args.mode,
                                    traffic=args.traffic, max_minutes=args.minutes)
        inside = in_catchment(assigned, args.minutes)
        gdf = catchment_polygons(router, stores, [args.minutes], mode=args.mode,
                                 traffic=args.traffic)
        polygons = dict(zip(gdf["store_id"].astype(str), gdf.geometry, strict=True))
        radius = None
    pins = covering_pins(stores, inside, customers, share=args.share, polygons=polygons,
                         radius_km=radius)
    write_csv(pins, args.out)
    postcodes = catchment_postcodes(inside, customers)  # the file's postcode column
    if postcodes.empty:  # a raw "zip"/"postal_code" column the canonical table does not hold
        postcodes = catchment_postcodes(inside, read_raw(args.customers))
    if args.postcodes_out:
        write_csv(postcodes, args.postcodes_out)
    print_json({"command": NAME, "mode": args.mode, "stores": int(len(stores)),
                "pins": pins.to_dict("records"), "postcodes": int(len(postcodes)),
                "out": str(args.out),
                "postcodes_out": str(args.postcodes_out) if args.postcodes_out else None})
    return 0
