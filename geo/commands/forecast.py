"""``python -m geo forecast``: expected redemptions per store and day of a saved campaign's offer window."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from geo.campaign_settings import load_settings
from geo.cli import print_json
from geo.commands.catchments import parse_numbers
from geo.data.tables import write_csv
from geo.targeting.daily import backtest, campaign_daily_forecast
from geo.workspace import open_workspace

NAME = "forecast"
HELP = ("Expected redemptions (and revenue) per store and day of a saved campaign's offer window, from the "
        "workspace's past campaigns; --backtest-from fits on one campaign and scores the forecast of another.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("--workspace", required=True, metavar="NAME", help="workspace holding the campaigns")
    parser.add_argument("--campaign", required=True, help="saved campaign to forecast (its targets and window)")
    parser.add_argument("--bands", default=None,
                        help="band limits the history is read in, e.g. 5,10,15 (default: the workspace's)")
    parser.add_argument("--backtest-from", default=None, metavar="CAMPAIGN",
                        help="fit on this past campaign only and compare the forecast with the campaign's "
                             "own redemptions (mean absolute percentage error per store-day)")
    parser.add_argument("--out", type=Path, default=None, help="also write the store-day table as CSV")
    parser.add_argument("--json", action="store_true", help="print the JSON summary (always printed)")


def _num(x: float) -> float | None:
    return round(float(x), 3) if np.isfinite(x) else None


def run(args: argparse.Namespace) -> int:
    """Forecast (or backtest), optionally write the CSV, print one line of JSON."""
    ws = open_workspace(args.workspace)
    settings = load_settings(ws)
    bands = parse_numbers(args.bands, "--bands") if args.bands else list(settings.bands)
    mode = settings.mode.value
    if args.backtest_from:
        table, mape = backtest(ws, args.backtest_from, args.campaign, bands, mode=mode)
        extra: dict[str, object] = {"backtest_from": args.backtest_from, "mape_percent": _num(mape),
                                    "store_days_scored": int(table["ape"].notna().sum())}
        message = (f"Fitted on {args.backtest_from!r}, forecast {args.campaign!r}: mean absolute percentage "
                   f"error {mape:.1f} % over store-days with redemptions.")
    else:
        table, fc, profile = campaign_daily_forecast(ws, args.campaign, bands, mode=mode)
        extra = {"expected_total": _num(fc.totals.redemptions), "history": fc.campaigns,
                 "profile": profile.describe()}
        message = fc.message if fc.has_history else fc.message + " No daily forecast."
    per_store: dict[str, dict[str, dict[str, float | None]]] = {}
    for row in table.itertuples(index=False):
        day = {"expected": _num(row.expected), "low": _num(row.low), "high": _num(row.high),
               "revenue": _num(row.revenue)}
        if "actual" in table:
            day["actual"] = float(row.actual)
        per_store.setdefault(str(row.store_id), {})[str(row.date)] = day
    if args.out is not None:
        write_csv(table, args.out)
    print_json({"command": NAME, "workspace": ws.name, "campaign": args.campaign, "mode": mode,
                "bands": bands, "message": message, **extra, "per_store": per_store,
                "out": str(args.out) if args.out else None})
    return 0
