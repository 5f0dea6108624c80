"""``python -m geo huff``: calibrate the Huff store-choice model on observed choices, or apply its defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from geo.catchments.huff import (
    DEFAULT_FIT,
    DEFAULT_NOTE,
    ChoiceSets,
    HuffFit,
    calibrate,
    choice_indices,
    expected_visitors,
    network_choice_sets,
    probabilities,
    radius_choice_sets,
)
from geo.cli import print_json
from geo.commands.catchments import add_network_arguments, router_from_args
from geo.data.tables import load_customers, load_stores, read_raw
from geo.modes import MODES, Mode

NAME = "huff"
HELP = ("Store choice by the Huff model: fit alpha and beta on observed choices (--choices), else "
        "expected visitors per store with the default beta = 2, alpha = 1.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    add_network_arguments(parser)
    parser.add_argument("--stores", required=True, type=Path,
                        help="stores CSV (store_id, name, lat, lon[, attractiveness])")
    parser.add_argument("--customers", required=True, type=Path, help="customers CSV")
    parser.add_argument("--mode", required=True, choices=[m.value for m in MODES], help="travel mode, or radius")
    parser.add_argument("--max-minutes", type=float, default=15.0,
                        help="the longest band, minutes: stores beyond it are not in a customer's choice "
                             "(default 15)")
    parser.add_argument("--km", type=float, default=2.0, help="the longest radius in km (radius mode, default 2)")
    parser.add_argument("--choices", type=Path, default=None,
                        help="observed choices CSV (customer_id, store_id): which store each past customer used")
    parser.add_argument("--json", action="store_true", help="print the JSON summary (always printed; kept for "
                                                            "symmetry with other tools)")


def _choice_sets(args: argparse.Namespace) -> tuple[ChoiceSets, pd.Series]:
    stores = load_stores(args.stores)
    customers = load_customers(args.customers)
    if args.mode == Mode.RADIUS:
        return radius_choice_sets(stores, customers, max_km=args.km), customers["customer_id"]
    router = router_from_args(args, args.mode)
    return (network_choice_sets(router, stores, customers, max_minutes=args.max_minutes, traffic=args.traffic),
            customers["customer_id"])


def _fit(args: argparse.Namespace, sets: ChoiceSets, customer_id: pd.Series) -> HuffFit:
    choices = read_raw(args.choices)
    ci, si = choice_indices(choices, customer_id, sets.store_ids)
    return calibrate(sets, ci, si)


def _clean(value: object) -> object:
    """NaN as null in the JSON summary."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


def run(args: argparse.Namespace) -> int:
    """Fit (or apply the defaults), then print one line of JSON."""
    sets, customer_id = _choice_sets(args)
    fit = _fit(args, sets, customer_id) if args.choices is not None else DEFAULT_FIT
    visitors = expected_visitors(sets, probabilities(sets, fit.alpha, fit.beta))
    out = {k: _clean(v) for k, v in fit.as_dict().items()}
    out.update({"command": NAME, "mode": args.mode, "unit": sets.unit, "max_cost": sets.max_cost,
                "customers": sets.n_customers, "customers_in_reach": int((sets.sizes > 0).sum()),
                "note": fit.describe() if fit.estimated else DEFAULT_NOTE,
                "expected_visitors": {str(k): round(float(v), 3) for k, v in visitors.items()}})
    print_json(out)
    return 0
