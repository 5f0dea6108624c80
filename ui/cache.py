"""Cached wrappers over `geo` calls: road graphs as shared resources, results as data."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from geo.demo import build as demo
from geo.workspace import DEMO, list_workspaces, open_workspace

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/app/static"


@st.cache_resource(show_spinner="Building the Liechtenstein demo (first start only)…")
def ensure_demo(root: str) -> bool:
    """Create the demo workspace under ``root`` if it is missing (once per server)."""
    if DEMO not in list_workspaces(Path(root)):
        demo.install_demo(Path(root))
    return True


@st.cache_resource(show_spinner=False, max_entries=12)
def table(root: str, workspace: str, kind: str, version: str) -> pd.DataFrame | None:
    """A workspace table, read once per ``version`` (`Workspace.table_version`) and shared.

    Every page and cached function of a session gets the same frame (no copy
    per call): read it, never change it.
    """
    return open_workspace(workspace, Path(root)).load_table(kind)


def publish_static(name: str, payload: bytes) -> str:
    """Write ``payload`` under ``static/generated`` (once per content) and return its URL.

    The file name holds a hash of the content, so the browser caches it safely and
    a rerun that references the same URL sends nothing again.
    """
    digest = hashlib.sha256(payload).hexdigest()[:16]
    return _publish(Path("generated") / f"{name}-{digest}.json", lambda: payload)


def publish_static_keyed(name: str, key: str, make: Callable[[], bytes]) -> str:
    """Like `publish_static`, but named by ``key`` so a restart reuses the file without rebuilding it.

    ``key`` must change whenever the content would (e.g. a workspace table
    version, or a network source and mode).
    """
    digest = hashlib.sha256(f"{name}|{key}".encode()).hexdigest()[:16]
    return _publish(Path("generated") / f"{name}-k{digest}.json", make)


STATIC_HIGH_WATER = 400
"""Generated files past which `prune_static` runs (each publish of a new file checks)."""


@st.cache_resource(show_spinner=False)
def _static_guard() -> tuple[threading.Lock, float]:
    """The server's lock over the generated folder, and when this server first published (epoch s)."""
    return threading.Lock(), time.time()


def _publish(rel: Path, make: Callable[[], bytes]) -> str:
    """Write ``make()`` at ``static/rel`` unless it is there; mark it as used by this server; its URL.

    Sessions publish concurrently (often the same file): each writes its own
    temporary file and renames it into place, so no session sees a half-written
    or vanished file. A file found in place is touched, which keeps it from
    `prune_static` for the life of this server.
    """
    path = STATIC_DIR / rel
    lock, started = _static_guard()
    with lock:
        if path.exists():
            os.utime(path)
            return f"{STATIC_URL}/{rel.as_posix()}"
    payload = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
    with lock:
        os.replace(tmp, path)
        prune_static(path.parent, before=started)
    return f"{STATIC_URL}/{rel.as_posix()}"


def prune_static(folder: Path, *, before: float, high_water: int = STATIC_HIGH_WATER) -> int:
    """Past ``high_water`` files, delete those not written or used since ``before`` (epoch s); how many.

    A URL this server handed out (and may still hold in a cache) names a file
    written or touched since it started, so only files left by earlier runs of
    the server go: the folder stays bounded across restarts and no page of the
    running server loses a layer.
    """
    files = list(folder.glob("*.json"))
    if len(files) <= high_water:
        return 0
    gone = 0
    for old in files + list(folder.glob(".*.tmp")):      # and writes a crash left behind
        try:
            if old.stat().st_mtime < before:
                old.unlink()
                gone += 1
        except FileNotFoundError:
            continue
    return gone


@st.cache_resource(show_spinner="Loading the road network…", max_entries=6)
def road_network(source: str, mode: str):
    """The road graph of ``source`` (see `geo.network.sources`) and travel ``mode``, shared by all sessions."""
    from geo.network.sources import load_source
    from geo.workspace import default_root

    return load_source(source, mode, cache_dir=default_root() / "cache" / "networks")


@st.cache_data(show_spinner=False, max_entries=6)
def road_paths_url(source: str, mode: str) -> str:
    """URL of the road lines of ``source`` as static JSON for the map's road layer."""
    import osmnx as ox

    from geo.network.sources import source_key
    from geo.views.maps import road_paths_json

    def make() -> bytes:
        return road_paths_json(ox.graph_to_gdfs(road_network(source, mode), nodes=False))

    return publish_static_keyed(f"roads-{mode}", source_key(source, mode) + "|two-way once", make)


@st.cache_data(show_spinner=False, max_entries=8)
def customer_points_url(root: str, workspace: str, version: str) -> str:
    """URL of the workspace's customers as static JSON for the point and density layers."""
    from geo.views.maps import customer_points_json

    def make() -> bytes:
        return customer_points_json(table(root, workspace, "customers", version))

    return publish_static_keyed("customers", f"{root}|{workspace}|{version}", make)


@st.cache_data(show_spinner=False, max_entries=8)
def dataset_view(root: str, workspace: str, customers_version: str, stores_version: str):
    """The fixed camera framing a workspace's stores and the central 98 % of its customers."""
    import numpy as np

    from geo.views.maps import view_state

    customers = table(root, workspace, "customers", customers_version)
    stores = table(root, workspace, "stores", stores_version)
    lat = np.concatenate([stores["lat"].to_numpy(float),
                          customers["lat"].quantile([0.01, 0.99]).to_numpy(float)])
    lon = np.concatenate([stores["lon"].to_numpy(float),
                          customers["lon"].quantile([0.01, 0.99]).to_numpy(float)])
    return view_state(lat, lon)


def customers_and_stores(ws) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    """The workspace's customers and stores with their table versions (the cache keys).

    When either table is missing the page says where to import it and stops, so
    every map page handles an empty workspace the same way.
    """
    from geo.errors import GeoError

    root = str(ws.root)
    cv, sv = ws.table_version("customers"), ws.table_version("stores")
    try:
        customers = table(root, ws.name, "customers", cv)
        stores = table(root, ws.name, "stores", sv)
    except (GeoError, OSError, ValueError) as exc:
        st.error(f"Could not load the data of workspace {ws.name!r}: {exc}")
        st.stop()
    if customers is None or stores is None:
        st.info("This workspace has no customers or stores yet: import them on the "
                "Data & workspaces page.")
        st.stop()
    return customers, stores, cv, sv


@st.cache_data(show_spinner=False, max_entries=16)
def headline(root: str, workspace: str, customers_version: str, stores_version: str) -> dict[str, int]:
    """`geo.views.summary.headline_counts` of the workspace, once per table versions."""
    from geo.views.summary import headline_counts

    return headline_counts(table(root, workspace, "customers", customers_version),
                           table(root, workspace, "stores", stores_version))


@st.cache_data(show_spinner=False, max_entries=16)
def customer_legend(root: str, workspace: str, version: str, colour_by: str) -> list[tuple[str, list[int]]]:
    """`geo.views.maps.legend` of the workspace's customers, once per version and colouring."""
    from geo.views.maps import legend

    return legend(table(root, workspace, "customers", version), colour_by)


@st.cache_data(show_spinner=False, max_entries=16)
def density_hex_m(root: str, workspace: str, version: str) -> float:
    """`geo.views.maps.density_radius_m` of the central 98 % of the workspace's customers, metres."""
    from geo.views.maps import density_radius_m

    customers = table(root, workspace, "customers", version)
    return density_radius_m(customers["lat"].quantile([0.01, 0.99]),
                            customers["lon"].quantile([0.01, 0.99]))
