"""Read, keep and read back the declared bounds of a road network (the area its extract covers).

The bounds say which area an extract covers, whatever its roads: the header box
of an ``.osm.pbf`` file, the ``<bounds>`` element of an ``.osm``, ``.osm.gz`` or
``.osm.bz2`` file (both read with pyosmium), or the box or polygon an online
download used. They are kept in ``G.graph["bounds"]`` as WKT in EPSG:4326 (a
plain string, so they survive the disk cache and GraphML files) and
``G.graph["bounds_from"]`` says where they came from. `geo.network.routing.Router` uses
them for its area test: a point is outside the network's area only if it lies
outside these bounds (or, without bounds, farther than the snap limit outside
the hull of the nodes).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import shapely

from geo.errors import NetworkError

BOUNDS_KEY = "bounds"
BOUNDS_FROM_KEY = "bounds_from"


def file_bounds(path: Path) -> tuple[shapely.Polygon | None, str]:
    """Return the declared box of an OSM file and where it was found, or ``(None, "")``.

    Parameters
    ----------
    path
        ``.osm.pbf`` (header box) or ``.osm``, ``.osm.gz``, ``.osm.bz2`` file
        (``<bounds>`` element); read with ``osmium.io.Reader(path).header().box()``.

    Returns
    -------
    polygon, origin
        The box as a polygon in EPSG:4326 degrees (None when the file declares
        no valid box) and a short description of its origin.
    """
    import osmium

    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except (RuntimeError, ValueError, OSError, UnicodeError):
        return None, ""  # a damaged file is reported by the reader of its ways
    if not box.valid():
        return None, ""
    west, south = box.bottom_left.lon, box.bottom_left.lat
    east, north = box.top_right.lon, box.top_right.lat
    if not (west < east and south < north):
        return None, ""
    origin = "PBF header box" if path.name.lower().endswith(".pbf") else "<bounds> element"
    return shapely.box(west, south, east, north), origin


def set_bounds(G: nx.MultiDiGraph, polygon: shapely.Geometry | None, origin: str) -> None:
    """Record ``polygon`` (EPSG:4326) and its ``origin`` in ``G.graph``; None records nothing."""
    if polygon is None or polygon.is_empty:
        return
    G.graph[BOUNDS_KEY] = shapely.to_wkt(polygon, rounding_precision=8)
    G.graph[BOUNDS_FROM_KEY] = origin


def graph_bounds(G: nx.MultiDiGraph, label: str = "network") -> shapely.Geometry | None:
    """Return the bounds recorded in ``G.graph`` (EPSG:4326 polygon), or None when there are none.

    Raises `NetworkError` naming ``label`` when the recorded value is not a
    polygon in WKT (a hand-edited GraphML file, for example).
    """
    text = G.graph.get(BOUNDS_KEY)
    if text in (None, ""):
        return None
    try:
        geom = shapely.from_wkt(str(text))
    except shapely.errors.GEOSException:
        geom = None
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise NetworkError(f"{label}: the graph attribute {BOUNDS_KEY!r} is not a polygon in WKT "
                           f"({str(text)[:60]!r}); remove it or write the extract's box as POLYGON ((...))")
    return geom
