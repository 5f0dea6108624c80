"""``python -m geo catchments``: write catchment polygons (travel-time bands or radius rings) as GeoJSON."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from geo.catchments.polygons import catchment_polygons, radius_rings, to_geojson
from geo.cli import print_json
from geo.data.tables import load_stores
from geo.errors import GeoError
from geo.modes import MODES, Mode
from geo.network.graph import DEFAULT_BIKE_KMH, DEFAULT_WALK_KMH
from geo.network.load import load_network
from geo.network.routing import DEFAULT_SNAP_MAX_M, Router

NAME = "catchments"
HELP = "Draw catchments per store: travel-time bands on the road network, or radius rings."


def parse_numbers(text: str, what: str) -> list[float]:
    """Parse ``"5,10,15"`` into floats; raise `GeoError` naming ``what`` on bad input."""
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise GeoError(f"{what} must be comma-separated numbers like 5,10,15, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise GeoError(f"{what} must be positive numbers, got {text!r}")
    return values


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by the engine commands: network source, speeds, snapping, cache."""
    parser.add_argument("--network", default="demo",
                        help="road network file (.osm, .osm.gz, .osm.bz2, .osm.pbf, .graphml) or 'demo'")
    parser.add_argument("--traffic", type=float, default=1.0, help="drive speed factor (1.0 = free flow)")
    parser.add_argument("--walk-kmh", type=float, default=DEFAULT_WALK_KMH, help="walking speed, km/h")
    parser.add_argument("--bike-kmh", type=float, default=DEFAULT_BIKE_KMH, help="cycling speed, km/h")
    parser.add_argument("--snap-max-m", type=float, default=DEFAULT_SNAP_MAX_M,
                        help="points farther than this from any road are unreachable, metres")
    parser.add_argument("--cache-dir", type=Path, default=None, help="folder of processed networks")


def router_from_args(args: argparse.Namespace, mode: str) -> Router:
    """Load the network named by ``args`` for ``mode`` and build its router."""
    G = load_network(args.network, mode, cache_dir=args.cache_dir, walk_kmh=args.walk_kmh,
                     bike_kmh=args.bike_kmh)
    return Router.from_graph(G, snap_max_m=args.snap_max_m)


def unplaced_summary(router: Router, stores: pd.DataFrame) -> list[dict[str, Any]]:
    """The stores that cannot be placed on the router's network, for the JSON summary (see `Router.place_stores`)."""
    unplaced = router.place_stores(stores).unplaced
    return [{"store_id": str(s), "reason": str(r), "dist_m": round(float(d), 1), "detail": str(t)}
            for s, r, d, t in zip(unplaced["store_id"], unplaced["reason"], unplaced["dist_m"], unplaced["detail"],
                                  strict=True)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    add_network_arguments(parser)
    parser.add_argument("--stores", required=True, type=Path, help="stores CSV (store_id, name, lat, lon)")
    parser.add_argument("--mode", required=True, choices=[m.value for m in MODES], help="travel mode, or radius")
    parser.add_argument("--minutes", default="5,10,15", help="travel-time bands in minutes, e.g. 5,10,15")
    parser.add_argument("--km", default="1,2", help="radius rings in km (radius mode), e.g. 1,2")
    parser.add_argument("--out", required=True, type=Path, help="GeoJSON file to write")


def run(args: argparse.Namespace) -> int:
    """Compute the catchments, write the GeoJSON and print a one-line JSON summary."""
    stores = load_stores(args.stores)
    unplaced: list[dict[str, Any]] = []
    if args.mode == Mode.RADIUS:
        gdf = radius_rings(stores, parse_numbers(args.km, "--km"))
    else:
        router = router_from_args(args, args.mode)
        gdf = catchment_polygons(router, stores, parse_numbers(args.minutes, "--minutes"), mode=args.mode,
                                 traffic=args.traffic)
        unplaced = unplaced_summary(router, stores)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_geojson(gdf), encoding="utf-8")
    print_json({"command": NAME, "mode": args.mode, "stores": int(len(stores)),
                "bands": sorted(float(b) for b in gdf["band_min"].unique()), "polygons": int(len(gdf)),
                "area_km2_total": round(float(gdf["area_km2"].sum()), 3), "unplaced_stores": unplaced,
                "out": str(args.out)})
    return 0
