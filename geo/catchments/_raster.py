"""Rasterise the travel-time bands of many stores into one mosaic and trace it into polygons, vectorised.

Used by `geo.catchments.polygons.catchment_polygons` (read its module notes for the
method). Every (store, band) mask is a tile of one boolean mosaic: tiles are
stacked vertically, each framed by a ring of empty cells, so one labelling, one
boundary trace and one batch of shapely calls serve all 150 polygons of 50
stores x 3 bands instead of 150 rounds of small numpy calls. A tile is the
bounding box of its band (plus the frame) on its store's grid, so the bands of
a store share one lattice and nest exactly.

The module runs past 400 lines because it is one pipeline (cells, mosaic, hole
filling, ring tracing, assembly) whose steps each consume the arrays the step
before built (`StoreCells`, `Tiles`, `Rings`); split up, it would only pass
those arrays from module to module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy import ndimage
from scipy.sparse.csgraph import connected_components, depth_first_order


@dataclass
class StoreCells:
    """Grid cells reached by each store: flat index into the store mosaic and band level.

    Attributes
    ----------
    level
        ``(rows, width)`` uint8 store mosaic: per cell the index of the smallest
        band holding a sample in the cell or in one of its 8 neighbours
        (``n_bands`` where none). Store ``i`` owns rows ``row0[i]:row0[i+1]``.
    row0
        First mosaic row of each store (length ``n_stores + 1``).
    r0, c0
        Store grid origin in cells of ``k * cell_m`` (row, column of the tile's first cell).
    k
        Coarsening factor of each store (its cell is ``k * cell_m`` metres).
    """

    level: np.ndarray
    row0: np.ndarray
    r0: np.ndarray
    c0: np.ndarray
    k: np.ndarray


@dataclass
class Tiles:
    """(store, band) tiles of the band mosaic, in store then band order.

    Tile ``t`` covers mosaic rows ``row0[t]:row0[t] + height[t]`` and columns
    ``col0[t]:col0[t] + width[t]``; its row ``r`` and column ``c`` are row
    ``r + row_off[t]`` and column ``c + col_off[t]`` of its store's grid.
    ``index`` holds the tile of every mosaic cell (-1 outside tiles).
    """

    store: np.ndarray
    band: np.ndarray
    row0: np.ndarray
    col0: np.ndarray
    height: np.ndarray
    width: np.ndarray
    row_off: np.ndarray
    col_off: np.ndarray
    index: np.ndarray

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Tile of mosaic cells."""
        tile: np.ndarray = self.index[rows, cols]
        return tile

    def cells(self, mask: np.ndarray) -> np.ndarray:
        """Number of True cells of ``mask`` in each tile."""
        boxes = zip(self.row0, self.col0, self.height, self.width, strict=True)
        return np.array([np.count_nonzero(mask[r:r + h, c:c + w]) for r, c, h, w in boxes], dtype=np.int64)


def store_cells(store: np.ndarray, row: np.ndarray, col: np.ndarray, level: np.ndarray, n_stores: int,
                n_bands: int, max_cells: int) -> StoreCells:
    """Mark, per store, the cells whose samples (or 8 neighbours' samples) are within each band.

    Parameters
    ----------
    store
        Store index (``0 .. n_stores - 1``, ascending) of each sample; only
        samples within the longest band are given, every store has at least
        one (its own node).
    row, col
        Cell of each sample on the finest grid.
    level
        Band index of each sample: the smallest band holding its travel time.
    n_stores, n_bands
        Number of stores and of bands.
    max_cells
        A store whose largest band spans more cells uses a cell ``k`` times coarser.
    """
    start = np.searchsorted(store, np.arange(n_stores + 1))
    if (np.diff(start) == 0).any():  # cannot happen: a store's own node is a sample at 0 s
        raise ValueError("a store reaches no sample point")
    start = start[:-1]
    rmin, rmax = np.minimum.reduceat(row, start), np.maximum.reduceat(row, start)
    cmin, cmax = np.minimum.reduceat(col, start), np.maximum.reduceat(col, start)
    cells = (rmax - rmin + 5).astype(float) * (cmax - cmin + 5).astype(float)
    k = np.maximum(1, np.ceil(np.sqrt(cells / max_cells)).astype(np.int64))
    r0, c0 = rmin // k - 2, cmin // k - 2
    height, width = rmax // k - r0 + 3, cmax // k - c0 + 3
    row0 = np.concatenate([[0], np.cumsum(height)])
    out = np.full((int(row0[-1]), int(width.max())), n_bands, dtype=np.uint8)
    ks = k[store]
    flat = (row // ks - r0[store] + row0[:-1][store]) * out.shape[1] + (col // ks - c0[store])
    cell = out.ravel()
    for b in range(n_bands - 1, -1, -1):  # the smallest band of a cell is written last: a minimum
        cell[flat[level == b]] = b
    return StoreCells(level=_min3x3(out), row0=row0, r0=r0, c0=c0, k=k)


def _min3x3(a: np.ndarray) -> np.ndarray:
    """Minimum over each cell's 3 x 3 neighbourhood (cells beyond the border are ignored)."""
    out = a.copy()
    np.minimum(out[1:], a[:-1], out=out[1:])
    np.minimum(out[:-1], a[1:], out=out[:-1])
    v = out.copy()
    np.minimum(out[:, 1:], v[:, :-1], out=out[:, 1:])
    np.minimum(out[:, :-1], v[:, 1:], out=out[:, :-1])
    return out


def band_mosaic(cells: StoreCells, n_bands: int) -> tuple[np.ndarray, Tiles]:
    """Cut each store's band masks to their bounding box plus a one-cell empty frame, stacked in one mosaic."""
    level, row0 = cells.level, cells.row0
    n_st = len(row0) - 1
    top = np.empty((n_st, n_bands), np.int64)
    bottom, left, right = np.empty_like(top), np.empty_like(top), np.empty_like(top)
    for b in range(n_bands):
        inside = level <= b
        rows = np.flatnonzero(inside.any(axis=1))
        top[:, b] = rows[np.searchsorted(rows, row0[:-1])] - row0[:-1]
        bottom[:, b] = rows[np.searchsorted(rows, row0[1:]) - 1] - row0[:-1]
        cols = np.logical_or.reduceat(inside, row0[:-1], axis=0)
        left[:, b] = np.argmax(cols, axis=1)
        right[:, b] = cols.shape[1] - 1 - np.argmax(cols[:, ::-1], axis=1)
    row_off, col_off = (top - 1).ravel(), (left - 1).ravel()
    height, width = (bottom - top + 3).ravel(), (right - left + 3).ravel()
    row0, col0, shape = _pack(height, width)
    mosaic = np.zeros(shape, dtype=bool)
    index = np.full(shape, -1, dtype=np.int32)
    store, band = np.divmod(np.arange(n_st * n_bands), n_bands)
    for t in range(len(store)):
        r, c = cells.row0[store[t]] + row_off[t], col_off[t]
        dst = (slice(row0[t], row0[t] + height[t]), slice(col0[t], col0[t] + width[t]))
        np.less_equal(level[r: r + height[t], c: c + width[t]], band[t], out=mosaic[dst])
        index[dst] = t
    return mosaic, Tiles(store=store, band=band, row0=row0, col0=col0, height=height, width=width,
                         row_off=row_off, col_off=col_off, index=index)


def _pack(height: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Place tiles in columns (widest first, each column as wide as its first tile) in a roughly square mosaic.

    Returns each tile's first row and column and the mosaic shape.
    """
    limit = max(int(height.max()), int(np.sqrt(float((height * width).sum()))))
    row0, col0 = np.zeros(len(height), np.int64), np.zeros(len(height), np.int64)
    x = y = col_w = 0
    for t in np.argsort(-width, kind="stable"):
        if y and y + height[t] > limit:
            x, y, col_w = x + col_w, 0, 0
        row0[t], col0[t] = y, x
        y += int(height[t])
        col_w = max(col_w, int(width[t]))
    return row0, col0, (limit, x + col_w)


def fill_small_holes(mask: np.ndarray, tiles: Tiles, max_hole_cells: np.ndarray) -> np.ndarray:
    """Fill enclosed holes (4-connected, matching 8-connected cells) of at most ``max_hole_cells[tile]`` cells."""
    labels, n = ndimage.label(~mask)
    if n <= 1 or max_hole_cells.max() <= 0:
        return mask
    sizes = np.bincount(labels.ravel())
    candidate = sizes <= max_hole_cells.max()
    candidate[0] = False
    candidate[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = False
    if not candidate.any():
        return mask
    r, c = np.nonzero(candidate[labels])
    fill = sizes[labels[r, c]] <= max_hole_cells[tiles.at(r, c)]
    mask = mask.copy()
    mask[r[fill], c[fill]] = True
    return mask


@dataclass
class Rings:
    """Closed boundary rings of a raster, as lattice vertices (column, row), and its saddles (row, column).

    Rings are ordered by their first boundary edge in row-major order, vertices
    along each ring with the interior on the left (exteriors counter-clockwise,
    holes clockwise); collinear vertices are dropped and rings are left open.
    """

    x: np.ndarray
    y: np.ndarray
    count: np.ndarray
    in_cell: np.ndarray
    area2: np.ndarray
    saddles: np.ndarray


def trace_rings(mask: np.ndarray) -> Rings:
    """Trace a boolean raster (False on its border) into rings; diagonal cells connect (8-connectivity)."""
    w = mask.shape[1]
    # horizontal edges at vertex row r between cell (r-1, c) and (r, c): above in -> east, below in -> west
    r, c = np.nonzero(mask[1:, :] != mask[:-1, :])
    east = mask[r + 1, c]
    hr = r + 1
    hx, hy, hd = np.where(east, c, c + 1), hr, np.where(east, 0, 2)
    hix, hiy = c, np.where(east, hr, hr - 1)  # the in-cell beside the edge
    # vertical edges at vertex column c between cell (r, c-1) and (r, c): right in -> south, left in -> north
    r, c = np.nonzero(mask[:, 1:] != mask[:, :-1])
    south = mask[r, c + 1]
    vc = c + 1
    vx, vy, vd = vc, np.where(south, r + 1, r), np.where(south, 3, 1)
    vix, viy = np.where(south, vc, vc - 1), r
    sx, sy, d = np.concatenate([hx, vx]), np.concatenate([hy, vy]), np.concatenate([hd, vd])
    if len(sx) == 0:
        e = np.empty(0, np.int64)
        return Rings(e, e, e, np.empty((0, 2), np.int64), e, np.empty((0, 2), np.int64))
    in_x, in_y = np.concatenate([hix, vix]), np.concatenate([hiy, viy])
    ex = sx + np.array([1, 0, -1, 0])[d]
    ey = sy + np.array([0, 1, 0, -1])[d]
    key = (sy * (w + 1) + sx) * 4 + d
    order = np.argsort(key)
    skey = key[order]
    nxt = _next_edges(skey, order, (ey * (w + 1) + ex) * 4, d)
    seq, count = _cycle_order(nxt)
    start = np.cumsum(count) - count
    dirs = d[seq]
    prev = np.empty_like(dirs)
    prev[1:] = dirs[:-1]
    prev[start] = dirs[start + count - 1]
    corner = dirs != prev
    ring = np.repeat(np.arange(len(count)), count)[corner]
    keep = seq[corner]
    x, y = sx[keep], sy[keep]
    nverts = np.bincount(ring, minlength=len(count))
    vstart = np.cumsum(nverts) - nverts
    after = np.arange(1, len(x) + 1)
    after[vstart + nverts - 1] = vstart
    area2 = np.add.reduceat(x * y[after] - x[after] * y, vstart)
    head = seq[start]
    vertex = skey >> 2
    saddle = vertex[1:][vertex[1:] == vertex[:-1]]
    return Rings(x=x, y=y, count=nverts, in_cell=np.column_stack([in_x[head], in_y[head]]), area2=area2,
                 saddles=np.column_stack(np.divmod(saddle, w + 1)))


def _next_edges(skey: np.ndarray, order: np.ndarray, end_key: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The edge following each edge: the one leaving its end vertex, the right turn first at saddles."""
    n = len(skey)
    pos = np.minimum(np.searchsorted(skey, end_key), n - 1)
    pos2 = np.minimum(pos + 1, n - 1)
    two = (skey[pos2] >> 2 == end_key >> 2) & (pos2 != pos)  # a saddle: two edges leave the vertex
    nxt = order[pos]
    if two.any():  # rank the turns: right (direction - 1), straight, left
        i = np.flatnonzero(two)
        rank1 = ((skey[pos[i]] & 3) - d[i] + 1) % 4
        rank2 = ((skey[pos2[i]] & 3) - d[i] + 1) % 4
        second = i[rank2 < rank1]
        nxt[second] = order[pos2[second]]
    return nxt


def _cycle_order(nxt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walk the cycles of a permutation: elements in cycle order, each cycle from its smallest element.

    Cycles are ordered by their smallest element. Returns the ordered elements
    and the length of each cycle. The cycles are chained into one path and
    walked by `scipy.sparse.csgraph.depth_first_order` (linear time, no Python loop).
    """
    n = len(nxt)
    ar = np.arange(n)
    graph = sp.csr_matrix((np.ones(n, np.int8), nxt, np.arange(n + 1)), shape=(n, n))
    n_cycles, label = connected_components(graph, directed=True, connection="strong")
    head = np.full(n_cycles, n)
    np.minimum.at(head, label, ar)
    head.sort()
    count = np.bincount(label, minlength=n_cycles)[label[head]]
    prev = np.empty(n, np.int64)
    prev[nxt] = ar
    tail = prev[head]
    chain = nxt.copy()
    chain[tail[:-1]] = head[1:]
    deg = np.ones(n, np.int64)
    deg[tail[-1]] = 0
    indices = np.delete(chain, tail[-1])
    path = sp.csr_matrix((np.ones(n - 1, np.int8), indices, np.concatenate([[0], np.cumsum(deg)])), shape=(n, n))
    seq = depth_first_order(path, int(head[0]), directed=True, return_predecessors=False)
    return seq, count


def cut_corners(x: np.ndarray, y: np.ndarray, count: np.ndarray, cut: float) -> tuple[np.ndarray, ...]:
    """Replace every ring vertex by two points ``cut`` cells back along each of its edges.

    With ``cut = 0.5`` a unit stair step becomes a straight diagonal through the
    edge midpoints: the contour at 0.5 of the cell indicator interpolated linearly
    between cell centres (marching squares), so nested masks give nested rings.
    Long straight edges keep their line and lose only a half-cell chamfer at each
    corner. Returns new ``x, y`` (float) and ``count`` (doubled).
    """
    start = np.cumsum(count) - count
    ring = np.repeat(np.arange(len(count)), count)
    i = np.arange(len(x))
    prev = np.where(i == start[ring], i + count[ring] - 1, i - 1)
    nxt = np.where(i == start[ring] + count[ring] - 1, start[ring], i + 1)
    xy = np.column_stack([x, y]).astype(float)
    to_prev, to_next = xy[prev] - xy, xy[nxt] - xy
    a = xy + cut * to_prev / np.linalg.norm(to_prev, axis=1, keepdims=True)
    b = xy + cut * to_next / np.linalg.norm(to_next, axis=1, keepdims=True)
    out = np.empty((2 * len(x), 2))
    out[0::2], out[1::2] = a, b
    return out[:, 0], out[:, 1], 2 * count


def assemble(rings: Rings, tiles: Tiles, x0: np.ndarray, y0: np.ndarray, size: np.ndarray,
             to_lonlat: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
             cut: float = 0.0) -> np.ndarray:
    """Build one (multi)polygon per tile in EPSG:4326 from traced rings.

    Each hole goes to its smallest enclosing exterior. ``x0, y0, size`` per
    tile: its store grid's origin and cell size in metres of the router's CRS;
    ``to_lonlat`` unprojects. Tiles without rings get an empty polygon.
    ``cut`` > 0 (cells, at most 0.5) cuts the lattice corners (`cut_corners`):
    no stair steps; 0 keeps the exact union of cells.
    """
    n_tiles = len(tiles.store)
    out = np.array([shapely.Polygon()] * n_tiles, dtype=object)
    if len(rings.count) == 0:
        return out
    rings, tile = _by_tile(rings, tiles.at(rings.in_cell[:, 1], rings.in_cell[:, 0]))
    rx, ry, count = rings.x, rings.y, rings.count
    if cut > 0:
        rx, ry, count = cut_corners(rx, ry, count, cut)
    ring_of_vertex = np.repeat(np.arange(len(count)), count)
    vt = tile[ring_of_vertex]
    col = rx - tiles.col0[vt] + tiles.col_off[vt]
    row = ry - tiles.row0[vt] + tiles.row_off[vt]
    lon, lat = to_lonlat(x0[vt] + col * size[vt], y0[vt] + row * size[vt])
    ring_geoms = shapely.linearrings(np.column_stack([lon, lat]), indices=ring_of_vertex)
    owner = _hole_owners(rings, tile, n_tiles)
    is_hole = rings.area2 < 0
    ext = np.flatnonzero(~is_hole)
    poly_of_ext = np.full(len(rings.count), -1)
    poly_of_ext[ext] = np.arange(len(ext))
    poly = poly_of_ext[owner]
    seq = np.lexsort((np.arange(len(poly)), is_hole, poly))
    polys = shapely.polygons(ring_geoms[seq], indices=poly[seq])
    ptile = tile[ext]
    n_parts = np.bincount(ptile, minlength=n_tiles)
    single = n_parts[ptile] == 1
    out[ptile[single]] = polys[single]
    multi = ~single
    if multi.any():
        tiles_multi = np.unique(ptile[multi])
        out[tiles_multi] = shapely.multipolygons(polys[multi], indices=np.searchsorted(tiles_multi, ptile[multi]))
    pinched = np.unique(tiles.at(rings.saddles[:, 0], rings.saddles[:, 1]))
    if len(pinched):  # rings touching themselves at diagonal cells
        bad = pinched[~shapely.is_valid(out[pinched])]
        out[bad] = shapely.make_valid(out[bad], method="structure")
    return out


def _by_tile(rings: Rings, tile: np.ndarray) -> tuple[Rings, np.ndarray]:
    """Reorder rings by tile (keeping their order within a tile); return them and their tiles."""
    perm = np.argsort(tile, kind="stable")
    start = np.cumsum(rings.count) - rings.count
    count = rings.count[perm]
    new_start = np.cumsum(count) - count
    v = np.repeat(start[perm] - new_start, count) + np.arange(int(count.sum()))
    return Rings(x=rings.x[v], y=rings.y[v], count=count, in_cell=rings.in_cell[perm], area2=rings.area2[perm],
                 saddles=rings.saddles), tile[perm]


def _hole_owners(rings: Rings, tile: np.ndarray, n_tiles: int) -> np.ndarray:
    """Ring index of each ring's exterior: itself for exteriors, the smallest enclosing one for holes."""
    owner = np.arange(len(rings.count))
    is_hole = rings.area2 < 0
    ext = np.flatnonzero(~is_hole)
    n_ext = np.bincount(tile[ext], minlength=n_tiles)
    ext_of_tile = np.full(n_tiles, -1)
    ext_of_tile[tile[ext]] = ext
    holes = np.flatnonzero(is_hole)
    simple = n_ext[tile[holes]] == 1
    owner[holes[simple]] = ext_of_tile[tile[holes[simple]]]
    vstart = np.cumsum(rings.count) - rings.count
    for t in np.unique(tile[holes[~simple]]):  # several parts: test which exteriors hold the hole
        e = ext[tile[ext] == t]
        h = holes[tile[holes] == t]
        idx = np.concatenate([np.arange(vstart[i], vstart[i] + rings.count[i]) for i in e])
        shells = shapely.polygons(shapely.linearrings(np.column_stack([rings.x[idx], rings.y[idx]]),
                                                      indices=np.repeat(np.arange(len(e)), rings.count[e])))
        pts = rings.in_cell[h] + 0.5
        within = shapely.contains_xy(shells[:, None], pts[None, :, 0], pts[None, :, 1])
        area = np.where(within, rings.area2[e][:, None], np.inf)
        owner[h] = e[np.argmin(area, axis=0)]
    return owner
