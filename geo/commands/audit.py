"""``python -m geo audit``: print a workspace's audit trail (downloads, exports, imports, deletions)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from geo.audit import audit_table, read_audit
from geo.cli import print_json
from geo.workspace import check_name, default_root

NAME = "audit"
HELP = "print a workspace's audit trail: who downloaded, exported, imported or deleted what, when"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--workspace`` (required), ``--json`` and ``--last``."""
    parser.add_argument("--workspace", required=True,
                        help="workspace name (its trail outlives the workspace itself)")
    parser.add_argument("--json", action="store_true",
                        help="print every event as one line of JSON (default: a table)")
    parser.add_argument("--last", type=int, default=None,
                        help="only the last N events")


def run(args: argparse.Namespace) -> int:
    """Print the trail; exit 0 (an empty trail is not an error)."""
    trail = read_audit(default_root(), check_name(args.workspace))
    if args.last is not None:
        trail = replace(trail, events=trail.events.tail(max(args.last, 0)).reset_index(drop=True))
    if args.json:
        print_json(trail.as_dict())
    else:
        table = audit_table(trail)
        print(table.to_string(index=False) if len(table) else
              f"no audit events for workspace {trail.workspace!r}")
    return 0
