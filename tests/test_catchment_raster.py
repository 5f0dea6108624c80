"""Tests for geo.catchments._raster: traced polygons equal the union of their cells, holes, saddles, tiles."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy import ndimage

from geo.catchments._raster import (
    Tiles,
    _cycle_order,
    _pack,
    assemble,
    fill_small_holes,
    trace_rings,
)


def _mosaic(masks: list[np.ndarray]) -> tuple[np.ndarray, Tiles]:
    """Place tile masks (each framed by one empty cell) in a packed mosaic, as `band_mosaic` does."""
    framed = [np.pad(m, 1) for m in masks]
    height = np.array([f.shape[0] for f in framed])
    width = np.array([f.shape[1] for f in framed])
    row0, col0, shape = _pack(height, width)
    mosaic = np.zeros(shape, bool)
    index = np.full(shape, -1, np.int32)
    for t, f in enumerate(framed):
        mosaic[row0[t]:row0[t] + height[t], col0[t]:col0[t] + width[t]] = f
        index[row0[t]:row0[t] + height[t], col0[t]:col0[t] + width[t]] = t
    n = len(masks)
    tiles = Tiles(store=np.arange(n), band=np.zeros(n, np.int64), row0=row0, col0=col0, height=height, width=width,
                  row_off=np.zeros(n, np.int64), col_off=np.zeros(n, np.int64), index=index)
    return mosaic, tiles


def _polygons(mosaic: np.ndarray, tiles: Tiles) -> np.ndarray:
    n = len(tiles.store)
    return assemble(trace_rings(mosaic), tiles, np.zeros(n), np.zeros(n), np.ones(n), lambda x, y: (x, y))


def _check_cells(geom, framed: np.ndarray) -> None:
    """The polygon is exactly the union of the True cells (unit squares, row = y)."""
    rows, cols = np.indices(framed.shape)
    inside = shapely.contains_xy(geom, cols + 0.5, rows + 0.5)
    assert np.array_equal(inside, framed)
    assert geom.is_valid
    assert geom.area == pytest.approx(framed.sum())


def test_random_tiles_trace_to_the_union_of_their_cells():
    rng = np.random.default_rng(7)
    masks = []
    for size in [(5, 9), (30, 12), (17, 40), (1, 1), (25, 25), (8, 3)]:
        masks.append(rng.random(size) < 0.45)  # many saddles, holes and parts
    masks.append(ndimage.binary_dilation(rng.random((40, 30)) < 0.02, iterations=3))  # blobs with holes
    mosaic, tiles = _mosaic(masks)
    geoms = _polygons(mosaic, tiles)
    for m, g in zip(masks, geoms, strict=True):
        if m.any():
            _check_cells(g, np.pad(m, 1))
        else:
            assert g.is_empty


def test_holes_go_to_their_own_part_and_saddles_stay_valid():
    ring = np.ones((5, 5), bool)
    ring[2, 2] = False  # a one-cell hole
    two_parts = np.zeros((7, 15), bool)
    two_parts[1:6, 1:6] = ring
    two_parts[1:6, 8:13] = ring
    two_parts[0, 14] = True  # a third part with no hole
    saddle = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1]], bool)  # cells touching at corners only
    mosaic, tiles = _mosaic([two_parts, saddle])
    geoms = _polygons(mosaic, tiles)
    assert geoms[0].geom_type == "MultiPolygon" and len(geoms[0].geoms) == 3
    assert sorted(len(p.interiors) for p in geoms[0].geoms) == [0, 1, 1]
    _check_cells(geoms[0], np.pad(two_parts, 1))
    _check_cells(geoms[1], np.pad(saddle, 1))


def test_fill_small_holes_uses_each_tiles_threshold():
    block = np.ones((6, 6), bool)
    block[2:4, 2:4] = False  # a 4-cell hole
    mosaic, tiles = _mosaic([block, block.copy()])
    filled = fill_small_holes(mosaic, tiles, np.array([4, 3]))
    t0 = filled[tiles.row0[0] + 1: tiles.row0[0] + 7, tiles.col0[0] + 1: tiles.col0[0] + 7]
    t1 = filled[tiles.row0[1] + 1: tiles.row0[1] + 7, tiles.col0[1] + 1: tiles.col0[1] + 7]
    assert t0.all()  # 4 cells <= 4: filled
    assert not t1[2:4, 2:4].any()  # 4 cells > 3: kept
    assert filled.sum() == 36 + 32  # nothing else changed


def test_cycle_order_walks_each_cycle_from_its_smallest_element():
    rng = np.random.default_rng(3)
    nxt = rng.permutation(200)
    seq, count = _cycle_order(nxt)
    assert count.sum() == 200 and sorted(seq.tolist()) == list(range(200))
    pos = 0
    heads = []
    for c in count:
        cycle = seq[pos:pos + c]
        assert cycle[0] == cycle.min()
        assert all(nxt[a] == b for a, b in zip(cycle, np.roll(cycle, -1), strict=True))
        heads.append(cycle[0])
        pos += c
    assert heads == sorted(heads)
