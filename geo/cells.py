"""Hexagonal cells (Uber's H3) for counting points per area: one grid for every page and command.

Every aggregation by area (untapped areas, map layers at scale) uses these
functions, so a cell id means the same hexagon everywhere. Cells are H3
cells; ids are H3 indexes as unsigned 64-bit integers, which pydeck's
``H3HexagonLayer`` reads as hexadecimal strings (`cell_hex`).
"""

from __future__ import annotations

import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd

from geo.errors import GeoError

#: Resolution used when a caller does not choose one: ~0.1 km² per cell, a few city blocks.
DEFAULT_RESOLUTION = 9


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is a valid H3 resolution (0-15), else raise `GeoError`."""
    if not 0 <= int(resolution) <= 15:
        raise GeoError(f"Cell resolution must be between 0 and 15, got {resolution}.")
    return int(resolution)


def cell_ids(lat: np.ndarray, lon: np.ndarray, resolution: int = DEFAULT_RESOLUTION) -> np.ndarray:
    """H3 cell of each point.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        WGS84 degrees (EPSG:4326), same length, finite.
    resolution : int
        H3 resolution, 0 (continent) to 15 (about 1 m²).

    Returns
    -------
    numpy.ndarray
        ``uint64`` H3 indexes, one per point.
    """
    res = check_resolution(resolution)
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    if lat.shape != lon.shape:
        raise GeoError("Latitudes and longitudes differ in length.")
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise GeoError("Every point needs finite coordinates to be put in a cell.")
    convert = h3n.latlng_to_cell
    return np.fromiter((convert(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)),
                       dtype=np.uint64, count=lat.size)


def cell_hex(ids: np.ndarray | pd.Series) -> list[str]:
    """H3 indexes as the hexadecimal strings map layers and CSV files use."""
    return [h3.int_to_str(int(i)) for i in np.asarray(ids, dtype=np.uint64)]


def cell_centres(ids: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Centre (lat, lon) of each cell in WGS84 degrees."""
    pts = [h3n.cell_to_latlng(int(i)) for i in np.asarray(ids, dtype=np.uint64)]
    if not pts:
        return np.empty(0), np.empty(0)
    arr = np.asarray(pts, dtype=float)
    return arr[:, 0], arr[:, 1]


def cell_area_km2(resolution: int = DEFAULT_RESOLUTION) -> float:
    """Average area of one cell at ``resolution``, in square kilometres."""
    return float(h3.average_hexagon_area(check_resolution(resolution), unit="km^2"))


def count_by_cell(lat: np.ndarray, lon: np.ndarray, resolution: int = DEFAULT_RESOLUTION,
                  weights: np.ndarray | None = None) -> pd.Series:
    """Number (or sum of ``weights``) of points per cell, indexed by ``uint64`` cell id, largest first."""
    ids = cell_ids(lat, lon, resolution)
    values = np.ones(ids.size) if weights is None else np.asarray(weights, dtype=float)
    counts = pd.Series(values, index=pd.Index(ids, name="cell")).groupby(level=0).sum()
    return counts.sort_values(ascending=False, kind="stable")
