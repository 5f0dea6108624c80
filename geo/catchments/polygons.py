"""Draw catchment polygons: travel-time bands on the road network, geodesic rings, what-if stores.

Travel-time polygons are built on a raster in the router's UTM CRS:

1. the edges of the nodes a store reaches within its longest band are
   sampled every ``cell_m`` metres (and every reached node is a sample); a
   sample's time is the time of the edge end it travels through plus the
   part of the edge it covers, so partially reachable edges are cut at the
   reachable fraction. Times come from the sparse rows of
   `geo.network.stores.StoreTimes.reached`, never the dense ``stores x nodes``
   array, and a sample beaten by another of the same node in its cell is
   dropped (it cannot change a band);
2. the cells holding samples within the band are marked and grown by one cell
   on every side (a buffer of one to 1.4 cells), so every reachable road lies
   inside, and so does the store itself;
3. enclosed holes smaller than ``max_hole_km2`` are filled (blocks between
   reachable streets), larger unreachable areas stay out (no convex hulls);
4. the cells are traced into rings (8-connected cells, exteriors and holes);
5. the rings are contoured without stair steps: each lattice corner is cut half a
   cell back along both its edges, which is the 0.5 contour of the cell mask
   interpolated linearly between cell centres (marching squares), so a staircase
   becomes its diagonal and nested masks give nested outlines; the outlines are
   then simplified to ``tolerance_m`` metres (default half a cell) and each band
   is clipped to the next larger one, so bands stay nested after simplification.
   Holes (lakes, parks, rail yards no road reaches) are contoured the same way.
   Every reachable node stays inside: a node's cell and its 8 neighbours are in
   the mask, and the corner cut plus the simplification move an outline by less
   than one cell.

A store whose largest band would need more than ``max_cells`` cells uses a
coarser cell (an integer multiple of ``cell_m``) for all its bands. The bands of
a store share one grid and a wider band only adds cells, so they nest exactly
on the grid (5 within 10 within 15); reprojecting the straight grid edges to
EPSG:4326 moves them by less than a few centimetres. ``area_km2`` is measured
on the grid (UTM square metres). Simplified graphs are drawn with straight
chords between nodes (graphs load at full resolution by default).

The stores are drawn a batch at a time (about `BATCH_SAMPLES` edge samples per
batch); a batch's stores and bands are rasterised, filled, traced and assembled
at once on one mosaic (`geo.catchments._raster`), and a tile's polygon does not
depend on the batch. Memory: O(nodes + edges) for the sample counts, plus the
batch, plus the stores' catchments. 150 polygons (50 stores x 3 bands) take
about 0.2 s on the 16k-node Andorra network; 1,500 (500 stores x 10/20/30 min)
about 13 s of CPU on a 2-million-node network (`bench/bench_scale.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely

from geo.catchments import _raster as raster
from geo.catchments.assign import assign_customers, band_counts, snap_customers
from geo.errors import NetworkError
from geo.modes import Mode
from geo.network.routing import Router
from geo.network.stores import ReachedTimes, StoreTimes

CATCHMENT_COLUMNS = ["store_id", "band_min", "mode", "area_km2", "customers", "geometry"]
DEFAULT_CELL_M = {"drive": 50.0, "bike": 25.0, "walk": 15.0}
DEFAULT_MAX_HOLE_KM2 = {"drive": 0.25, "bike": 0.1, "walk": 0.05}
DEFAULT_MAX_CELLS = 25_000
BATCH_SAMPLES = 2_000_000
"""Edge samples drawn at once (a batch of stores): each per-sample array is 16 MB."""


@dataclass
class _Edges:
    """The edges sampled for each node's time, every ``cell_m`` metres, in the CSR order of the search graph.

    Row ``n`` of ``graph`` (`Router.graph_seconds` at traffic 1 in the
    direction asked) lists the edges whose samples travel through node ``n``:
    for ``to_store`` the edges ending at ``n`` (a sample goes on to ``n`` and
    from there to the store), for ``from_store`` those starting at ``n``. Each
    edge has ``count`` samples (spacing at most ``cell_m``, both ends
    included); ``per_node`` counts the samples reading each node (its edges'
    plus the node itself). ``x0, y0`` is the grid origin in metres of the
    router's CRS. Memory: O(nodes + edges), whatever the number of stores.
    """

    graph: sp.csr_matrix
    count: np.ndarray
    per_node: np.ndarray
    x0: float
    y0: float
    cell_m: float
    to_store: bool


def _edges(router: Router, cell_m: float, direction: str) -> _Edges:
    """Sample counts of every edge for ``cell_m`` metres and ``direction``; cached on the router."""
    key = ("edge_samples", cell_m, direction)
    if key not in router.cache:
        graph = router.graph_seconds(1.0, direction)
        here = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
        u, v = (graph.indices, here) if direction == "to_store" else (here, graph.indices)
        seg = router.xy[v] - router.xy[u]
        count = np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / cell_m).astype(np.int64) + 1
        total = np.concatenate([[0], np.cumsum(count)])
        x0, y0 = router.xy.min(axis=0) - 3 * cell_m
        router.cache[key] = _Edges(graph=graph, count=count, per_node=total[graph.indptr[1:]] -
                                   total[graph.indptr[:-1]] + 1, x0=float(x0), y0=float(y0), cell_m=float(cell_m),
                                   to_store=direction == "to_store")
    edges: _Edges = router.cache[key]
    return edges


def _batches(reached: ReachedTimes, edges: _Edges, limit_s: float, budget: int) -> list[tuple[int, int]]:
    """Consecutive store ranges ``(a, b)`` whose samples within ``limit_s`` seconds add up to about ``budget``."""
    within = edges.per_node[reached.nodes] * (reached.seconds <= limit_s)
    total = np.concatenate([[0], np.cumsum(within)])[reached.indptr]
    out, a = [], 0
    for b in range(1, reached.n_stores + 1):
        if b == reached.n_stores or total[b + 1] - total[a] > budget:
            out.append((a, b))
            a = b
    return out


@dataclass
class _NodeSamples:
    """The samples reading the time of each of some nodes (CSR by node): its own point first, then its edges'.

    ``extra`` is the travel seconds from the sample to its node along the edge
    (0 for the node's own sample); ``row, col`` its cell on the finest grid.
    Samples dominated by another of the same node in the same cell (one at
    least as near the node in time) are left out: they cannot change a band.
    """

    ptr: np.ndarray
    row: np.ndarray
    col: np.ndarray
    extra: np.ndarray


def _node_samples(router: Router, edges: _Edges, nodes: np.ndarray, traffic: float) -> _NodeSamples:
    """Sample the edges whose samples read the times of ``nodes``, every ``cell_m`` metres (see `_Edges`)."""
    g, xy, cell = edges.graph, router.xy, edges.cell_m
    first, deg = g.indptr[nodes], np.diff(g.indptr)[nodes]
    owner = np.repeat(np.arange(len(nodes)), deg)                     # index into nodes of each edge
    edge = np.repeat(first - (np.cumsum(deg) - deg), deg) + np.arange(len(owner))
    count = edges.count[edge]
    here, other = nodes[owner], g.indices[edge]
    u, v = (other, here) if edges.to_store else (here, other)
    # per edge, then repeated along its samples (the arithmetic of every sample is that of its own edge)
    x, dx = np.repeat(xy[u, 0], count), np.repeat(xy[v, 0] - xy[u, 0], count)
    y, dy = np.repeat(xy[u, 1], count), np.repeat(xy[v, 1] - xy[u, 1], count)
    seconds = np.repeat(g.data[edge] / traffic, count)
    sample = np.repeat(np.arange(len(edge)), count)                   # edge (of `edge`) of each sample
    frac = (np.arange(len(sample)) - np.repeat(np.cumsum(count) - count, count)) / np.repeat(
        np.maximum(count - 1, 1), count)                              # along the edge from its start
    row, col = _cell_of(y + dy * frac - edges.y0, cell), _cell_of(x + dx * frac - edges.x0, cell)
    del x, dx, y, dy
    extra = (1.0 - frac if edges.to_store else frac) * seconds        # the part between sample and node
    node_row, node_col = _cell_of(xy[nodes, 1] - edges.y0, cell), _cell_of(xy[nodes, 0] - edges.x0, cell)
    of = owner[sample]
    keep = (row != node_row[of]) | (col != node_col[of])             # else the node's own sample dominates
    same = (sample[1:] == sample[:-1]) & (row[1:] == row[:-1]) & (col[1:] == col[:-1])
    if edges.to_store:  # the next sample of the edge is nearer the node (its end)
        keep[:-1] &= ~same
    else:               # the previous one is (the node is the edge's start)
        keep[1:] &= ~same
    kept = np.flatnonzero(keep)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(of[kept], minlength=len(nodes)) + 1)])
    at = np.arange(len(kept)) + of[kept] + 1                          # after the node's own sample
    out_row, out_col = np.empty(int(ptr[-1]), np.int64), np.empty(int(ptr[-1]), np.int64)
    out_extra = np.empty(int(ptr[-1]))
    out_row[ptr[:-1]], out_col[ptr[:-1]], out_extra[ptr[:-1]] = node_row, node_col, 0.0
    out_row[at], out_col[at], out_extra[at] = row[kept], col[kept], extra[kept]
    return _NodeSamples(ptr=ptr, row=out_row, col=out_col, extra=out_extra)


def _cell_of(offset_m: np.ndarray, cell_m: float) -> np.ndarray:
    """``offset_m // cell_m`` as integers (the grid cell), exactly, at the cost of a true division.

    ``floor(offset / cell)`` can differ from the floor division only where
    the quotient lies within rounding of an integer: those few are redone with ``//``.
    """
    q = offset_m / cell_m
    out = np.floor(q)
    near = np.flatnonzero(np.abs(q - out - 0.5) > 0.5 - 1e-9)
    out[near] = offset_m[near] // cell_m
    cells: np.ndarray = out.astype(np.int64)
    return cells


def _band_samples(router: Router, edges: _Edges, times: StoreTimes, a: int, b: int, band_s: np.ndarray
                  ) -> tuple[np.ndarray, ...]:
    """Samples of stores ``a:b`` within the longest band: ``(store, row, col, level)``, store counted from ``a``.

    Only the edges of the nodes the stores reach within the band are sampled
    (once for the batch, from `StoreTimes.reached`; no dense row). A sample's
    time is its node's time plus the part of the edge between them, so
    partially reachable edges are cut at the reachable fraction; every reached
    node is a sample of its own. ``level`` is the index of the smallest band holding it.
    """
    ptr = times.reached.indptr[a:b + 1]
    node, sec = times.reached.nodes[ptr[0]:ptr[-1]], times.reached.seconds[ptr[0]:ptr[-1]]
    store = np.repeat(np.arange(b - a), np.diff(ptr))
    keep = sec <= band_s[-1]
    node, sec, store = node[keep], sec[keep], store[keep]
    seen = np.zeros(times.reached.n_nodes, bool)
    seen[node] = True
    union = np.flatnonzero(seen)
    samples = _node_samples(router, edges, union, times.traffic)
    local = (np.cumsum(seen) - 1)[node]                               # index into union of each entry
    first, count = samples.ptr[local], np.diff(samples.ptr)[local]
    idx = np.repeat(first - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
    t = np.repeat(sec, count) + samples.extra[idx]
    inside = np.flatnonzero(t <= band_s[-1])
    idx, t = idx[inside], t[inside]
    level = np.greater(t, band_s[0]).view(np.uint8).copy()           # the number of bands t is beyond
    for limit in band_s[1:]:
        level += t > limit
    return np.repeat(store, count)[inside], samples.row[idx], samples.col[idx], level


def catchment_polygons(router: Router, stores: pd.DataFrame, minutes: list[float], *, mode: str,
                       traffic: float = 1.0, direction: str = "to_store", times: StoreTimes | None = None,
                       assigned: pd.DataFrame | None = None, cell_m: float | None = None,
                       max_hole_km2: float | None = None, max_cells: int = DEFAULT_MAX_CELLS,
                       smooth: bool = True, tolerance_m: float | None = None,
                       batch_samples: int = BATCH_SAMPLES) -> gpd.GeoDataFrame:
    """Travel-time catchment polygons, one per store per band.

    Parameters
    ----------
    router
        `Router` of the ``mode`` network.
    stores
        ``store_id, lat, lon`` (EPSG:4326).
    minutes
        Band limits in minutes, e.g. ``[5, 10, 15]``.
    mode
        ``"drive"``, ``"walk"`` or ``"bike"``; must match the router.
    traffic
        Drive speed factor (1.0 = free flow).
    direction
        ``"to_store"`` (default: customers travel to the store) or ``"from_store"``.
    times
        Precomputed `Router.store_times` to reuse (same stores, traffic, direction,
        limit of at least ``max(minutes)``).
    assigned
        Output of `geo.catchments.assign.assign_customers`; when given, ``customers`` counts
        the customers assigned to the store within the band, else it is NA.
    cell_m
        Finest raster cell in metres (default 50 for drive, 25 for bike, 15 for walk).
    max_cells
        A store whose largest band would need more cells than this (default
        25,000) uses a coarser cell, an integer multiple of ``cell_m``, for all
        its bands (they stay nested; the buffer around roads grows with the cell).
    max_hole_km2
        Enclosed unreachable areas up to this size are filled (default 0.25 km²
        for drive, 0.1 for bike, 0.05 for walk).
    smooth
        Contour the outlines without stair steps and simplify them (default True;
        False: the exact union of raster cells).
    tolerance_m
        Simplification tolerance in metres (default half of ``cell_m``; at most
        half a cell keeps every reachable node inside).
    batch_samples
        Stores are drawn a batch at a time, each batch holding about this many
        edge samples (default 2 million; at least one store per batch): memory
        follows the batch and the stores' catchments, not ``stores x nodes``.
        The polygons do not depend on it.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns ``store_id, band_min, mode, area_km2, customers, geometry``,
        ordered by store id then band.
    """
    if mode != router.mode:
        raise NetworkError(f"the router was built on a {router.mode} network but mode {mode!r} was asked")
    bands = _bands(minutes)
    cell = float(cell_m or DEFAULT_CELL_M[mode])
    hole_cells = int((max_hole_km2 if max_hole_km2 is not None else DEFAULT_MAX_HOLE_KM2[mode]) * 1e6 / cell**2)
    if times is None:
        times = router.store_times(stores, traffic=traffic, limit_min=bands[-1], direction=direction)
    tol = min(float(tolerance_m if tolerance_m is not None else cell / 2), cell / 2) if smooth else None
    edges = _edges(router, cell, times.direction)
    band_s = np.array(bands) * 60.0
    parts = [_batch_polygons(router, edges, times, a, b, band_s, hole_cells, max_cells, tol)
             for a, b in _batches(times.reached, edges, band_s[-1], batch_samples)]
    store, band, area, geoms = (np.concatenate([p[i] for p in parts]) for i in range(4))
    frame = pd.DataFrame({"store_id": times.store_ids[store], "band_min": np.array(bands)[band],
                          "mode": mode, "area_km2": area, "geometry": geoms})
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    return _with_counts(gdf, assigned, by="travel_min")


def _batch_polygons(router: Router, edges: _Edges, times: StoreTimes, a: int, b: int, band_s: np.ndarray,
                    hole_cells: int, max_cells: int, tolerance_m: float | None) -> tuple[np.ndarray, ...]:
    """Band polygons of stores ``a:b`` on one mosaic: ``(store, band, area_km2, geometry)`` per (store, band).

    ``tolerance_m`` None keeps the exact union of raster cells (no contouring).
    """
    store, row, col, level = _band_samples(router, edges, times, a, b, band_s)
    cells = raster.store_cells(store, row, col, level, b - a, len(band_s), max_cells)
    del store, row, col, level
    mask, tiles = raster.band_mosaic(cells, len(band_s))
    k = cells.k[tiles.store]
    size = edges.cell_m * k
    mask = raster.fill_small_holes(mask, tiles, hole_cells // (k * k))
    x0 = edges.x0 + cells.c0[tiles.store] * size
    y0 = edges.y0 + cells.r0[tiles.store] * size
    geoms = raster.assemble(raster.trace_rings(mask), tiles, x0, y0, size, router.to_lonlat,
                            cut=0.0 if tolerance_m is None else 0.5)
    if tolerance_m is not None:
        geoms = simplify_nested(geoms, tiles.store, tiles.band, tolerance_m)
    area = tiles.cells(mask).astype(float) * size**2 / 1e6
    return a + tiles.store, tiles.band, area, geoms


def simplify_nested(geoms: np.ndarray, store: np.ndarray, band: np.ndarray,
                    tolerance_m: float) -> np.ndarray:
    """Simplify band outlines (EPSG:4326) to ``tolerance_m`` metres and clip each band to the next larger.

    Parameters
    ----------
    geoms
        One (multi)polygon per (store, band), EPSG:4326.
    store, band
        Store index and band index (ascending minutes) of each geometry.
    tolerance_m
        Douglas-Peucker tolerance in metres, converted to degrees of latitude
        (111,320 m); a degree of longitude is shorter, so the tolerance on the
        ground is never more than ``tolerance_m``.
    """
    out = shapely.simplify(geoms, tolerance_m / 111_320.0, preserve_topology=False)
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad], method="structure")
    for b in sorted(set(band.tolist()), reverse=True)[1:]:   # from the second largest band down
        small = np.flatnonzero(band == b)
        big = np.array([np.flatnonzero((store == store[i]) & (band == b + 1))[0] for i in small])
        out[small] = _polygonal(shapely.intersection(out[small], out[big]))
    result: np.ndarray = out
    return result


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts (an intersection may add points or lines where outlines touch)."""
    out = geoms.copy()
    mixed = shapely.get_type_id(out) == 7   # GeometryCollection
    for i in np.flatnonzero(mixed):
        parts = [p for p in shapely.get_parts(out[i]) if shapely.get_type_id(p) in (3, 6)]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def _bands(values: list[float]) -> list[float]:
    bands = sorted({float(v) for v in values})
    if not bands or bands[0] <= 0 or not np.isfinite(bands[-1]):
        raise NetworkError(f"bands must be positive numbers, got {list(values)}")
    return bands


def _with_counts(gdf: gpd.GeoDataFrame, assigned: pd.DataFrame | None, *, by: str) -> gpd.GeoDataFrame:
    """Fill the ``customers`` column from assigned customers (NA when none were given)."""
    if assigned is None:
        gdf["customers"] = pd.array([pd.NA] * len(gdf), dtype="Int64")
    else:
        counts = band_counts(assigned, sorted(gdf["band_min"].unique()), by=by)
        gdf = gdf.merge(counts, on=["store_id", "band_min"], how="left")
        gdf["customers"] = gdf["customers"].fillna(0).astype("Int64")
    gdf["store_id"] = gdf["store_id"].astype(str)
    return gpd.GeoDataFrame(gdf[CATCHMENT_COLUMNS], geometry="geometry", crs="EPSG:4326")


def radius_rings(stores: pd.DataFrame, km: list[float], *, assigned: pd.DataFrame | None = None,
                 points: int = 72) -> gpd.GeoDataFrame:
    """Geodesic circles of ``km`` kilometres around each store (WGS 84 ellipsoid), same columns as catchments.

    ``band_min`` holds the radius in km and ``mode`` is ``"radius"``; ``customers``
    counts customers of `geo.catchments.assign.radius_assign` output (``assigned``) within
    each radius, else NA. ``points`` vertices per circle.
    """
    radii = _bands(km)
    geod = pyproj.Geod(ellps="WGS84")
    az = np.linspace(0.0, 360.0, points, endpoint=False)
    records = []
    st = stores.iloc[np.argsort(stores["store_id"].astype(str).to_numpy(), kind="stable")]
    for sid, lat, lon in zip(st["store_id"].astype(str), st["lat"].astype(float), st["lon"].astype(float),
                             strict=True):
        for r in radii:
            lons, lats, _ = geod.fwd(np.full(points, lon), np.full(points, lat), az, np.full(points, r * 1000.0))
            ring = shapely.Polygon(np.column_stack([lons, lats]))
            area = abs(geod.geometry_area_perimeter(ring)[0]) / 1e6
            records.append((sid, r, Mode.RADIUS.value, area, ring))
    gdf = gpd.GeoDataFrame(pd.DataFrame(records, columns=["store_id", "band_min", "mode", "area_km2", "geometry"]),
                           geometry="geometry", crs="EPSG:4326")
    return _with_counts(gdf, assigned, by="crow_km")


def to_geojson(gdf: gpd.GeoDataFrame) -> str:
    """Serialise catchments as a GeoJSON FeatureCollection in EPSG:4326 (RFC 7946)."""
    if gdf.crs is None:
        raise NetworkError("the catchments have no CRS; build them with catchment_polygons or radius_rings")
    out = gdf.to_crs(4326).copy()
    out["customers"] = out["customers"].astype("object").where(out["customers"].notna(), None)
    return str(out.to_json(drop_id=True))


@dataclass
class WhatIf:
    """A candidate store's effect.

    Attributes
    ----------
    catchment
        The candidate's band polygons (see `catchment_polygons`).
    won
        Customers the candidate would take: ``customer_id, from_store_id``
        (NA if previously unreachable), ``old_travel_min, new_travel_min``.
    by_store
        ``from_store_id, customers``: how many it takes from each store.
    """

    catchment: gpd.GeoDataFrame
    won: pd.DataFrame
    by_store: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """Plain-dict summary: customers won in total and per store."""
        by_store = zip(self.by_store["from_store_id"], self.by_store["customers"], strict=True)
        return {"customers_won": int(len(self.won)), "from_stores": {str(k): int(v) for k, v in by_store}}


def what_if_store(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, candidate_lat: float,
                  candidate_lon: float, *, mode: str, minutes: list[float], traffic: float = 1.0,
                  candidate_id: str = "candidate", assigned: pd.DataFrame | None = None) -> WhatIf:
    """Add a candidate store at ``(candidate_lat, candidate_lon)`` and see whom it would win, from which stores.

    A customer is won when the candidate is within the largest band and strictly
    faster than the customer's current store (or the customer had none).
    ``assigned`` is the current `geo.catchments.assign.assign_customers` result (computed when None).
    """
    cand = pd.DataFrame({"store_id": [candidate_id], "name": [candidate_id], "lat": [float(candidate_lat)],
                         "lon": [float(candidate_lon)]})
    bands = _bands(minutes)
    if assigned is None:
        assigned = assign_customers(router, stores, customers, mode=mode, traffic=traffic)
    times = router.store_times(cand, traffic=traffic, limit_min=bands[-1])
    snap = snap_customers(router, customers, times)
    new = np.where(snap.ok, times.store_seconds(0, np.maximum(snap.node, 0)) + snap.access_s, np.inf) / 60.0
    old = assigned["travel_min"].to_numpy(float, na_value=np.inf)
    won_mask = (new <= bands[-1]) & (new < old)
    won = pd.DataFrame({"customer_id": customers["customer_id"].to_numpy()[won_mask],
                        "from_store_id": assigned["store_id"].to_numpy()[won_mask],
                        "old_travel_min": pd.array(np.where(np.isfinite(old), old, np.nan)[won_mask], dtype="Float64"),
                        "new_travel_min": new[won_mask]})
    won["from_store_id"] = won["from_store_id"].astype("string")
    by_store = (won["from_store_id"].fillna("(unreachable)").value_counts().rename_axis("from_store_id")
                .reset_index(name="customers"))
    new_assigned = assigned.copy()
    new_assigned["store_id"] = new_assigned["store_id"].astype("string")
    new_assigned.loc[won_mask, "store_id"] = candidate_id
    new_assigned.loc[won_mask, "travel_min"] = new[won_mask]
    new_assigned.loc[won_mask, "reachable"] = True
    catchment = catchment_polygons(router, cand, bands, mode=mode, traffic=traffic, times=times,
                                   assigned=new_assigned)
    return WhatIf(catchment=catchment, won=won, by_store=by_store)
