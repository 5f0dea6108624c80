"""Command line over the domain package: one subcommand module per concern in `geo.commands`.

Each module in `geo.commands` exposes ``NAME`` (the subcommand), ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int``. Commands print a JSON
summary to stdout; errors that the user can fix go to stderr as one line and
exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

import geo.commands
from geo.errors import GeoError


def _command_modules() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(geo.commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"geo.commands.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="python -m geo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def print_json(obj: object) -> None:
    """Print one line of JSON to stdout (the commands' summary format)."""
    sys.stdout.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except GeoError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
