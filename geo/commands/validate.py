"""``python -m geo validate``: check a data file and print its report, storing nothing."""

from __future__ import annotations

import argparse

from geo.commands._importing import (
    add_common_arguments,
    finish,
    locate_plan,
    resolve_mapping,
    store_map,
)
from geo.data.ingest import check_file

NAME = "validate"
HELP = "check a customers/stores/events/redemptions file and print the problems as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the file, --kind and mapping options."""
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Validate the file; exit 0 when some rows are good, 1 when none, 2 when unusable."""
    report = check_file(args.file, args.kind, mapping=resolve_mapping(args),
                        layout=args.layout, locate=locate_plan(args), store_map=store_map(args))
    return finish(args, report)
