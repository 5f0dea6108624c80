"""``python -m geo reach``: build a consent-aware target list for a catchment and print its waterfall as JSON."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from geo import audit
from geo.access import actor_or_local
from geo.campaign_settings import CampaignSettings, load_settings
from geo.cli import print_json
from geo.errors import DataError
from geo.export.downloads import LAYOUTS, write_download
from geo.modes import MODES, Mode
from geo.scale.cluster import AUTO, check_scheduler

if TYPE_CHECKING:
    from geo.network.routing import Router
    from geo.scale.reach import PartsReach
    from geo.workspace import Workspace
from geo.targeting.audience import AudienceFilters
from geo.targeting.plan import CampaignPlan, plan_campaign
from geo.targeting.reach import DEFAULT_HOLDOUT, DEFAULT_SEED, reach
from geo.targeting.suppression import read_suppression, recently_contacted
from geo.targeting.targets import build_target_list, save_campaign

NAME = "reach"
HELP = ("Assign customers to stores, apply consent and audience filters, draw the holdout and "
        "codes, write the target list.")
DEFAULT_OFFER_DAYS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the subcommand's options."""
    parser.add_argument("--network", default=None,
                        help="road network file (.osm, .osm.gz, .osm.bz2, .osm.pbf, .graphml) or "
                             "'demo'; required unless --mode radius")
    parser.add_argument("--stores", required=True, type=Path, help="stores CSV/Parquet")
    parser.add_argument("--customers", required=True, type=Path,
                        help="customers CSV/Parquet, or a folder of Parquet parts")
    parser.add_argument("--scheduler", default=AUTO,
                        help="for a folder of parts, where the work runs: none, local (a Dask "
                             "LocalCluster), tcp://HOST:8786, or auto (default); assignment, audience "
                             "rules, consent per address and counts run there, the holdout draw here")
    parser.add_argument("--mode", choices=[m.value for m in MODES], default="drive",
                        help="travel mode, or radius for crow-flies rings (default drive)")
    parser.add_argument("--minutes", default="10",
                        help="travel-time band limits in minutes, e.g. 10 or 5,10,15 (default 10)")
    parser.add_argument("--km", default="1",
                        help="radius band limits in km for --mode radius, e.g. 1 or 0.5,1 (default 1)")
    parser.add_argument("--traffic", type=float, default=1.0,
                        help="drive speed factor, 1.0 free flow, 0.7 = 30%% slower (default 1.0)")
    parser.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT,
                        help="share held out per store and band (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="seed of the holdout draw (default %(default)s)")
    parser.add_argument("--segment", default=None, help="keep these segments (comma-separated)")
    parser.add_argument("--ordered-within-days", type=int, default=None,
                        help="keep customers whose last order is at most N days old")
    parser.add_argument("--ordered-before-days", type=int, default=None,
                        help="keep customers whose last order is more than N days old")
    parser.add_argument("--min-online-orders", type=int, default=None,
                        help="keep customers with at least K online orders in 12 months")
    parser.add_argument("--location-quality", default=None,
                        help="keep these location sources (comma-separated: address,postcode,ip)")
    parser.add_argument("--suppression", type=Path, default=None,
                        help="file of e-mail addresses never to target (any layout)")
    parser.add_argument("--exclude-contacted-days", type=int, default=None,
                        help="drop customers contacted by a workspace campaign in the last N days")
    parser.add_argument("--today", default=None,
                        help="reference date for recency filters (default: today, UTC)")
    parser.add_argument("--workspace", default=None,
                        help="workspace whose campaigns give past contacts and used codes "
                             "(default 'default' when --campaign is given)")
    parser.add_argument("--campaign", default=None, help="save the campaign under this name")
    parser.add_argument("--offer-start", default=None,
                        help="offer start, e.g. 2026-10-01 or '2026-10-01 09:00' (default: today)")
    parser.add_argument("--offer-end", default=None,
                        help=f"offer end; a date alone covers that day (default: start + "
                             f"{DEFAULT_OFFER_DAYS - 1} days, a {DEFAULT_OFFER_DAYS}-day offer)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output file (.csv or .xlsx); for a folder of parts, also a folder "
                             "receiving the list as Parquet parts (targets-NNNNN.parquet, one per "
                             "input part)")
    parser.add_argument("--layout", choices=LAYOUTS, default="targets",
                        help="column layout: the full list, or a provider's import layout "
                             "(treatment only)")
    parser.add_argument("--bom", action="store_true",
                        help="CSV for Excel: a UTF-8 byte-order mark and formulas neutralised "
                             "(provider layouts are otherwise written verbatim for the importer)")


def _numbers(text: str, flag: str, unit: str) -> list[float]:
    try:
        values = sorted({float(v) for v in str(text).split(",") if v.strip()})
    except ValueError:
        raise DataError(flag, f"expected comma-separated {unit} such as 5,10,15, got {text!r}") \
            from None
    if not values or values[0] <= 0:
        raise DataError(flag, f"band limits must be positive {unit}, got {text!r}")
    return values


def _words(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(w.strip() for w in text.split(",") if w.strip())


def assignment_for(args: argparse.Namespace, stores: pd.DataFrame, customers: pd.DataFrame,
                   bands: list[float]) -> pd.DataFrame:
    """Run the engine: nearest store per customer by travel time (or crow-flies in radius mode)."""
    if Mode.parse(args.mode) is Mode.RADIUS:
        from geo.catchments.assign import radius_assign
        return radius_assign(stores, customers, km=max(bands))
    from geo.catchments.assign import assign_customers
    router = _router(args)
    return assign_customers(router, stores, customers, mode=args.mode, traffic=args.traffic,
                            max_minutes=max(bands))


def _router(args: argparse.Namespace) -> Router:
    if not args.network:
        raise DataError("--network", f"a road network is needed for --mode {args.mode} "
                                     "(a file or 'demo'); use --mode radius without one")
    from geo.network.load import load_network
    from geo.network.routing import Router
    return Router.from_graph(load_network(args.network, args.mode))


def to_folder(out: Path) -> bool:
    """True when ``--out`` names a folder of Parquet parts (an existing folder, or no .csv/.xlsx suffix)."""
    return Path(out).is_dir() or Path(out).suffix.lower() not in (".csv", ".xlsx")


def reach_folder(args: argparse.Namespace, stores: pd.DataFrame, plan: CampaignPlan, *,
                 filters: AudienceFilters, suppression: pd.Index | None, contacted: pd.Index | None,
                 today: pd.Timestamp | str, used: set[str]) -> PartsReach:
    """A folder of parts: assign part by part, then `geo.scale.reach.reach_parts` (Dask with ``--scheduler``).

    The target list goes to ``--out`` as Parquet parts when it names a folder;
    it is kept in memory for a single ``.csv``/``.xlsx`` file or a campaign.
    """
    import tempfile

    from geo.scale.assign import assign_parts
    from geo.scale.reach import reach_parts

    start, end = _offer_window(args)
    folder = to_folder(args.out)
    if folder:
        actor_or_local(None).require("download")
    with tempfile.TemporaryDirectory(prefix="geo-reach-") as tmp:
        assigned = None
        if Mode.parse(plan.mode) is not Mode.RADIUS:
            counts = assign_parts(_router(args), stores, args.customers, Path(tmp), traffic=args.traffic,
                                  max_minutes=max(plan.bands), scheduler=args.scheduler)
            assigned = [Path(p) for p in counts.outputs]
        return reach_parts(args.customers, assigned, stores, bands=plan.bands, mode=plan.mode, filters=filters,
                           suppression=suppression, contacted=contacted, today=today, holdout=plan.holdout,
                           seed=plan.seed, out_dir=args.out if folder else None, layout=args.layout,
                           offer_start=start, offer_end=end, existing_codes=used,
                           keep=not folder or bool(args.campaign), scheduler=args.scheduler)


def write_folder_result(args: argparse.Namespace, result: PartsReach, workspace: Workspace | None) -> Path:
    """Where a folder's target list went: the Parquet parts already written, or a single file written now.

    The parts are recorded in the workspace's audit trail as a download, as
    `write_download` records a single file.
    """
    if to_folder(args.out):
        if workspace is not None:
            audit.record(workspace, "download", result.rows_written, layout=args.layout, format="parquet",
                         parts=len(result.outputs))
        return Path(args.out)
    if result.targets is None:
        raise DataError("--out", "the target list was not kept for a single file; run again")
    return write_download(result.targets, args.out, layout=args.layout, bom=args.bom, workspace=workspace)


def _offer_window(args: argparse.Namespace) -> tuple[object, object]:
    start = args.offer_start or pd.Timestamp.now("UTC").tz_localize(None).normalize()
    if args.offer_end:
        return start, args.offer_end
    end = (pd.Timestamp(start).normalize() + pd.Timedelta(days=DEFAULT_OFFER_DAYS)
           - pd.Timedelta(seconds=1))
    return start, end


def run(args: argparse.Namespace) -> int:
    """Load, assign, apply the audience rules, write the list and print the JSON summary."""
    from geo.data.tables import load_customers, load_stores
    from geo.targeting.codes import existing_codes
    from geo.workspace import create_workspace, open_workspace

    radius = Mode.parse(args.mode) is Mode.RADIUS
    bands = _numbers(args.km, "--km", "km") if radius else \
        _numbers(args.minutes, "--minutes", "minutes")
    stores = load_stores(args.stores)
    check_scheduler(args.scheduler)
    parts = Path(args.customers).is_dir()
    customers = None if parts else load_customers(args.customers)
    ws_name = args.workspace or ("default" if args.campaign else None)
    workspace = None
    if ws_name:
        workspace = (create_workspace(ws_name, exist_ok=True) if args.campaign
                     else open_workspace(ws_name))
    filters = AudienceFilters(
        segments=_words(args.segment), ordered_within_days=args.ordered_within_days,
        ordered_before_days=args.ordered_before_days, min_online_orders=args.min_online_orders,
        location_sources=_words(args.location_quality),
        exclude_contacted_days=args.exclude_contacted_days)
    today = args.today or pd.Timestamp.now("UTC").tz_localize(None).normalize()
    contacted = None
    if args.exclude_contacted_days is not None:
        if workspace is None:
            raise DataError("--exclude-contacted-days",
                            "needs --workspace: past contacts come from its saved campaigns")
        contacted = recently_contacted(workspace, args.exclude_contacted_days, today)
    suppression = read_suppression(args.suppression) if args.suppression else None

    settings = load_settings(workspace) if workspace is not None else CampaignSettings()
    settings = replace(settings, traffic=args.traffic).with_bands(args.mode, bands)
    plan = plan_campaign(settings, mode=args.mode, limit=max(bands),
                         stores=stores["store_id"].astype(str).tolist(), filters=filters,
                         holdout=args.holdout, seed=args.seed, network=args.network,
                         today=today,
                         suppressed_addresses=0 if suppression is None else len(suppression))
    used = existing_codes(workspace) if workspace is not None else set()
    if customers is None:  # a folder of parts
        parts_result = reach_folder(args, stores, plan, filters=filters, suppression=suppression,
                                    contacted=contacted, today=today, used=used)
        n_customers, unreachable = parts_result.customers, parts_result.unreachable
        summary, targets = parts_result.summary(), parts_result.targets
        out = write_folder_result(args, parts_result, workspace)
    else:
        assignment = assignment_for(args, stores, customers, list(plan.bands))
        result = reach(customers, assignment, stores, bands=plan.bands, mode=plan.mode,
                       filters=filters, suppression=suppression, contacted=contacted, today=today,
                       holdout=plan.holdout, seed=plan.seed)
        start, end = _offer_window(args)
        targets = build_target_list(result.targets, stores, mode=args.mode, offer_start=start,
                                    offer_end=end, existing_codes=used)
        out = write_download(targets, args.out, layout=args.layout, bom=args.bom,
                             workspace=workspace)
        n_customers = int(len(customers))
        unreachable = int((~assignment["reachable"].astype(bool)).sum())
        summary = result.summary()
    saved = None
    if args.campaign:
        if workspace is None or targets is None:  # --campaign opens the workspace ('default' unless --workspace)
            raise DataError("--campaign", "needs a workspace to save the campaign in")
        saved = save_campaign(workspace, args.campaign, targets, plan.params())
    print_json({
        "command": NAME, "mode": args.mode, "bands": bands, "unit": "km" if radius else "min",
        "customers": n_customers,
        "unreachable": unreachable,
        **summary, "out": str(out), "layout": args.layout,
        "campaign": saved.name if saved else None,
        "workspace": workspace.name if workspace is not None else None,
    })
    return 0
