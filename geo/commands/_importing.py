"""Arguments and runner shared by the ``import`` and ``validate`` subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlsplit

from geo.cli import print_json
from geo.data.columns import merge_mapping, suggest_mapping
from geo.data.geocode import NOMINATIM_DOMAIN, GeocoderSettings
from geo.data.ingest import KIND_SCHEMAS, bad_rows_csv, schema_for
from geo.data.readers import iter_tables
from geo.data.validate import ValidationReport
from geo.errors import DataError
from geo.workspace import default_root


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Add FILE, --kind, --map, --geocode options and --bad-rows."""
    parser.add_argument("file", metavar="FILE", type=Path,
                        help="CSV/TSV, XLSX, GeoJSON, GeoPackage or (Geo)Parquet file")
    parser.add_argument("--kind", required=True, choices=list(KIND_SCHEMAS),
                        help="which table the file holds")
    parser.add_argument("--map", action="append", default=[], metavar="CANONICAL=COLUMN",
                        help="map a file column onto a canonical one (repeatable; "
                             "CANONICAL= with no column unmaps it); others are matched "
                             "automatically")
    parser.add_argument("--geocode", action="store_true",
                        help="locate rows with an address or postcode but no coordinates")
    parser.add_argument("--geocoder-url", default=f"https://{NOMINATIM_DOMAIN}",
                        help="Nominatim base URL (default: the public OpenStreetMap service)")
    parser.add_argument("--geocode-delay", type=float, default=1.0, metavar="SECONDS",
                        help="seconds between geocoding requests (at least 1 for the public "
                             "service)")
    parser.add_argument("--bad-rows", type=Path, metavar="OUT.csv",
                        help="also write the bad rows with their reasons to this CSV file")


def parse_overrides(items: list[str], file: str) -> dict[str, str | None]:
    """Turn ``["lat=Breite", "segment="]`` into ``{"lat": "Breite", "segment": None}``."""
    out: dict[str, str | None] = {}
    for item in items:
        field, sep, column = item.partition("=")
        if not sep or not field.strip():
            raise DataError(file, f"--map expects CANONICAL=COLUMN, got {item!r}")
        out[field.strip()] = column.strip() or None
    return out


def resolve_mapping(args: argparse.Namespace) -> dict[str, str] | None:
    """The suggested mapping with the user's ``--map`` overrides, or None when there are none."""
    if not args.map:
        return None
    label = args.file.name
    overrides = parse_overrides(args.map, label)
    columns = next(iter_tables(args.file, name=label, chunksize=1000)).columns
    return merge_mapping(suggest_mapping(columns, schema_for(args.kind)), overrides)


def geocoder_settings(args: argparse.Namespace) -> GeocoderSettings | None:
    """Geocoder settings from the options, or None without ``--geocode``."""
    if not args.geocode:
        return None
    raw = args.geocoder_url
    url = urlsplit(raw if "//" in raw else f"https://{raw}")
    return GeocoderSettings(domain=url.netloc, scheme=url.scheme or "https",
                            min_delay_s=args.geocode_delay,
                            cache_path=default_root() / "cache" / "geocode.sqlite")


def finish(args: argparse.Namespace, report: ValidationReport, **extra: object) -> int:
    """Print the report as one JSON line, write the bad rows if asked; 1 when no row is usable."""
    if args.bad_rows is not None and not report.errors.empty:
        args.bad_rows.parent.mkdir(parents=True, exist_ok=True)
        args.bad_rows.write_bytes(bad_rows_csv(args.file, report))
    print_json({**report.as_dict(), **extra})
    return 0 if len(report.valid) else 1
