"""Building blocks of the reach page's live preview: band limits, overlaps, candidates and cells.

The targets for any catchment limit are a threshold on one column: once per
set of stores, mode and audience filters, `candidate_targets` lists every
customer who *would* be a target if the catchment were large enough
(consent, suppression, recent contacts, segment and one-per-address already
applied) with their value (travel minutes, or km in radius mode); the
targets for a limit ``L`` are the candidates with ``value <= L``. Likewise
`overlap_index` prepares "in two catchments" once, so a limit is one
comparison. `cell_grid` bins candidates into square cells for maps of large
audiences. `geo.targeting.preview` uses these to answer every slider step at once.

Coordinates are EPSG:4326; values are minutes (travel modes) or kilometres
(radius).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.catchments.assign import haversine_km
from geo.modes import Mode
from geo.targeting.reach import ReachIndex

TARGET_PALETTE = ([31, 119, 180], [44, 160, 44], [148, 103, 189], [23, 190, 207],
                  [255, 127, 14], [140, 86, 75], [188, 189, 34], [227, 119, 194],
                  [127, 127, 127], [214, 39, 40])
"""Point colours of the targets, one per store (cycled), so overlaps show who got whom."""
POINTS_MAX = 20_000
"""Up to this many candidates the reach map draws points (coloured by store); above, cells."""
CELL_M = 400.0
_M_PER_DEG_LAT = 111_195.0


def bands_up_to(limits: Sequence[float], outer: float) -> list[float]:
    """Band limits for a slider value: the workspace's limits below ``outer``, then ``outer``.

    Parameters
    ----------
    limits
        The workspace's band limits (minutes or km), e.g. ``[5, 10, 15]``.
    outer
        The slider's value (the catchment's outer limit, same unit).

    Examples
    --------
    >>> bands_up_to([5, 10, 15], 12)
    [5.0, 10.0, 12.0]
    >>> bands_up_to([5, 10, 15], 3)
    [3.0]
    """
    outer = float(outer)
    if not outer > 0 or not np.isfinite(outer):
        raise ValueError(f"the catchment limit must be a positive number, got {outer}")
    inner = sorted({float(x) for x in limits if 0 < float(x) < outer})
    return inner + [outer]


def metric_column(mode: str) -> str:
    """Assignment column the catchment limit applies to: ``crow_km`` for radius, else ``travel_min``."""
    return "crow_km" if mode == Mode.RADIUS else "travel_min"


def overlap_by_store(assignment: pd.DataFrame, stores: pd.DataFrame, limit: float, *,
                     mode: str, customers: pd.DataFrame | None = None) -> pd.Series:
    """Customers inside the catchment of two or more stores, counted once at their nearest store.

    Parameters
    ----------
    assignment
        `geo.catchments.assign.assign_customers` / `radius_assign` output (nearest store first,
        runner-up in ``second_store_id``, ``second_travel_min``).
    stores
        Stores on the map (``store_id, lat, lon``).
    limit
        Catchment limit: minutes, or km in radius mode.
    mode
        ``drive``, ``walk``, ``bike`` or ``radius``.
    customers
        Needed in radius mode only (``lat, lon`` in the assignment's row order):
        the distance to the runner-up store is computed from them.

    Returns
    -------
    Series indexed by ``store_id`` (every store of ``stores``): customers
    assigned to the store within ``limit`` whose second-nearest store is also
    within ``limit``.
    """
    over = overlap_index(assignment, stores, mode=mode, customers=customers)
    ids = pd.Index(stores["store_id"].astype(str))
    return pd.Series(over.by_store(limit, len(ids)), index=ids, name="in_two_or_more")


@dataclass(frozen=True)
class Overlap:
    """Per customer: the nearest store's position and the value at which the runner-up is also in.

    Attributes
    ----------
    first
        Position of the customer's (nearest) store in the stores frame, -1 if none.
    both_within
        The larger of the values to the nearest and to the second-nearest store
        (minutes, or km in radius mode); NaN without a second store. The
        customer is in two catchments for a limit ``L`` when ``both_within <= L``.
    """

    first: np.ndarray
    both_within: np.ndarray

    def by_store(self, limit: float, n_stores: int) -> np.ndarray:
        """Customers in two or more catchments within ``limit``, per store position."""
        with np.errstate(invalid="ignore"):
            both = (self.both_within <= limit) & (self.first >= 0)
        return np.bincount(self.first[both], minlength=n_stores)[:n_stores]


def overlap_index(assignment: pd.DataFrame, stores: pd.DataFrame, *, mode: str,
                  customers: pd.DataFrame | None = None) -> Overlap:
    """Prepare `Overlap` once per assignment (inputs as `overlap_by_store`); thresholds are then cheap."""
    ids = pd.Index(stores["store_id"].astype(str))
    first = store_positions(assignment["store_id"], ids)
    second = store_positions(assignment["second_store_id"], ids)
    value = assignment[metric_column(mode)].to_numpy(dtype=float, na_value=np.nan)
    if mode == Mode.RADIUS:
        if customers is None:
            raise ValueError("overlap_by_store needs the customers' lat/lon in radius mode")
        ok = second >= 0
        second_value = np.full(len(assignment), np.nan)
        second_value[ok] = haversine_km(customers["lat"].to_numpy(float)[ok],
                                        customers["lon"].to_numpy(float)[ok],
                                        stores["lat"].to_numpy(float)[second[ok]],
                                        stores["lon"].to_numpy(float)[second[ok]])
    else:
        second_value = assignment["second_travel_min"].to_numpy(dtype=float, na_value=np.nan)
    both = np.fmax(value, second_value)
    both[~(np.isfinite(value) & np.isfinite(second_value) & (second >= 0))] = np.nan
    return Overlap(first=first, both_within=both)


def store_positions(store_id: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each row's store in ``ids`` (-1 for NA or a store not in ``ids``).

    Categorical columns (as `geo.catchments.assign` returns) are looked up per category,
    not per row.
    """
    if isinstance(store_id.dtype, pd.CategoricalDtype):
        pos = ids.get_indexer(store_id.cat.categories.astype(str))
        codes = store_id.cat.codes.to_numpy()
        return np.where(codes >= 0, pos[np.maximum(codes, 0)], -1) if len(pos) else \
            np.full(len(codes), -1)
    found: np.ndarray = ids.get_indexer(store_id.astype("string").fillna("\x00").to_numpy(dtype=object))
    return found


def candidate_targets(index: ReachIndex) -> pd.DataFrame:
    """Every customer who is a target for a large enough catchment, with the value to threshold.

    Parameters
    ----------
    index
        `geo.targeting.reach.index_reach` of the audience, assignment and stores.

    Returns
    -------
    DataFrame ``customer_id, store_id, value, lat, lon`` (``value`` in minutes,
    or km in radius mode), one row per candidate, sorted by store and value.
    The targets for a limit ``L`` are exactly the rows with ``value <= L``
    (as `ReachIndex.at` / `geo.targeting.reach.compute_reach` with outer band ``L``).
    """
    customers = index.audience.customers
    out = pd.DataFrame({
        "customer_id": customers["customer_id"].iloc[index.rows].to_numpy(),
        "store_id": index.store_ids.to_numpy()[index.store_code],
        "value": index.value,
        "lat": customers["lat"].to_numpy(float)[index.rows],
        "lon": customers["lon"].to_numpy(float)[index.rows],
    })
    return out.sort_values(["store_id", "value"], kind="stable", ignore_index=True)


def store_colours(stores: pd.DataFrame) -> dict[str, list[int]]:
    """Colour of each store's targets (`TARGET_PALETTE` in store-id order, cycled)."""
    ids = sorted(stores["store_id"].astype(str))
    return {s: list(TARGET_PALETTE[i % len(TARGET_PALETTE)]) for i, s in enumerate(ids)}


@dataclass(frozen=True)
class CellGrid:
    """Candidate targets binned once into square cells, so each slider move only counts cells.

    Used when there are too many candidates to redraw as points on every move
    (above `POINTS_MAX`): a move then sends a few hundred cells instead.

    Attributes
    ----------
    cell_m
        Cell side, metres (in a local equirectangular frame around the data:
        good to about 1 % over a city or a small country).
    cell
        Cell number of each candidate (same order as the candidates frame).
    value
        Each candidate's value (minutes, or km in radius mode).
    lon, lat
        Centre of each cell, EPSG:4326.
    """

    cell_m: float
    cell: np.ndarray
    value: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


def cell_grid(candidates: pd.DataFrame, cell_m: float = CELL_M) -> CellGrid:
    """Bin `candidate_targets` output into ``cell_m``-metre square cells (see `CellGrid`)."""
    lat = candidates["lat"].to_numpy(float)
    lon = candidates["lon"].to_numpy(float)
    lat0 = float(np.nanmean(lat)) if len(lat) else 0.0
    kx = _M_PER_DEG_LAT * np.cos(np.radians(lat0))
    ix = np.floor(lon * kx / cell_m).astype(np.int64)
    iy = np.floor(lat * _M_PER_DEG_LAT / cell_m).astype(np.int64)
    keys, cell = np.unique(np.stack([ix, iy], axis=1), axis=0, return_inverse=True) \
        if len(ix) else (np.zeros((0, 2), np.int64), np.zeros(0, np.int64))
    return CellGrid(cell_m=float(cell_m), cell=np.asarray(cell).ravel(),
                    value=candidates["value"].to_numpy(float),
                    lon=(keys[:, 0] + 0.5) * cell_m / kx,
                    lat=(keys[:, 1] + 0.5) * cell_m / _M_PER_DEG_LAT)
