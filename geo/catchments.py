"""Draw catchment polygons: travel-time bands on the road network, geodesic rings, what-if stores.

Travel-time polygons are built on a raster in the router's UTM CRS:

1. every edge is sampled every ``cell_m`` metres (and every node is a sample);
   a sample's time is the time of the edge end it travels through plus the
   part of the edge it covers, so partially reachable edges are cut at the
   reachable fraction;
2. the cells holding samples within the band are marked and grown by one cell
   on every side (a buffer of one to 1.4 cells), so every reachable road lies
   inside, and so does the store itself;
3. enclosed holes smaller than ``max_hole_km2`` are filled (blocks between
   reachable streets), larger unreachable areas stay out (no convex hulls);
4. the cells are traced into rings (8-connected cells, exteriors and holes).

A store whose largest band would need more than ``max_cells`` cells uses a
coarser cell (an integer multiple of ``cell_m``) for all its bands. The bands of
a store share one grid and a wider band only adds cells, so they nest exactly
on the grid (5 within 10 within 15); reprojecting the straight grid edges to
EPSG:4326 moves them by less than a few centimetres. ``area_km2`` is measured
on the grid (UTM square metres). Simplified graphs are drawn with straight
chords between nodes (graphs load at full resolution by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import ndimage

from geo.assign import assign_customers, band_counts, snap_customers
from geo.errors import NetworkError
from geo.routing import Router, StoreTimes

CATCHMENT_COLUMNS = ["store_id", "band_min", "mode", "area_km2", "customers", "geometry"]
DEFAULT_CELL_M = {"drive": 50.0, "bike": 25.0, "walk": 15.0}
DEFAULT_MAX_HOLE_KM2 = {"drive": 0.25, "bike": 0.1, "walk": 0.05}
DEFAULT_MAX_CELLS = 25_000


@dataclass
class _Samples:
    """Points every ``cell_m`` along every edge: grid cell, edge ends and fraction along the edge."""

    row: np.ndarray
    col: np.ndarray
    u: np.ndarray
    v: np.ndarray
    frac: np.ndarray
    seconds: np.ndarray
    x0: float
    y0: float
    cell_m: float


def _samples(router: Router, cell_m: float) -> _Samples:
    """Sample every edge of the router (straight segments) every ``cell_m`` metres; cached on the router."""
    key = ("samples", cell_m)
    if key in router.cache:
        return router.cache[key]
    coo = router.seconds.tocoo()
    u, v, t = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    seg = router.xy[v] - router.xy[u]
    length = np.hypot(seg[:, 0], seg[:, 1])
    count = np.ceil(length / cell_m).astype(np.int64) + 1  # spacing <= cell_m, both ends included
    edge = np.repeat(np.arange(len(u)), count)
    start = np.cumsum(count) - count
    step = np.arange(len(edge)) - np.repeat(start, count)
    frac = step / np.repeat(np.maximum(count - 1, 1), count)
    pts = router.xy[u[edge]] + seg[edge] * frac[:, None]
    # every node is also a sample of its own (time = the node's time), so a node whose edges all point
    # the other way (a one-way dead end, the store itself) is still inside its band
    nodes = np.arange(len(router.xy))
    pts = np.vstack([pts, router.xy])
    su, sv = np.concatenate([u[edge], nodes]), np.concatenate([v[edge], nodes])
    frac = np.concatenate([frac, np.zeros(len(nodes))])
    sec = np.concatenate([t[edge], np.zeros(len(nodes))])
    x0, y0 = router.xy.min(axis=0) - 3 * cell_m
    s = _Samples(row=((pts[:, 1] - y0) // cell_m).astype(np.int64), col=((pts[:, 0] - x0) // cell_m).astype(np.int64),
                 u=su, v=sv, frac=frac, seconds=sec, x0=float(x0), y0=float(y0), cell_m=float(cell_m))
    router.cache[key] = s
    return s


def _sample_seconds(s: _Samples, node_sec: np.ndarray, direction: str, traffic: float) -> np.ndarray:
    """Seconds to (or from) the store of every sample point, for one store's node times."""
    edge_s = s.seconds / traffic
    if direction == "to_store":
        return node_sec[s.v] + (1.0 - s.frac) * edge_s
    return node_sec[s.u] + s.frac * edge_s


def _cost_grid(rows: np.ndarray, cols: np.ndarray, sec: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per cell, the least seconds of any sample in it or in its 8 neighbours (the one-cell buffer)."""
    grid = np.full(shape, np.inf)
    np.minimum.at(grid.ravel(), rows * shape[1] + cols, sec)
    return ndimage.minimum_filter(grid, size=3, mode="constant", cval=np.inf)


def _fill_small_holes(mask: np.ndarray, max_hole_cells: int) -> np.ndarray:
    """Fill enclosed holes (4-connected, matching 8-connected cells) of at most ``max_hole_cells``."""
    labels, n = ndimage.label(~mask)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        fill = sizes <= max_hole_cells
        fill[0] = False
        fill[border] = False
        mask = mask | fill[labels]
    return mask


def _trace(mask: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Trace a boolean raster (False on its border) into closed rings of lattice vertices.

    Returns the rings as ``(k, 2)`` arrays of (col, row) vertex coordinates,
    interior on the left (exteriors counter-clockwise, holes clockwise), and a
    point (cell centre) inside the region next to each ring. Diagonal cells are
    connected (8-connectivity); collinear vertices are dropped.
    """
    h, w = mask.shape
    # horizontal edges at vertex row r between cell (r-1, c) and (r, c): above in -> east, below in -> west
    r, c = np.nonzero(mask[1:, :] != mask[:-1, :])
    east = mask[r + 1, c]
    hr = r + 1
    h_start = np.column_stack([np.where(east, c, c + 1), hr])
    h_dir = np.where(east, 0, 2)
    h_in = np.column_stack([c, np.where(east, hr, hr - 1)])  # the in-cell beside the edge
    # vertical edges at vertex column c between cell (r, c-1) and (r, c)
    r, c = np.nonzero(mask[:, 1:] != mask[:, :-1])  # right in -> south, left in -> north
    south = mask[r, c + 1]
    vc = c + 1
    v_start = np.column_stack([vc, np.where(south, r + 1, r)])
    v_dir = np.where(south, 3, 1)
    v_in = np.column_stack([np.where(south, vc, vc - 1), r])
    start = np.vstack([h_start, v_start])
    direction = np.concatenate([h_dir, v_dir])
    in_cell = np.vstack([h_in, v_in])
    if len(start) == 0:
        return [], np.empty((0, 2))
    step = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])
    end = start + step[direction]
    key = (start[:, 1] * (w + 1) + start[:, 0]) * 4 + direction
    order = np.argsort(key)
    skey = key[order]
    end_id = end[:, 1] * (w + 1) + end[:, 0]
    nxt = np.full(len(start), -1)
    for turn in (-1, 0, 1):  # prefer the right turn: joins diagonal cells at saddles
        want = end_id * 4 + (direction + turn) % 4
        pos = np.clip(np.searchsorted(skey, want), 0, len(skey) - 1)
        hit = (skey[pos] == want) & (nxt < 0)
        nxt[hit] = order[pos[hit]]
    ring, rank = _cycles(nxt)
    seq = np.lexsort((-rank, ring))
    ring_sorted = ring[seq]
    dirs = direction[seq]
    first = np.r_[True, ring_sorted[1:] != ring_sorted[:-1]]
    ring_start = np.flatnonzero(first)
    ring_end = np.r_[ring_start[1:], len(seq)]
    prev_dir = np.roll(dirs, 1)
    prev_dir[ring_start] = dirs[ring_end - 1]
    corner = dirs != prev_dir
    pts = start[seq]
    rings, inside = [], []
    for a, b in zip(ring_start, ring_end):
        keep = pts[a:b][corner[a:b]]
        rings.append(np.vstack([keep, keep[:1]]))
        inside.append(in_cell[seq[a]] + 0.5)
    return rings, np.asarray(inside)


def _cycles(nxt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label the cycles of a permutation and rank each element by its distance to the cycle's end.

    Pointer jumping (log2 of the longest cycle rounds), no Python loop over elements.
    """
    n = len(nxt)
    label = np.arange(n)
    jump = nxt.copy()
    span = 1
    while span < n:
        label = np.minimum(label, label[jump])
        jump = jump[jump]
        span *= 2
    # break each cycle before its smallest element, then rank by list ranking
    last = nxt == label
    rank = np.where(last, 0, 1)
    ptr = np.where(last, np.arange(n), nxt)
    span = 1
    while span < n:
        rank = rank + rank[ptr]
        ptr = ptr[ptr]
        span *= 2
    return label, rank


def _polygon(rings: list[np.ndarray], inside: np.ndarray, to_lonlat, x0: float, y0: float,
             cell_m: float, pinched: bool = True) -> shapely.MultiPolygon | shapely.Polygon:
    """Assemble traced rings into a (multi)polygon in EPSG:4326: each hole goes to its smallest enclosing exterior."""
    if not rings:
        return shapely.Polygon()
    allv = np.vstack(rings)
    lon, lat = to_lonlat(x0 + allv[:, 0] * cell_m, y0 + allv[:, 1] * cell_m)
    xy = np.split(np.column_stack([lon, lat]), np.cumsum([len(r) for r in rings])[:-1])
    signed = np.array([_signed_area(r) for r in rings])
    ext = np.flatnonzero(signed > 0)
    holes = np.flatnonzero(signed < 0)
    ext_polys = shapely.polygons([rings[i] for i in ext])
    owner = {i: [] for i in ext}
    if len(holes):
        pts = inside[holes]
        within = shapely.contains_xy(ext_polys[:, None], pts[None, :, 0], pts[None, :, 1])
        area = np.where(within, np.abs(signed[ext])[:, None], np.inf)
        for h, e in zip(holes, ext[np.argmin(area, axis=0)]):
            owner[e].append(xy[h])
    polys = [shapely.Polygon(xy[e], owner[e]) for e in ext]
    geom = shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
    if pinched and not geom.is_valid:  # rings touching themselves at diagonal cells
        geom = shapely.make_valid(geom, method="structure")
    return geom


def _has_saddle(mask: np.ndarray) -> bool:
    """Whether two cells touch only at a corner somewhere (the traced rings may pinch there)."""
    a, b, c, d = mask[:-1, :-1], mask[:-1, 1:], mask[1:, :-1], mask[1:, 1:]
    return bool(((a & d & ~b & ~c) | (b & c & ~a & ~d)).any())


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def catchment_polygons(router: Router, stores: pd.DataFrame, minutes: list[float], *, mode: str,
                       traffic: float = 1.0, direction: str = "to_store", times: StoreTimes | None = None,
                       assigned: pd.DataFrame | None = None, cell_m: float | None = None,
                       max_hole_km2: float | None = None, max_cells: int = DEFAULT_MAX_CELLS
                       ) -> gpd.GeoDataFrame:
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
        Output of `geo.assign.assign_customers`; when given, ``customers`` counts
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
    s = _samples(router, cell)
    records = []
    for i, store_id in enumerate(times.store_ids):
        sec = _sample_seconds(s, times.seconds[i], times.direction, times.traffic)
        within = sec <= bands[-1] * 60.0
        rows, cols, sec = s.row[within], s.col[within], sec[within]
        k = _coarsening(rows, cols, max_cells)
        rows, cols, size = rows // k, cols // k, cell * k
        r0, c0 = rows.min() - 2, cols.min() - 2
        shape = (int(rows.max() - r0 + 3), int(cols.max() - c0 + 3))
        cost = _cost_grid(rows - r0, cols - c0, sec, shape)
        for band in bands:
            mask = _fill_small_holes(cost <= band * 60.0, hole_cells // (k * k))
            rings, inside = _trace(mask)
            geom = _polygon(rings, inside, router.to_lonlat, s.x0 + c0 * size, s.y0 + r0 * size, size,
                            pinched=_has_saddle(mask))
            records.append((store_id, band, mode, float(mask.sum()) * size**2 / 1e6, geom))
    gdf = gpd.GeoDataFrame(pd.DataFrame(records, columns=["store_id", "band_min", "mode", "area_km2", "geometry"]),
                           geometry="geometry", crs="EPSG:4326")
    return _with_counts(gdf, assigned, by="travel_min")


def _coarsening(rows: np.ndarray, cols: np.ndarray, max_cells: int) -> int:
    """Integer factor k so that a store's grid of ``k * cell_m`` cells holds at most ``max_cells`` cells."""
    if len(rows) == 0:
        return 1
    cells = float(rows.max() - rows.min() + 5) * float(cols.max() - cols.min() + 5)
    return max(1, int(np.ceil(np.sqrt(cells / max_cells))))


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
    counts customers of `geo.assign.radius_assign` output (``assigned``) within
    each radius, else NA. ``points`` vertices per circle.
    """
    radii = _bands(km)
    geod = pyproj.Geod(ellps="WGS84")
    az = np.linspace(0.0, 360.0, points, endpoint=False)
    records = []
    st = stores.iloc[np.argsort(stores["store_id"].astype(str).to_numpy(), kind="stable")]
    for sid, lat, lon in zip(st["store_id"].astype(str), st["lat"].astype(float), st["lon"].astype(float)):
        for r in radii:
            lons, lats, _ = geod.fwd(np.full(points, lon), np.full(points, lat), az, np.full(points, r * 1000.0))
            ring = shapely.Polygon(np.column_stack([lons, lats]))
            area = abs(geod.geometry_area_perimeter(ring)[0]) / 1e6
            records.append((sid, r, "radius", area, ring))
    gdf = gpd.GeoDataFrame(pd.DataFrame(records, columns=["store_id", "band_min", "mode", "area_km2", "geometry"]),
                           geometry="geometry", crs="EPSG:4326")
    return _with_counts(gdf, assigned, by="crow_km")


def to_geojson(gdf: gpd.GeoDataFrame) -> str:
    """Serialise catchments as a GeoJSON FeatureCollection in EPSG:4326 (RFC 7946)."""
    if gdf.crs is None:
        raise NetworkError("the catchments have no CRS; build them with catchment_polygons or radius_rings")
    out = gdf.to_crs(4326).copy()
    out["customers"] = out["customers"].astype("object").where(out["customers"].notna(), None)
    return out.to_json(drop_id=True)


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

    def summary(self) -> dict:
        """Plain-dict summary: customers won in total and per store."""
        return {"customers_won": int(len(self.won)),
                "from_stores": {str(k): int(v) for k, v in zip(self.by_store["from_store_id"], self.by_store["customers"])}}


def what_if_store(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, candidate_lat: float,
                  candidate_lon: float, *, mode: str, minutes: list[float], traffic: float = 1.0,
                  candidate_id: str = "candidate", assigned: pd.DataFrame | None = None) -> WhatIf:
    """Add a candidate store at ``(candidate_lat, candidate_lon)`` and see whom it would win, from which stores.

    A customer is won when the candidate is within the largest band and strictly
    faster than the customer's current store (or the customer had none).
    ``assigned`` is the current `geo.assign.assign_customers` result (computed when None).
    """
    cand = pd.DataFrame({"store_id": [candidate_id], "name": [candidate_id], "lat": [float(candidate_lat)],
                         "lon": [float(candidate_lon)]})
    bands = _bands(minutes)
    if assigned is None:
        assigned = assign_customers(router, stores, customers, mode=mode, traffic=traffic)
    times = router.store_times(cand, traffic=traffic, limit_min=bands[-1])
    snap = snap_customers(router, customers)
    new = np.where(snap.ok, times.seconds[0, np.maximum(snap.node, 0)] + snap.access_s, np.inf) / 60.0
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
