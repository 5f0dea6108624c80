"""``python -m geo import``: validate a data file and store its good rows in a workspace."""

from __future__ import annotations

import argparse

from geo.commands._importing import (
    add_common_arguments,
    finish,
    locate_plan,
    resolve_mapping,
    store_map,
)
from geo.data.ingest import import_file, store_path
from geo.data.tills import STORE_MAP_SETTING
from geo.workspace import create_workspace, default_root

NAME = "import"
HELP = "import a customers/stores/events/redemptions file into a workspace; print the report"
DEFAULT_WORKSPACE = "default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the file, --kind, --workspace, --campaign and mapping options."""
    add_common_arguments(parser)
    parser.add_argument("--workspace", default=DEFAULT_WORKSPACE, metavar="NAME",
                        help=f"workspace to store into, created if needed "
                             f"(default: {DEFAULT_WORKSPACE!r})")
    parser.add_argument("--campaign", metavar="ID",
                        help="for events/redemptions: the existing campaign to attach them to")
    parser.add_argument("--replace", action="store_true",
                        help="replace the stored table with the file's rows (default: add new "
                             "records and update the ones the file matches: customers on "
                             "customer_id, else e-mail; stores on store_id; nothing removed)")


def run(args: argparse.Namespace) -> int:
    """Import the file; exit 0 when rows were stored, 1 when none was good, 2 when unusable."""
    ws = create_workspace(args.workspace, default_root(), exist_ok=True)
    stores = store_map(args, ws.settings().get(STORE_MAP_SETTING))
    if args.store_map and stores is not None:
        ws.update_settings(**{STORE_MAP_SETTING: stores})
    report = import_file(args.file, args.kind, ws, mapping=resolve_mapping(args),
                         mode="replace" if args.replace else "add",
                         campaign=args.campaign, layout=args.layout, locate=locate_plan(args),
                         store_map=stores)
    stored = store_path(ws, args.kind, args.campaign) if len(report.valid) else None
    return finish(args, report, workspace=ws.name, stored=stored)
