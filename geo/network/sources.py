"""Name a road-network source in one string and load it: the demo, a local file, a place or a box.

Source strings, as stored in a workspace's settings:

* ``"demo"``: the embedded central-Helsinki extract;
* a file path (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``, ``.graphml``);
* ``"place:Krems an der Donau, Austria"``: downloaded online by place name;
* ``"bbox:west,south,east,north"`` (degrees, EPSG:4326): downloaded online, e.g.
  the stores' bounding box plus a margin (`bbox_source`).

Online downloads go through OSMnx (Nominatim and Overpass, with OSMnx's own HTTP
cache) and the processed graph is kept on disk keyed by source and mode, so a
second load reads the cache and needs no internet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import networkx as nx

from geo.errors import NetworkError
from geo.network.cache import CACHE_VERSION, load_graph_cache, save_graph_cache
from geo.network.download import bbox_around, graph_from_bbox, graph_from_place
from geo.network.load import load_network

PLACE = "place:"
BBOX = "bbox:"


def bbox_source(lats: Iterable[float], lons: Iterable[float], margin_km: float = 2.0) -> str:
    """Source string of the box around points (e.g. the stores) plus ``margin_km`` km."""
    west, south, east, north = bbox_around(lats, lons, margin_km)
    return f"{BBOX}{west:.5f},{south:.5f},{east:.5f},{north:.5f}"


def describe(source: str) -> str:
    """A short human description of a source string."""
    if source == "demo":
        return "central Helsinki (embedded demo extract)"
    if source.startswith(PLACE):
        return f"{source[len(PLACE):]} (downloaded from OpenStreetMap)"
    if source.startswith(BBOX):
        return f"box {source[len(BBOX):]} (downloaded from OpenStreetMap)"
    return Path(source).name


def is_online(source: str) -> bool:
    """True for sources that need a download (place or box)."""
    return source.startswith((PLACE, BBOX))


def source_key(source: str, mode: str) -> str:
    """A key that changes when the network of ``source`` for ``mode`` would change.

    Files are keyed by path, size and modification time; online sources by their
    string; the demo by the extract's path and size. Part of static-layer names.
    """
    if is_online(source):
        return f"{CACHE_VERSION}|{source}|{mode}"
    from geo.network.load import demo_network_path

    path = demo_network_path() if source == "demo" else Path(source)
    try:
        st = path.stat()
    except OSError:
        return f"{CACHE_VERSION}|{path}|missing|{mode}"
    return f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{mode}"


def _online_cache_file(source: str, mode: str, cache_dir: Path) -> Path:
    digest = hashlib.sha256(f"{CACHE_VERSION}|{source}|{mode}".encode()).hexdigest()[:24]
    return Path(cache_dir) / f"online-{digest}.npz"


def _download(source: str, mode: str) -> nx.MultiDiGraph:
    if source.startswith(PLACE):
        place = source[len(PLACE):].strip()
        if not place:
            raise NetworkError("the place name is empty: type a town, district or address")
        return graph_from_place(place, mode)
    try:
        west, south, east, north = (float(v) for v in source[len(BBOX):].split(","))
    except ValueError:
        raise NetworkError(f"bad box {source!r}: use bbox:west,south,east,north in degrees") from None
    return graph_from_bbox((west, south, east, north), mode)


def load_source(source: str, mode: str, *, cache_dir: Path,
                progress: Callable[[str], None] | None = None) -> nx.MultiDiGraph:
    """Load the ``mode`` road network of ``source`` (see the module notes), through the disk cache.

    Parameters
    ----------
    source
        ``"demo"``, a file path, ``"place:NAME"`` or ``"bbox:W,S,E,N"``.
    mode
        ``"drive"``, ``"walk"`` or ``"bike"``.
    cache_dir
        Folder of processed networks.
    progress
        Optional callback receiving short status messages.
    """
    if not is_online(source):
        return load_network(source, mode, cache_dir=cache_dir, progress=progress)
    file = _online_cache_file(source, mode, cache_dir)
    if file.is_file():
        return load_graph_cache(file)
    if progress:
        progress(f"downloading the {mode} network of {describe(source)}")
    G = _download(source, mode)
    save_graph_cache(G, file)
    return G


def save_network_file(folder: Path, filename: str, data: bytes) -> Path:
    """Store an uploaded network file in ``folder`` (a workspace's ``networks/``) and return its path.

    Raises `NetworkError` when the extension is not one `load_network` reads.
    """
    from geo.network.load import FILE_SUFFIXES

    name = Path(filename).name
    if not name.lower().endswith(FILE_SUFFIXES):
        raise NetworkError(f"{name}: not a road-network file; use one of {', '.join(FILE_SUFFIXES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
