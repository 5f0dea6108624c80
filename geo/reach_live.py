"""What the reach page redraws on every slider move: band limits, overlaps and the targets map.

The map of the targets must stay cheap when the minutes (or km) slider moves,
even for 100k customers: little to send, little to redraw. `candidate_targets` lists, once per set of stores,
mode and audience filters, every customer who *would* be a target if the
catchment were large enough (consent, suppression, recent contacts, segment
and one-per-address already applied) together with their travel minutes (km
in radius mode). Because one address keeps its nearest record, a customer
with value ``v`` is a target exactly when ``v <= limit``: the set for any
slider value is a threshold on this one column. `candidate_points_json` writes
those points once (served by URL, fetched once by the browser) and
`reach_deck` filters them on the GPU with deck.gl's ``DataFilterExtension``,
so a slider move sends only the new ``filterRange`` (a few bytes) instead of
the points. Above `POINTS_MAX` candidates, redrawing every point on each move
is what costs (a browser without a GPU needs seconds for 70k points), so the
map shows targets per square cell instead (`cell_grid`, `target_cells`): a
few hundred cells per move, served as one small static file.

Coordinates are EPSG:4326 rounded to 5 decimals (about 1 m); values are
minutes (travel modes) or kilometres (radius).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pydeck as pdk

from geo.assign import haversine_km
from geo.mapdeck import ROAD_COLOUR, STORE_COLOUR, store_records
from geo.reach import RADIUS, ReachIndex

TARGET_PALETTE = ([31, 119, 180], [44, 160, 44], [148, 103, 189], [23, 190, 207],
                  [255, 127, 14], [140, 86, 75], [188, 189, 34], [227, 119, 194],
                  [127, 127, 127], [214, 39, 40])
"""Point colours of the targets, one per store (cycled), so overlaps show who got whom."""
POINTS_MAX = 20_000
"""Up to this many candidates the map draws points (filtered on the GPU); above, cells."""
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
    return "crow_km" if mode == RADIUS else "travel_min"


def overlap_by_store(assignment: pd.DataFrame, stores: pd.DataFrame, limit: float, *,
                     mode: str, customers: pd.DataFrame | None = None) -> pd.Series:
    """Customers inside the catchment of two or more stores, counted once at their nearest store.

    Parameters
    ----------
    assignment
        `geo.assign.assign_customers` / `radius_assign` output (nearest store first,
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
    ids = pd.Index(stores["store_id"].astype(str))
    first = store_positions(assignment["store_id"], ids)
    second = store_positions(assignment["second_store_id"], ids)
    value = assignment[metric_column(mode)].to_numpy(dtype=float, na_value=np.nan)
    if mode == RADIUS:
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
    with np.errstate(invalid="ignore"):
        both = (value <= limit) & (second_value <= limit) & (first >= 0) & (second >= 0)
    counts = np.bincount(first[both], minlength=len(ids))
    return pd.Series(counts, index=ids, name="in_two_or_more")


def store_positions(store_id: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each row's store in ``ids`` (-1 for NA or a store not in ``ids``).

    Categorical columns (as `geo.assign` returns) are looked up per category,
    not per row.
    """
    if isinstance(store_id.dtype, pd.CategoricalDtype):
        pos = ids.get_indexer(store_id.cat.categories.astype(str))
        codes = store_id.cat.codes.to_numpy()
        return np.where(codes >= 0, pos[np.maximum(codes, 0)], -1) if len(pos) else \
            np.full(len(codes), -1)
    return ids.get_indexer(store_id.astype("string").fillna("\x00").to_numpy(dtype=object))


def candidate_targets(index: ReachIndex) -> pd.DataFrame:
    """Every customer who is a target for a large enough catchment, with the value to threshold.

    Parameters
    ----------
    index
        `geo.reach.index_reach` of the audience, assignment and stores.

    Returns
    -------
    DataFrame ``customer_id, store_id, value, lat, lon`` (``value`` in minutes,
    or km in radius mode), one row per candidate, sorted by store and value.
    The targets for a limit ``L`` are exactly the rows with ``value <= L``
    (as `ReachIndex.at` / `geo.reach.compute_reach` with outer band ``L``).
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


def _ceil2(values: np.ndarray) -> np.ndarray:
    """Round up to 0.01 so that ``value <= limit`` survives rounding for limits on a 0.01 grid."""
    return np.ceil(np.round(values * 100.0, 6)) / 100.0


def store_colours(stores: pd.DataFrame) -> dict[str, list[int]]:
    """Colour of each store's targets (`TARGET_PALETTE` in store-id order, cycled)."""
    ids = sorted(stores["store_id"].astype(str))
    return {s: list(TARGET_PALETTE[i % len(TARGET_PALETTE)]) for i, s in enumerate(ids)}


def candidate_points_json(candidates: pd.DataFrame, stores: pd.DataFrame) -> bytes:
    """Serialise candidates for the targets layer: ``p`` [lon, lat], ``t`` value, ``c`` colour.

    ``t`` is rounded *up* to 0.01 (minutes or km) so the GPU filter
    ``t <= limit`` matches `geo.reach.compute_reach` for any slider value on a
    0.01 grid. No name, e-mail or id leaves the server.
    """
    colours = store_colours(stores)
    lon = np.round(candidates["lon"].to_numpy(float), 5)
    lat = np.round(candidates["lat"].to_numpy(float), 5)
    t = _ceil2(candidates["value"].to_numpy(float))
    colour = candidates["store_id"].astype(str).map(
        {k: json.dumps(v, separators=(",", ":")) for k, v in colours.items()})
    parts = [f'{{"p":[{x:.5f},{y:.5f}],"t":{v:.2f},"c":{c}}}'
             for x, y, v, c in zip(lon.tolist(), lat.tolist(), t.tolist(), colour.tolist())]
    return ("[" + ",".join(parts) + "]").encode("utf-8")


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


def target_cells(grid: CellGrid, limit: float) -> pd.DataFrame:
    """Targets per cell within ``limit`` (minutes, or km): ``lon, lat, targets`` for non-empty cells."""
    counts = np.bincount(grid.cell[grid.value <= limit], minlength=len(grid.lon))
    keep = np.flatnonzero(counts)
    return pd.DataFrame({"lon": grid.lon[keep], "lat": grid.lat[keep], "targets": counts[keep]})


def cells_json(cells: pd.DataFrame) -> bytes:
    """Serialise `target_cells` output: ``p`` [lon, lat], ``n`` targets, ``c`` colour, ``tooltip``.

    Colours run from light to dark blue with the cell's count rank (so one busy
    cell does not wash out the others).
    """
    n = cells["targets"].to_numpy(np.int64)
    rank = (pd.Series(n).rank(pct=True).to_numpy() if len(n) else np.zeros(0))
    light, dark = np.array([198, 219, 239]), np.array([8, 48, 107])
    rgb = np.round(light + (dark - light) * rank[:, None]).astype(int)
    parts = [f'{{"p":[{x:.5f},{y:.5f}],"n":{k},"c":[{r},{g},{b},200],'
             f'"tooltip":"{k:,} target{"s" if k != 1 else ""}"}}'
             for x, y, k, (r, g, b) in zip(cells["lon"].tolist(), cells["lat"].tolist(),
                                           n.tolist(), rgb.tolist())]
    return ("[" + ",".join(parts) + "]").encode("utf-8")


def store_points_json(stores: pd.DataFrame) -> bytes:
    """Serialise the stores layer (``position, store_id, name, tooltip``) as a JSON array."""
    return store_records(stores).to_json(orient="records", force_ascii=False).encode("utf-8")


def reach_deck(*, stores_url: str, limit: float, view: pdk.ViewState,
               points_url: str | None = None, cells_url: str | None = None,
               cell_m: float = CELL_M, roads_url: str | None = None, basemap: str = "none",
               point_radius_m: float = 6.0) -> pdk.Deck:
    """The reach page's map: the targets within ``limit`` and the stores.

    Parameters
    ----------
    stores_url
        URL of `store_points_json` output.
    limit
        Catchment limit, minutes (or km in radius mode).
    view
        Initial camera; keep it constant across reruns.
    points_url
        URL of `candidate_points_json` output: every possible target, fetched
        once; a slider move changes only the GPU filter's ``filterRange``.
    cells_url
        Instead of points: URL of `cells_json` output for this ``limit``
        (a few hundred cells of ``cell_m`` metres; one small file per move).
    roads_url
        URL of `geo.mapdeck.road_paths_json` output for a thin road layer, or None.
    basemap
        ``"none"`` (offline) or a Carto style name (``light``, ``dark``, ``road``).
    point_radius_m
        Radius of a target point, in metres.
    """
    layers = [] if not roads_url else [
        pdk.Layer("PathLayer", id="roads", data=roads_url, get_path="path",
                  get_color=ROAD_COLOUR, width_min_pixels=1, width_units="'pixels'",
                  get_width=1, pickable=False)]
    if cells_url:
        layers.append(pdk.Layer("ScatterplotLayer", id="target-cells", data=cells_url,
                                get_position="p", get_fill_color="c", get_radius=cell_m * 0.5,
                                radius_min_pixels=2, pickable=True))
    elif points_url:
        layers.append(pdk.Layer(
            "ScatterplotLayer", id="targets", data=points_url, get_position="p",
            get_fill_color="c", get_radius=point_radius_m, radius_min_pixels=1.2,
            radius_max_pixels=4, opacity=0.8, pickable=False,
            extensions=[{"@@type": "DataFilterExtension", "filterSize": 1}],
            get_filter_value="t", filter_range=[0.0, float(limit)]))
    layers += [
        pdk.Layer("ScatterplotLayer", id="stores", data=stores_url, get_position="position",
                  get_fill_color=STORE_COLOUR, get_line_color=[255, 255, 255], stroked=True,
                  line_width_min_pixels=2, get_radius=25, radius_min_pixels=7, pickable=True),
        pdk.Layer("TextLayer", id="store-labels", data=stores_url, get_position="position",
                  get_text="name", get_size=13, get_color=[30, 30, 30],
                  get_pixel_offset=[0, -18], background=True,
                  get_background_color=[255, 255, 255, 210], pickable=False,
                  character_set="'auto'"),
    ]
    kwargs = {"map_provider": None} if basemap == "none" else {"map_provider": "carto",
                                                                "map_style": basemap}
    return pdk.Deck(layers=layers, initial_view_state=view,
                    tooltip={"html": "{tooltip}", "style": {"fontSize": "12px"}}, **kwargs)
