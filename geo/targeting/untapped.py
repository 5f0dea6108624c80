"""Untapped areas: hexagonal cells with many homes, few customers and a store within reach.

Cells are the project's one grid, H3 (`geo.cells`). Per cell:

* ``homes``: residential floor area of the OSM buildings whose centroid lies
  in it, divided by `M2_PER_HOME`. The floor area is the demo's weighting
  (footprint m² × levels × use factor, `geo.demo.build.building_weights`), passed
  in by the caller as ``floor_m2``; 75 m² per home is a stated assumption,
  not a measure;
* ``customers``: customers whose location lies in it;
* ``minutes_to_store`` / ``nearest_store``: travel minutes from the cell's
  centre to the nearest store (`geo.catchments.assign.assign_customers`; km in
  radius mode), NaN when no store can be reached;
* ``untapped_homes`` = max(homes − customers, 0) and ``penetration`` =
  customers / homes.

Cells with a store within reach (``within_reach``: at most ``max_cost``) are
ranked by ``untapped_homes`` (most first; ties by fewer customers); the others
get rank 0 and come last.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.catchments.assign import assign_customers, radius_assign
from geo.cells import DEFAULT_RESOLUTION, cell_centres, cell_hex, cell_ids
from geo.errors import GeoError
from geo.modes import Mode
from geo.network.routing import Router

M2_PER_HOME = 75.0
"""Residential floor area of one home (m²) used to turn floor area into homes (an assumption)."""
UNTAPPED_COLUMNS = ["rank", "cell", "lat", "lon", "homes", "buildings", "customers", "penetration",
                    "untapped_homes", "minutes_to_store", "nearest_store", "within_reach"]


def homes_by_cell(lat: np.ndarray, lon: np.ndarray, floor_m2: np.ndarray, resolution: int = DEFAULT_RESOLUTION,
                  m2_per_home: float = M2_PER_HOME) -> pd.DataFrame:
    """Homes and buildings per cell from building centroids (degrees, EPSG:4326) and floor areas (m²)."""
    floor = np.asarray(floor_m2, dtype=float)
    ok = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(floor) & (floor > 0)
    ids = cell_ids(np.asarray(lat)[ok], np.asarray(lon)[ok], resolution)
    frame = pd.DataFrame({"cell_id": ids, "homes": floor[ok] / m2_per_home, "buildings": 1})
    return frame.groupby("cell_id").sum()


def customers_by_cell(customers: pd.DataFrame, resolution: int = DEFAULT_RESOLUTION) -> pd.Series:
    """Customers per cell (those with finite coordinates)."""
    lat, lon = customers["lat"].to_numpy(float), customers["lon"].to_numpy(float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    ids = cell_ids(lat[ok], lon[ok], resolution)
    return pd.Series(1, index=pd.Index(ids, name="cell_id")).groupby(level=0).sum().rename("customers")


def untapped_cells(customers: pd.DataFrame, buildings: pd.DataFrame, stores: pd.DataFrame, *, mode: str,
                   max_cost: float, router: Router | None = None, traffic: float = 1.0,
                   resolution: int = DEFAULT_RESOLUTION, m2_per_home: float = M2_PER_HOME) -> pd.DataFrame:
    """Rank cells by homes without a customer, among cells with a store within ``max_cost``.

    Parameters
    ----------
    customers
        ``customer_id, lat, lon`` (EPSG:4326).
    buildings
        ``lat, lon`` (building centroids, EPSG:4326) and ``floor_m2`` (residential floor area, m²).
    stores
        ``store_id, lat, lon``.
    mode
        ``walk``, ``bike``, ``drive`` (``router`` required) or ``radius``.
    max_cost
        Minutes (km in radius mode) from the cell centre to the nearest store for the cell to count.
    router, traffic
        The mode's `Router` and drive speed factor.
    resolution
        H3 resolution of the cells.
    m2_per_home
        Floor area of one home, m².

    Returns
    -------
    DataFrame with `UNTAPPED_COLUMNS`, one row per cell holding a home or a customer.
    """
    m = Mode.parse(mode)
    need = [c for c in ("lat", "lon", "floor_m2") if c not in buildings.columns]
    if need:
        raise GeoError(f"buildings: missing column(s) {', '.join(need)}")
    homes = homes_by_cell(buildings["lat"].to_numpy(float), buildings["lon"].to_numpy(float),
                          buildings["floor_m2"].to_numpy(float), resolution, m2_per_home)
    cust = customers_by_cell(customers, resolution)
    cells = homes.join(cust, how="outer").fillna({"homes": 0.0, "buildings": 0, "customers": 0})
    ids = cells.index.to_numpy(np.uint64)
    lat, lon = cell_centres(ids)
    centres = pd.DataFrame({"customer_id": np.arange(len(ids)).astype(str), "lat": lat, "lon": lon})
    if m is Mode.RADIUS:
        near = radius_assign(stores, centres, max_cost)
        cost = near["crow_km"].to_numpy(float)
    else:
        if router is None:
            raise GeoError(f"untapped areas in {m.value} mode need the {m.value} road network")
        near = assign_customers(router, stores, centres, mode=m.value, traffic=traffic)
        cost = near["travel_min"].to_numpy(float)
    homes_v = cells["homes"].to_numpy(float)
    cust_v = cells["customers"].to_numpy(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        penetration = np.where(homes_v > 0, cust_v / np.where(homes_v > 0, homes_v, 1), np.nan)
    out = pd.DataFrame({"cell": cell_hex(ids), "lat": lat, "lon": lon, "homes": homes_v,
                        "buildings": cells["buildings"].to_numpy(int), "customers": cust_v,
                        "penetration": penetration, "untapped_homes": np.maximum(homes_v - cust_v, 0.0),
                        "minutes_to_store": cost, "nearest_store": near["store_id"].astype("string").to_numpy(),
                        "within_reach": np.isfinite(cost) & (cost <= max_cost)})
    out = out.sort_values(["within_reach", "untapped_homes", "customers", "cell"],
                          ascending=[False, False, True, True], ignore_index=True)
    out.insert(0, "rank", np.where(out["within_reach"], np.arange(1, len(out) + 1), 0))
    return out[UNTAPPED_COLUMNS]
