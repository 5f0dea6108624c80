"""``python -m geo funnel``: attribute in-store redemptions to a campaign and print its O2O funnel as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from geo.cli import print_json
from geo.data.activity import LAYOUTS, read_activity
from geo.data.schema import REDEMPTIONS, TARGETS
from geo.data.validate import ValidationReport
from geo.errors import DataError
from geo.funnel.attribution import Window
from geo.funnel.funnel import analyse_funnel, check_with_extras
from geo.funnel.journeys import DEFAULT_BANDS

NAME = "funnel"
HELP = "Attribute redemptions to a campaign and print the funnel (stages, stores, bands, lift) as JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the subcommand's options."""
    parser.add_argument("--targets", required=True, type=Path,
                        help="target list CSV/Parquet (customer_id, email, store_id, travel_min, "
                             "coupon_code, group[, segment, band, campaign_id])")
    parser.add_argument("--events", type=Path, default=None,
                        help="provider activity export: generic, Mailchimp report (CSV or ZIP) "
                             "or Klaviyo event export")
    parser.add_argument("--redemptions", type=Path, default=None,
                        help="point-of-sale redemptions (coupon_code, store_id, timestamp, amount"
                             "[, transaction_id, customer_id])")
    parser.add_argument("--window", default=None, metavar="START/END",
                        help="offer window, e.g. 2026-10-01/2026-10-03 (a date-only end covers that day)")
    parser.add_argument("--bands", default=",".join(f"{b:g}" for b in DEFAULT_BANDS),
                        help="travel-time band edges in minutes (default: %(default)s)")
    parser.add_argument("--store-wide-codes", default="",
                        help="comma-separated generic codes anyone may use, e.g. WELCOME10")
    parser.add_argument("--cost-per-email", type=float, default=0.0,
                        help="cost of one sent e-mail, in the revenue's currency (default 0)")
    parser.add_argument("--activity-layout", choices=("auto", *LAYOUTS), default="auto",
                        help="layout of --events (default: detect)")
    parser.add_argument("--sent-at", default=None,
                        help="campaign send time, for Mailchimp recipient lists without a time column")
    parser.add_argument("--bin-min", type=float, default=1.0,
                        help="bin width of the distance-decay curve in minutes (default 1)")
    parser.add_argument("--accept-typos", action="store_true",
                        help="count a till code one mistyped or swapped character away from "
                             "exactly one issued code as that code (reported as likely_typo "
                             "either way)")
    parser.add_argument("--json", action="store_true",
                        help="print the JSON summary (the only output format; accepted for clarity)")


def _bands(text: str) -> list[float]:
    try:
        bands = sorted(float(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise DataError("--bands", f"expected comma-separated minutes such as 5,10,15, got {text!r}") from None
    if not bands or bands[0] <= 0:
        raise DataError("--bands", f"band edges must be positive minutes, got {text!r}")
    return bands


def _usable(report: ValidationReport) -> pd.DataFrame:
    if report.rows and report.valid.empty:
        report.raise_first()
    return report.valid.drop(columns="_row")


def run(args: argparse.Namespace) -> int:
    """Load the three tables, compute the funnel and print it as one line of JSON."""
    bands = _bands(args.bands)
    window = Window.parse(args.window) if args.window else None
    codes = [c for c in args.store_wide_codes.split(",") if c.strip()]
    validation = {}
    t_report = check_with_extras(args.targets, TARGETS)
    validation["targets"] = t_report.as_dict(max_errors=20)
    targets = _usable(t_report)
    if targets.empty:
        raise DataError(args.targets.name, "the target list has no rows")
    events = None
    if args.events is not None:
        imported = read_activity(args.events, layout=args.activity_layout, sent_at=args.sent_at)
        validation["events"] = imported.as_dict(max_errors=20)
        events = imported.events
    redemptions = None
    if args.redemptions is not None:
        r_report = check_with_extras(args.redemptions, REDEMPTIONS)
        validation["redemptions"] = r_report.as_dict(max_errors=20)
        redemptions = _usable(r_report)
    result = analyse_funnel(targets, events, redemptions, window=window, bands=bands,
                            store_wide_codes=codes, cost_per_email=args.cost_per_email,
                            bin_min=args.bin_min, accept_typos=args.accept_typos)
    out = result.as_dict()
    out["validation"] = validation
    print_json(out)
    return 0
