"""Export a target list to Mailchimp, Klaviyo, SendGrid or Brevo (or write its manual-import CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from geo.cli import print_json
from geo.data.tables import read_raw
from geo.export import (
    PROVIDERS,
    ExportError,
    RetryPolicy,
    dry_run,
    journal_path,
    make_adapter,
    run_export,
    write_manual_import,
)
from geo.export.recipients import prepare_targets
from geo.workspace import default_root, open_workspace

NAME = "export"
HELP = "upload a campaign's target list to an email provider list (dry run, resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``python -m geo export``."""
    parser.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    parser.add_argument("--targets", required=True, type=Path,
                        help="target list (CSV or Parquet) with customer_id, email, group, ...")
    parser.add_argument("--list", dest="list_id", help="provider audience/list id")
    parser.add_argument("--dry-run", action="store_true",
                        help="show counts, fields and a masked sample payload; send nothing")
    parser.add_argument("--base-url", help="provider API root (regional endpoint, proxy, test server)")
    parser.add_argument("--workspace", help="workspace whose exports/ folder holds the journal "
                        "and the report")
    parser.add_argument("--journal", type=Path, help="journal SQLite file (overrides --workspace)")
    parser.add_argument("--export-id", help="resume or repeat this export id "
                        "(default: a fingerprint of recipients, provider and list); the journal "
                        "keeps it apart per API root, account (key fingerprint) and list")
    parser.add_argument("--report", type=Path, help="write the per-recipient report CSV here")
    parser.add_argument("--batch-size", type=int, help="recipients per job (at most the provider's limit)")
    parser.add_argument("--poll-interval", type=float, default=2.0,
                        help="seconds between two polls of a provider job (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds allowed per request (default 60)")
    parser.add_argument("--manual-csv", type=Path, help="write the provider's manual-import CSV "
                        "here instead of calling the API")
    parser.add_argument("--list-lists", action="store_true", help="print the provider's lists and exit")


def _exports_dir(args: argparse.Namespace) -> Path:
    if args.workspace:
        return journal_path(open_workspace(args.workspace)).parent
    return default_root() / "exports"


def run(args: argparse.Namespace) -> int:
    """Run the export; exit 1 when a recipient failed or the export is unfinished."""
    policy = RetryPolicy(timeout=args.timeout, poll_interval=args.poll_interval,
                         max_polls=max(1, int(3600 / max(args.poll_interval, 0.001))))
    adapter = make_adapter(args.provider, base_url=args.base_url, batch_size=args.batch_size,
                           policy=policy)
    with adapter:
        if args.list_lists:
            print_json({"provider": args.provider,
                        "lists": adapter.list_lists().to_dict("records")})
            return 0
        prepared = prepare_targets(read_raw(args.targets), file=args.targets.name)
        if args.manual_csv:
            path = write_manual_import(prepared, args.provider, args.manual_csv)
            print_json({"provider": args.provider, "manual_csv": str(path),
                        "recipients": len(prepared.eligible),
                        "skipped": len(prepared.skipped)})
            return 0
        if not args.list_id:
            raise ExportError("--list is required (run with --list-lists to see the provider's ids)")
        journal = args.journal or _exports_dir(args) / "journal.sqlite"
        if args.dry_run:
            print_json(dry_run(prepared, adapter, args.list_id, journal=journal,
                               export_id=args.export_id).summary)
            return 0
        result = run_export(prepared, adapter, args.list_id, journal=journal,
                            export_id=args.export_id,
                            workspace=open_workspace(args.workspace) if args.workspace else None)
        # one report per destination: the same export may go to several servers or accounts
        if result.destination is None:  # run_export names it; a result without one has no report name
            raise ExportError(f"{args.provider}: the export result names no destination for its report")
        name = f"{result.export_id}-{args.provider}-{result.destination.slug()}-report.csv"
        report = args.report or Path(journal).parent / name
        result.to_csv(report)
        print_json({**result.summary, "journal": str(journal), "report": str(report)})
        return 0 if result.complete and result.failed == 0 else 1
