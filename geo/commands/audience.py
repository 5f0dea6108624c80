"""``python -m geo audience``: a hashed Google Customer Match or Meta customer list from a target list."""

from __future__ import annotations

import argparse
from pathlib import Path

from geo.ads import PLATFORMS, build_audience
from geo.cli import print_json
from geo.data.tables import read_raw
from geo.errors import DataError
from geo.workspace import open_workspace

NAME = "audience"
HELP = ("write a hashed customer list for Google Customer Match or Meta (treatment members with "
        "advertising consent only)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``python -m geo audience``."""
    parser.add_argument("--platform", required=True, choices=PLATFORMS)
    parser.add_argument("--targets", type=Path, help="target list (CSV, XLSX, Parquet...)")
    parser.add_argument("--workspace", help="with --campaign: take the saved campaign's targets "
                        "and the workspace's customers (ads_consent, phone, last_name, postcode, "
                        "city, region, country as imported)")
    parser.add_argument("--campaign", help="saved campaign name (with --workspace)")
    parser.add_argument("--customers", type=Path, help="customers file with ads_consent, phone, "
                        "last_name, postcode, city, region, country (joined by customer_id; "
                        "overrides the workspace's customers)")
    parser.add_argument("--store", help="only this store's members (a per-store list)")
    parser.add_argument("--country", help="ISO 3166-1 alpha-2 code for rows without a country "
                        "(e.g. FI); phone numbers without a country code are read in it")
    parser.add_argument("--out", required=True, type=Path, help="CSV to write")


def run(args: argparse.Namespace) -> int:
    """Build the list, write it and print its summary (exit 2 without ads_consent)."""
    customers = read_raw(args.customers) if args.customers else None
    ws = None
    if args.targets:
        targets, name = read_raw(args.targets), args.targets.name
    elif args.workspace and args.campaign:
        ws = open_workspace(args.workspace)
        from geo.targeting.targets import load_campaign
        targets, name = load_campaign(ws, args.campaign).targets, args.campaign
        if customers is None:
            customers = ws.load_table("customers")
    else:
        raise DataError("--targets", "give --targets FILE, or --workspace and --campaign")
    audience = build_audience(targets, args.platform, customers=customers, store_id=args.store,
                              default_country=args.country, file=name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(audience.release(workspace=ws, campaign=args.campaign))
    print_json({**audience.summary(), "store": args.store, "out": str(args.out)})
    return 0
