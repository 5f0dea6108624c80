"""Read the ways of a travel mode and their nodes from an OSM file, cutting ways where an extract was clipped.

Ways are kept or dropped with OSMnx's own ``network_type`` filters, evaluated
locally (`way_filter`), so a file gives the same ways as an Overpass download.
"""

from __future__ import annotations

import re
import warnings
from itertools import groupby
from pathlib import Path
from typing import Any

import networkx as nx
import osmnx as ox
from osmnx import _overpass

from geo.errors import NetworkError, NetworkWarning
from geo.modes import check_mode

_PART_OFFSET = 10**15
_CLAUSE = re.compile(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]')


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
            if not isinstance(w, osmium.osm.Way):  # the entity filter lets ways through only
                continue
            highway_ways += 1
            tags = {t.k: t.v for t in w.tags if t.k in keep_tags}
            if way_passes(tags, clauses):
                ways.append((w.id, tags, [n.ref for n in w.nodes]))
        needed = {ref for _, _, refs in ways for ref in refs}
        nodes: dict[int, dict[str, Any]] = {}
        node_tags = set(ox.settings.useful_tags_node)
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(osmium.filter.IdFilter(needed))
        for n in fp:
            if not isinstance(n, osmium.osm.Node):  # the entity filter lets nodes through only
                continue
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
    elements: list[dict[str, Any]] = []
    clipped: list[int] = []
    missing = 0
    for way_id, tags, refs in ways:
        present = [r in nodes for r in refs]
        if all(present):
            elements.append({"type": "way", "id": way_id, "tags": tags, "nodes": refs})
            continue
        clipped.append(way_id)
        missing += present.count(False)
        runs = [[r for r, _ in grp] for ok, grp in groupby(zip(refs, present, strict=True), key=lambda t: t[1]) if ok]
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


def restore_way_ids(G: nx.MultiDiGraph) -> None:
    """Undo `_unique_way_ids`: put the real OSM way id back on edges of cut ways."""
    for _, _, data in G.edges(data=True):
        if data["osmid"] >= _PART_OFFSET:
            data["osmid"] = data["osmid"] % _PART_OFFSET


def warn_clipped(label: str, report: dict[str, Any], on_missing_nodes: str) -> None:
    """Warn (or raise, with ``on_missing_nodes="raise"``) when `read_osm_elements` cut clipped ways.

    ``report`` is the report of `read_osm_elements`; ``label`` names the network in the message.
    """
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
