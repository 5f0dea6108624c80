"""The reach page's live preview: counts and map for every slider step, computed at once.

A slider move must show new numbers and a new map within a fraction of a
second, also on a computer without a GPU. A round trip to the server and a
re-render of the page cannot promise that, so the page computes the answer
for *every* position of the slider up front and lets the browser look it up:

* `reach_curve`: per step, the headline counts (in catchment, targets,
  treatment, holdout, in two catchments). Every count is a threshold on one
  sorted array, so 60 or 100 steps cost a few `numpy.searchsorted` calls.
* `preview_map_json`: the targets for the map, each tagged with the first
  step at which it becomes a target, as points (coloured by store) or, for
  large audiences, as counts per square cell. The browser shows step ``j``
  by drawing the entries tagged ``<= j``; the numbers drawn add up to
  ``reach_curve``'s ``targets`` at that step.

Both agree exactly with `geo.targeting.reach.ReachIndex.at` for the same outer limit:
a customer is a target at step ``s`` when its value (travel minutes, or
crow-flies km in radius mode) is ``<= s``, and the holdout of ``n`` targets
is ``round(holdout * n)`` (`geo.targeting.holdout.draw_holdout` draws exactly that many).

Coordinates are EPSG:4326; map positions are integers in 1e-5 degrees
(about 1 m).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from geo.modes import Mode
from geo.targeting.live import (
    CELL_M,
    POINTS_MAX,
    Overlap,
    candidate_targets,
    cell_grid,
    store_colours,
    store_positions,
)
from geo.targeting.reach import STAGES, ReachIndex

MINUTES_MAX = 60
"""Largest travel time the slider offers, minutes (steps of one minute)."""
KM_MAX = 10.0
"""Largest radius the slider offers, km (steps of 0.1 km)."""
KM_STEP = 0.1
CURVE_COLUMNS = ("step", "in_catchment", "opted_in", "not_suppressed", "not_recently_contacted",
                 "in_segment", "targets", "treatment", "holdout", "in_two_catchments")


def slider_steps(mode: str) -> np.ndarray:
    """Every value the catchment slider can take: minutes 1..60, or km 0.1..10.0 in radius mode.

    Examples
    --------
    >>> slider_steps("walk")[:3].tolist(), slider_steps("radius")[-1]
    ([1.0, 2.0, 3.0], np.float64(10.0))
    """
    if mode == Mode.RADIUS:
        n = int(round(KM_MAX / KM_STEP))
        return np.round(np.arange(1, n + 1) * KM_STEP, 1)
    return np.arange(1, MINUTES_MAX + 1, dtype=float)


def snap_to_step(value: float, steps: np.ndarray) -> float:
    """The step nearest to ``value`` (a remembered or typed limit that is off the grid)."""
    steps = np.asarray(steps, dtype=float)
    return float(steps[int(np.argmin(np.abs(steps - float(value))))])


def step_of(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Index of the first step ``>= value`` per value (``len(steps)``: beyond the last step).

    A value is within the catchment at step ``j`` exactly when its index is ``<= j``.
    NaN values get ``len(steps)``.
    """
    values = np.asarray(values, dtype=float)
    out = np.searchsorted(np.asarray(steps, dtype=float), values, side="left")
    out[~np.isfinite(values)] = len(steps)
    return out


def _count_within(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """How many ``values`` are ``<= step`` for each step (NaN never counts)."""
    values = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    return np.searchsorted(values, np.asarray(steps, dtype=float), side="right")


def reach_curve(index: ReachIndex, overlap: Overlap, steps: np.ndarray, *,
                holdout: float) -> pd.DataFrame:
    """Headline counts for every slider step.

    Parameters
    ----------
    index
        `geo.targeting.reach.index_reach` of the audience, assignment and stores.
    overlap
        `geo.targeting.live.overlap_index` of the same assignment and stores.
    steps
        Slider values (`slider_steps`): minutes, or km in radius mode.
    holdout
        Share of targets held out, in [0, 1).

    Returns
    -------
    DataFrame with `CURVE_COLUMNS`, one row per step. At each step the counts
    equal ``index.at(bands, holdout=holdout)`` for any bands whose largest
    limit is the step: the waterfall stages from ``in_catchment`` to
    ``in_segment`` (customers left after each rule), ``targets`` (one per
    address, the last stage), ``treatment``, ``holdout``
    (``round(holdout * targets)``) and ``in_two_catchments`` (within the step
    of two or more stores).
    """
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout share must be in [0, 1), got {holdout}")
    steps = np.asarray(steps, dtype=float)
    targets = _count_within(index.value, steps)
    held = np.array([int(round(holdout * n)) for n in targets.tolist()], dtype=np.int64)
    with np.errstate(invalid="ignore"):
        mine = overlap.both_within[overlap.first >= 0]
    stages = {stage: _count_within(index.stage_value[stage], steps) for stage in STAGES[:-1]}
    return pd.DataFrame({
        "step": steps, **stages,
        "targets": targets, "treatment": targets - held, "holdout": held,
        "in_two_catchments": _count_within(mine, steps),
    })


def targets_by_store(index: ReachIndex, steps: np.ndarray) -> np.ndarray:
    """Targets per store (rows, in ``index.stores`` order) and slider step (columns).

    Entry ``[i, j]`` equals the ``one_per_email`` count of store ``i`` in
    ``index.at(bands)`` when the largest band is ``steps[j]``.
    """
    n_stores, n_steps = len(index.stores), len(steps)
    k = step_of(index.value, steps)
    flat = np.bincount(index.store_code * (n_steps + 1) + k, minlength=n_stores * (n_steps + 1))
    return np.cumsum(flat.reshape(n_stores, n_steps + 1), axis=1)[:, :n_steps]


def preview_counts_json(curve: pd.DataFrame, by_store: np.ndarray) -> bytes:
    """The preview's counts for every step as compact JSON (served once by URL).

    Parameters
    ----------
    curve
        `reach_curve` output.
    by_store
        `targets_by_store` output (stores × steps).

    Returns
    -------
    UTF-8 JSON ``{"curve": {column: [value per step]}, "stores": [[targets per
    step] per store]}``.
    """
    columns = {c: (curve[c].astype(float) if c == "step" else curve[c].astype(np.int64)).tolist()
               for c in CURVE_COLUMNS}
    body = {"curve": columns, "stores": np.asarray(by_store, dtype=np.int64).tolist()}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def counts_at(counts_json: bytes, step_index: int) -> dict[str, int]:
    """The headline counts `preview_counts_json` output gives at one step (what the browser shows)."""
    curve = json.loads(counts_json)["curve"]
    return {c: v[step_index] for c, v in curve.items() if c != "step"}


def _lonlat_e5(values: np.ndarray) -> list[int]:
    e5: list[int] = np.round(np.asarray(values, dtype=float) * 1e5).astype(np.int64).tolist()
    return e5


def preview_map_json(index: ReachIndex, steps: np.ndarray, *, points_max: int | None = None,
                     cell_m: float = CELL_M) -> bytes:
    """The preview map's targets for every step, as compact JSON (served once by URL).

    Parameters
    ----------
    index
        `geo.targeting.reach.index_reach` output.
    steps
        Slider values (`slider_steps`).
    points_max
        Up to this many candidates the map draws points; above, cells
        (default `geo.targeting.live.POINTS_MAX`).
    cell_m
        Cell side, metres, when drawing cells.

    Returns
    -------
    UTF-8 JSON. ``{"draw": "points", "lon": [...], "lat": [...], "k": [...],
    "s": [...]}``: one entry per candidate, ``lon``/``lat`` in 1e-5 degrees,
    ``k`` the first step index at which it is a target, ``s`` its store's
    position in ``index.stores``; or ``{"draw": "cells", "cell_m": ...,
    "lon": [...], "lat": [...], "c": [...], "k": [...], "n": [...]}``: cell
    centres, then triples (cell, step index, targets that join at that step).
    Both are sorted by ``k``; candidates beyond the last step are left out.
    No name, e-mail or id leaves the server.
    """
    candidates = candidate_targets(index)
    k = step_of(candidates["value"].to_numpy(float), steps)
    keep = k < len(steps)
    candidates, k = candidates[keep].reset_index(drop=True), k[keep]
    if len(candidates) <= (POINTS_MAX if points_max is None else points_max):
        order = np.argsort(k, kind="stable")
        store = store_positions(candidates["store_id"], index.store_ids.astype(str))
        body = {"draw": "points", "lon": _lonlat_e5(candidates["lon"].to_numpy()[order]),
                "lat": _lonlat_e5(candidates["lat"].to_numpy()[order]),
                "k": k[order].tolist(), "s": store[order].tolist()}
    else:
        grid = cell_grid(candidates, cell_m)
        pairs, n = np.unique(np.stack([k, grid.cell]), axis=1, return_counts=True)
        body = {"draw": "cells", "cell_m": float(cell_m), "lon": _lonlat_e5(grid.lon),
                "lat": _lonlat_e5(grid.lat), "k": pairs[0].tolist(), "c": pairs[1].tolist(),
                "n": n.tolist()}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def preview_stores(stores: pd.DataFrame) -> list[dict[str, Any]]:
    """The stores for the preview map: ``id, name, lon, lat, colour`` (the targets' colour)."""
    colours = store_colours(stores)
    return [{"id": str(s.store_id), "name": str(s.name), "lon": round(float(s.lon), 5),
             "lat": round(float(s.lat), 5), "colour": colours[str(s.store_id)]}
            for s in stores.itertuples(index=False)]


def map_counts_at(map_json: bytes, step_index: int) -> int:
    """Targets drawn by `preview_map_json` output at one step (what the browser draws)."""
    body = json.loads(map_json)
    k = np.asarray(body["k"], dtype=np.int64)
    if body["draw"] == "points":
        return int((k <= step_index).sum())
    return int(np.asarray(body["n"], dtype=np.int64)[k <= step_index].sum())
