"""``python -m geo brief``: a saved campaign's brief for store managers, as PDF (and HTML)."""

from __future__ import annotations

import argparse
from pathlib import Path

from geo.brief.content import brief_summary, campaign_brief
from geo.brief.render import brief_html, brief_pdf
from geo.cli import print_json
from geo.workspace import open_workspace

NAME = "brief"
HELP = "write a saved campaign's one- or two-page brief for store managers (PDF, and HTML)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``python -m geo brief``."""
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--campaign", required=True, help="saved campaign name")
    parser.add_argument("--out", required=True, type=Path, help="PDF file to write")
    parser.add_argument("--html", type=Path, help="also write the HTML version here")


def run(args: argparse.Namespace) -> int:
    """Gather the brief, write the PDF (and HTML) and print its figures."""
    brief = campaign_brief(open_workspace(args.workspace), args.campaign)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(brief_pdf(brief))
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(brief_html(brief), encoding="utf-8")
    print_json({**brief_summary(brief), "out": str(args.out),
                "html": str(args.html) if args.html else None})
    return 0
