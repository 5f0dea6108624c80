"""Arguments and runner shared by the ``import`` and ``validate`` subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from geo.cli import print_json
from geo.data.columns import merge_mapping
from geo.data.geocode import NOMINATIM_DOMAIN, SERVICES, GeocoderSettings
from geo.data.ingest import KIND_SCHEMAS, bad_rows_csv, proposed_mapping
from geo.data.layouts import AUTO, LAYOUTS, prepare_chunk, resolve_layout
from geo.data.locate import GEOCODE_MODES, LocatePlan
from geo.data.postcodes import PostcodeBook, postcode_dir
from geo.data.readers import iter_tables
from geo.data.tills import add_store_ids, parse_store_map_args
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
    parser.add_argument("--layout", default=AUTO, choices=[AUTO, *LAYOUTS],
                        help="the export the file is (default: recognised from its headers)")
    parser.add_argument("--geocode", nargs="?", const="address", choices=GEOCODE_MODES,
                        metavar="{postcode,address,all}",
                        help="locate rows without coordinates: postcode (offline GeoNames "
                             "tables), address (the geocoding service, ~1 row a second on the "
                             "public Nominatim; the default without a value), all (the service "
                             "for street addresses, the postcode tables for the rest)")
    parser.add_argument("--country", metavar="XX",
                        help="two-letter country of rows that give none (postcode look-ups)")
    parser.add_argument("--geocoder-url", default=f"https://{NOMINATIM_DOMAIN}",
                        help="geocoding service base URL (default: the public OpenStreetMap "
                             "Nominatim; a self-hosted server has no rate limit)")
    parser.add_argument("--geocoder-service", default="nominatim", choices=SERVICES,
                        help="the API the server at --geocoder-url speaks")
    parser.add_argument("--geocode-delay", type=float, default=None, metavar="SECONDS",
                        help="seconds between geocoding requests (default: 1 for the public "
                             "service, never less; 0 for another server)")
    parser.add_argument("--store-map", action="append", default=[], metavar="LOCATION=STORE_ID",
                        help="till exports (redemptions): the store_id of a till Location "
                             "(repeatable; import keeps them in the workspace for next time)")
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
    head = next(iter_tables(args.file, name=label, chunksize=1000))
    layout = resolve_layout(args.layout, head.columns, args.kind, label)
    head = prepare_chunk(head, layout, label)
    if args.kind == "redemptions":
        head = add_store_ids(head, {}, label)[0]
    columns = [str(c) for c in head.columns]
    return merge_mapping(proposed_mapping(columns, args.kind, layout), overrides)


def geocoder_settings(args: argparse.Namespace) -> GeocoderSettings | None:
    """Geocoder settings from the options, or None without ``--geocode``."""
    if not args.geocode:
        return None
    return GeocoderSettings.from_url(args.geocoder_url, service=args.geocoder_service,
                                     cache_path=default_root() / "cache" / "geocode.sqlite",
                                     min_delay_s=args.geocode_delay)


def locate_plan(args: argparse.Namespace) -> LocatePlan | None:
    """How to locate rows without coordinates (``--geocode``, ``--country``), None without it."""
    settings = geocoder_settings(args)
    if settings is None:
        return None
    country = args.country.strip().upper() if args.country else None
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise DataError("--country", f"expects a two-letter code such as DE, got {args.country!r}")
    return LocatePlan(mode=args.geocode, geocoder=settings,
                      postcodes=PostcodeBook(postcode_dir(default_root()), country))


def store_map(args: argparse.Namespace, saved: dict[str, str] | None = None) -> dict[str, str] | None:
    """The till location table for a redemptions file: ``saved`` with ``--store-map`` over it.

    None for other kinds of file.
    """
    if args.kind != "redemptions":
        return None
    return {**(saved or {}), **parse_store_map_args(args.store_map)}


def finish(args: argparse.Namespace, report: ValidationReport, **extra: object) -> int:
    """Print the report as one JSON line, write the bad rows if asked; 1 when no row is usable."""
    if args.bad_rows is not None and not report.errors.empty:
        args.bad_rows.parent.mkdir(parents=True, exist_ok=True)
        args.bad_rows.write_bytes(bad_rows_csv(args.file, report))
    print_json({**report.as_dict(), "layout": report.layout, **extra})
    return 0 if len(report.valid) else 1
