"""``python -m geo sync``: welcome the new leads of a saved rule (journaled, resumable, optionally every N)."""

from __future__ import annotations

import argparse
import logging
from functools import partial

from geo.automation import RuleLock, load_rule, parse_every, run_every, run_sync
from geo.automation.schedule import lock_path
from geo.cli import print_json
from geo.export import RetryPolicy, make_adapter
from geo.workspace import Workspace, open_workspace

NAME = "sync"
HELP = ("send the leads that appeared (or newly consented) since a rule's last run to its "
        "provider list, with codes and the rule's tag; holdout never sent")
log = logging.getLogger("geo.automation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``python -m geo sync``."""
    parser.add_argument("--workspace", required=True, help="workspace holding the rule")
    parser.add_argument("--rule", required=True, help="name of the sync rule (Export page)")
    parser.add_argument("--dry-run", action="store_true",
                        help="count new, eligible, treatment and holdout; save and send nothing")
    parser.add_argument("--base-url", help="provider API root (regional endpoint, proxy, test server)")
    parser.add_argument("--every", help="run in a loop every interval, e.g. 15m, 1h, 1d "
                        "(a second instance for the same rule refuses to start)")
    parser.add_argument("--cycles", type=int, default=None,
                        help="with --every: stop after this many runs (default: never)")
    parser.add_argument("--batch-size", type=int, help="recipients per provider job")
    parser.add_argument("--poll-interval", type=float, default=2.0,
                        help="seconds between two polls of a provider job (default 2)")
    parser.add_argument("--json", action="store_true",
                        help="print the JSON summary (always printed; kept for scripts)")


def _once(workspace: Workspace, args: argparse.Namespace) -> int:
    rule = load_rule(workspace, args.rule)
    if args.dry_run:
        summary = run_sync(workspace, rule.name, None, dry_run=True)
    else:
        policy = RetryPolicy(poll_interval=args.poll_interval,
                             max_polls=max(1, int(3600 / max(args.poll_interval, 0.001))))
        with make_adapter(rule.provider, base_url=args.base_url, batch_size=args.batch_size,
                          policy=policy) as adapter:
            summary = run_sync(workspace, rule.name, adapter)
    print_json(summary.as_dict())
    return 0 if summary.ok else 1


def run(args: argparse.Namespace) -> int:
    """Run the rule once, or every ``--every``, holding the rule's lock throughout."""
    workspace = open_workspace(args.workspace)
    load_rule(workspace, args.rule)           # a clear error before any lock or loop
    every = parse_every(args.every) if args.every else None
    with RuleLock(lock_path(workspace, args.rule)):
        if every is None:
            return _once(workspace, args)
        return run_every(every, partial(_once, workspace, args), cycles=args.cycles)
