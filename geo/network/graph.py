"""Build routable graphs from OSM ways with OSMnx's own construction; keep their pieces; add speeds.

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

import warnings
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import scipy.sparse as sp
from osmnx import graph as _oxgraph
from scipy.sparse.csgraph import connected_components

from geo.errors import NetworkError, NetworkWarning
from geo.modes import check_mode
from geo.network.osm import restore_way_ids

DEFAULT_WALK_KMH = 4.8
DEFAULT_BIKE_KMH = 15.0
TYPICAL_DRIVE_KMH = {
    "motorway": 110.0, "motorway_link": 60.0, "trunk": 90.0, "trunk_link": 50.0, "primary": 70.0,
    "primary_link": 50.0, "secondary": 60.0, "secondary_link": 40.0, "tertiary": 50.0, "tertiary_link": 40.0,
    "unclassified": 40.0, "residential": 30.0, "living_street": 10.0, "road": 30.0,
}
"""Drive speeds (km/h) used only when no edge carries a ``maxspeed`` tag (OSMnx needs at least one)."""
MIN_PIECE_EDGES = 2
"""Pieces of the network with fewer edges than this are dropped at load time (a lone segment)."""








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
    restore_way_ids(G)
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
