"""Download a travel mode's network by place or box through OSMnx (Nominatim, Overpass); fail fast offline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import shapely

from geo.errors import NetworkError
from geo.modes import check_mode
from geo.network.extent import set_bounds
from geo.network.graph import (
    DEFAULT_BIKE_KMH,
    DEFAULT_WALK_KMH,
    add_travel_times,
    keep_pieces,
)


def _finish_online(G: nx.MultiDiGraph, mode: str, label: str, bounds: Any, origin: str, *,
                   walk_kmh: float, bike_kmh: float) -> nx.MultiDiGraph:
    if len(G) == 0 or G.number_of_edges() == 0:
        raise NetworkError(f"{label}: empty {mode} network downloaded")
    G = keep_pieces(G, label)
    set_bounds(G, bounds, origin)
    G.graph["source"] = label
    return add_travel_times(G, mode, walk_kmh=walk_kmh, bike_kmh=bike_kmh)


CONNECT_TIMEOUT_S = 5.0
"""Seconds to wait for OpenStreetMap's servers to answer a connection before giving up."""


def check_reachable(url: str, what: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise `NetworkError` in plain words when ``url``'s server cannot be reached quickly.

    OSMnx waits a minute when Overpass's status page cannot be reached, then
    fails with raw connection text; a few seconds' connection test first says
    what the user can do instead.

    Parameters
    ----------
    url
        The endpoint (``ox.settings.overpass_url`` or ``nominatim_url``).
    what
        What was being downloaded, for the message.
    timeout_s
        Connection timeout in seconds.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return
    except OSError:
        raise NetworkError(
            f"cannot download {what}: OpenStreetMap's servers cannot be reached from this "
            "machine (no internet connection, or a firewall or proxy blocks them). Upload an "
            "OSM extract of the area instead (.osm.pbf from a provider such as Geofabrik), or "
            "try again when online.") from None


def graph_from_place(place: str, mode: str, *, walk_kmh: float = DEFAULT_WALK_KMH,
                     bike_kmh: float = DEFAULT_BIKE_KMH, simplify: bool = False) -> nx.MultiDiGraph:
    """Download the ``mode`` network of a place through OSMnx (Nominatim, then Overpass).

    Does what ``ox.graph_from_place`` does (geocode the place to a polygon, then
    ``ox.graph_from_polygon``) so that the polygon is kept as the network's bounds,
    and keeps every piece (see `keep_pieces`). Uses OSMnx's endpoints and HTTP
    cache (``ox.settings.nominatim_url``, ``overpass_url``, ``use_cache``,
    ``cache_folder``). Speeds as in `load_network`. Raises `NetworkError` when
    the place is unknown or the download fails.
    """
    check_mode(mode)
    check_reachable(ox.settings.nominatim_url, f"the {mode} network of {place!r}")
    check_reachable(ox.settings.overpass_url, f"the {mode} network of {place!r}")
    try:
        polygon = ox.geocode_to_gdf(place).union_all()
        G = ox.graph_from_polygon(polygon, network_type=mode, simplify=simplify, retain_all=True)
    except Exception as exc:  # OSMnx raises its own errors, httpx/requests errors, ValueError...
        raise NetworkError(f"cannot download the {mode} network of {place!r}: {exc}") from None
    return _finish_online(G, mode, place, polygon, "download polygon", walk_kmh=walk_kmh, bike_kmh=bike_kmh)


def graph_from_bbox(bbox: tuple[float, float, float, float], mode: str, *,
                    walk_kmh: float = DEFAULT_WALK_KMH, bike_kmh: float = DEFAULT_BIKE_KMH,
                    simplify: bool = False) -> nx.MultiDiGraph:
    """Download the ``mode`` network inside ``bbox`` through OSMnx (Overpass); the box becomes its bounds.

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in degrees (EPSG:4326), as OSMnx 2 expects;
        see `bbox_around` for the stores' box plus a margin.
    """
    check_mode(mode)
    west, south, east, north = (float(b) for b in bbox)
    if not (west < east and south < north):
        raise NetworkError(f"bounding box must be (west, south, east, north) with west < east and "
                           f"south < north, got {bbox}")
    check_reachable(ox.settings.overpass_url, f"the {mode} network of the box {bbox}")
    try:
        G = ox.graph_from_bbox((west, south, east, north), network_type=mode, simplify=simplify,
                               retain_all=True)
    except Exception as exc:  # OSMnx raises its own errors, HTTP errors, ValueError...
        raise NetworkError(f"cannot download the {mode} network of bbox {bbox}: {exc}") from None
    return _finish_online(G, mode, f"bbox {bbox}", shapely.box(west, south, east, north), "download box",
                          walk_kmh=walk_kmh, bike_kmh=bike_kmh)


def bbox_around(lats: Iterable[float], lons: Iterable[float], margin_km: float = 2.0
                ) -> tuple[float, float, float, float]:
    """Return ``(west, south, east, north)`` around points plus ``margin_km`` kilometres on every side."""
    lat = np.asarray(list(lats), dtype=float)
    lon = np.asarray(list(lons), dtype=float)
    if lat.size == 0:
        raise NetworkError("cannot build a bounding box around zero points")
    dlat = margin_km / 111.32
    dlon = margin_km / (111.32 * max(np.cos(np.radians(np.abs(lat).max())), 0.01))
    return (float(lon.min() - dlon), float(lat.min() - dlat), float(lon.max() + dlon), float(lat.max() + dlat))
