"""Band outlines without raster stair steps: contoured, simplified, valid, nested, with holes, on every shared extract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo.catchments import _raster as raster
from geo.catchments.polygons import catchment_polygons
from geo.errors import NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from tests.conftest import SHARED_OSM, placeable_nodes

EXTRACTS = ["krems.osm.gz", "north-bayreuth.osm.gz", "andorra.osm.pbf", "liechtenstein.osm.pbf"]


def turn_stats(geom, crs: str) -> tuple[int, int]:
    """(stair steps, vertices): vertices turning by 90° (±10°) between two grid-aligned edges.

    A raster outline does so at every vertex; a contour almost never does (its
    90° turns are the diagonal tips of one-cell spurs). Angles are measured in
    metres of ``crs`` (the router's UTM zone), where the grid was square.
    """
    to_xy = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    steps = total = 0
    for poly in shapely.get_parts(geom):
        for ring in [poly.exterior, *poly.interiors]:
            x, y = to_xy.transform(*np.asarray(ring.coords)[:-1].T)
            xy = np.column_stack([x, y])
            a, b = np.roll(xy, 1, axis=0) - xy, np.roll(xy, -1, axis=0) - xy
            la, lb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
            cos = np.einsum("ij,ij->i", a, b) / np.maximum(la * lb, 1e-12)
            tol = np.sin(np.radians(10))
            axis_a = np.minimum(np.abs(a[:, 0]), np.abs(a[:, 1])) < tol * la
            axis_b = np.minimum(np.abs(b[:, 0]), np.abs(b[:, 1])) < tol * lb
            steps += int(((np.abs(cos) < tol) & axis_a & axis_b).sum())
            total += len(xy)
    return steps, total


@pytest.fixture(scope="module", params=EXTRACTS)
def case(request, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(SHARED_OSM / request.param, "drive",
                         cache_dir=tmp_path_factory.getbasetemp() / "contour-netcache")
    router = Router.from_graph(G)
    node = placeable_nodes(router)
    pick = node[np.random.default_rng(3).choice(len(node), 4, replace=False)]
    stores = pd.DataFrame({"store_id": [f"S{i}" for i in range(4)], "name": "x",
                           "lat": router.lat[pick], "lon": router.lon[pick]})
    return request.param, router, stores


def test_outlines_have_no_stair_steps_and_stay_valid_and_nested(case):
    name, router, stores = case
    bands = [3.0, 6.0, 10.0]
    smooth = catchment_polygons(router, stores, bands, mode="drive")
    steps = catchment_polygons(router, stores, bands, mode="drive", smooth=False)
    assert smooth.geometry.is_valid.all() and not smooth.geometry.is_empty.any()
    s_steps, s_total = np.sum([turn_stats(g, router.crs) for g in smooth.geometry], axis=0)
    r_steps, r_total = np.sum([turn_stats(g, router.crs) for g in steps.geometry], axis=0)
    # the raster outline is mostly stair steps; the contour has (nearly) none, and fewer vertices
    assert r_steps > 0.95 * r_total, name
    assert s_steps <= 0.03 * s_total, (name, s_steps, s_total)
    assert s_total < r_total
    times = router.store_times(stores)
    for i, sid in enumerate(times.store_ids):
        polys = smooth[smooth["store_id"] == sid].sort_values("band_min").geometry.tolist()
        for small, big in zip(polys, polys[1:], strict=False):
            assert big.buffer(1e-7).contains(small), (name, sid)
        for band, poly in zip(bands, polys, strict=True):
            ok = times.seconds[i] <= band * 60      # every reachable node stays inside
            assert shapely.contains_xy(poly, router.lon[ok], router.lat[ok]).all(), (name, sid, band)
        # the contour follows the raster: it differs from it by a thin rim only
        raw = steps[steps["store_id"] == sid].sort_values("band_min").geometry.tolist()[-1]
        assert polys[-1].symmetric_difference(raw).area < 0.15 * raw.area


def test_holes_survive_the_contouring():
    # a ring of cells around an unreachable lake: the hole stays, as a hole, without stair steps
    mask = np.zeros((40, 40), bool)
    yy, xx = np.indices(mask.shape)
    r = np.hypot(yy - 20, xx - 20)
    mask[(r < 17) & (r > 7)] = True
    mosaic = np.pad(mask, 1)
    tiles = raster.Tiles(store=np.array([0]), band=np.array([0]), row0=np.array([0]), col0=np.array([0]),
                         height=np.array([42]), width=np.array([42]), row_off=np.array([0]),
                         col_off=np.array([0]), index=np.zeros((42, 42), np.int32))
    ident = lambda x, y: (x, y)  # noqa: E731
    one = np.array([0.0])
    exact = raster.assemble(raster.trace_rings(mosaic), tiles, one, one, np.array([1.0]), ident)[0]
    smooth = raster.assemble(raster.trace_rings(mosaic), tiles, one, one, np.array([1.0]), ident,
                             cut=0.5)[0]
    assert smooth.is_valid and len(smooth.interiors) == 1 == len(exact.interiors)
    assert abs(smooth.area - exact.area) < 0.05 * exact.area
    lake = shapely.Polygon(smooth.interiors[0])
    assert lake.contains(shapely.Point(21, 21)) and lake.area > np.pi * 6**2


def test_nested_masks_give_nested_contours():
    rng = np.random.default_rng(1)
    from scipy import ndimage

    small = ndimage.binary_dilation(rng.random((30, 30)) < 0.03, iterations=2)
    big = ndimage.binary_dilation(small, iterations=2) | (rng.random((30, 30)) < 0.05)
    geoms = []
    for m in (small, big):
        mosaic = np.pad(m, 1)
        tiles = raster.Tiles(store=np.array([0]), band=np.array([0]), row0=np.array([0]),
                             col0=np.array([0]), height=np.array([32]), width=np.array([32]),
                             row_off=np.array([0]), col_off=np.array([0]),
                             index=np.zeros((32, 32), np.int32))
        one = np.array([0.0])
        geoms.append(raster.assemble(raster.trace_rings(mosaic), tiles, one, one, np.array([1.0]),
                                     lambda x, y: (x, y), cut=0.5)[0])
    assert all(g.is_valid for g in geoms)
    assert geoms[1].buffer(1e-9).contains(geoms[0])
