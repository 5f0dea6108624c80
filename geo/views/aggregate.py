"""Customers counted per H3 cell on the server, for map layers at a million customers and more.

Above `AGGREGATE_FROM` customers a page sends cells instead of points: one
record per H3 cell (the project's one grid, `geo.cells`) with its counts,
colour and tooltip, read by deck.gl's ``H3HexagonLayer``. Cells start at
`geo.cells.DEFAULT_RESOLUTION` and are merged into their parents, a
resolution at a time, until at most ``max_cells`` remain, so the payload is
bounded by ``max_cells`` whatever the number of customers (about 110 bytes per
cell: 2.2 MB at 20,000 cells). Nothing personal leaves the server: counts only.
"""

from __future__ import annotations

import json

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pydeck as pdk

from geo.cells import DEFAULT_RESOLUTION, cell_hex, cell_ids
from geo.data.consent import contactable
from geo.text import plural
from geo.views.maps import (
    COMPARE_COLOURS,
    COMPARE_LABELS,
    CONSENT_COLOURS,
    OTHER_COLOUR,
    UNREACHABLE_COLOUR,
    segment_colours,
)

AGGREGATE_FROM = 100_000
"""Customers from which pages draw cells instead of points."""
MAX_CELLS = 20_000
"""Most cells a layer sends (cells are merged into coarser ones above it)."""


def grid(lat: np.ndarray, lon: np.ndarray, *, max_cells: int = MAX_CELLS,
         resolution: int = DEFAULT_RESOLUTION) -> tuple[np.ndarray, np.ndarray, int]:
    """Put points in H3 cells, coarsening until at most ``max_cells`` cells hold them.

    Parameters
    ----------
    lat, lon
        WGS84 degrees (EPSG:4326), finite.
    max_cells
        Most distinct cells wanted.
    resolution
        Finest H3 resolution to start from.

    Returns
    -------
    cells, index, resolution
        The distinct cells (``uint64``, ascending), each point's position in
        ``cells``, and the resolution reached.
    """
    cells, index = np.unique(cell_ids(lat, lon, resolution), return_inverse=True)
    while len(cells) > max_cells and resolution > 0:
        resolution -= 1
        parents = np.fromiter((h3n.cell_to_parent(int(c), resolution) for c in cells), dtype=np.uint64,
                              count=len(cells))
        cells, up = np.unique(parents, return_inverse=True)
        index = up[index]
    return cells, index, resolution


def _dominant(index: np.ndarray, labels: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: the most frequent label code (ties: the lower code) and how many points carry it.

    ``labels`` are integer codes >= 0; points with a negative code are not counted.
    """
    keep = labels >= 0
    if not keep.any():
        return np.full(n_cells, -1), np.zeros(n_cells, np.int64)
    k = int(labels[keep].max()) + 1
    table = np.bincount(index[keep] * k + labels[keep], minlength=n_cells * k).reshape(n_cells, k)
    top = table.argmax(axis=1)
    count = table[np.arange(n_cells), top]
    return np.where(count > 0, top, -1), count


def _alpha(n: np.ndarray) -> np.ndarray:
    """Opacity 70-230 growing with the log of the count (the densest cell is the most opaque)."""
    top = max(float(np.log1p(n.max())) if len(n) else 1.0, 1e-9)
    alpha: np.ndarray = (70 + 160 * np.log1p(n) / top).round().astype(int)
    return alpha


def _with_alpha(colours: list[list[int]], alpha: np.ndarray) -> list[list[int]]:
    return [[*c[:3], int(a)] for c, a in zip(colours, alpha, strict=True)]


def customer_cells(customers: pd.DataFrame, *, max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """Customers per cell for the Map page: counts by consent and segment, two colours, a tooltip.

    Returns
    -------
    DataFrame
        ``h`` (H3 id, hexadecimal), ``n`` (customers), ``opted_in``,
        ``unsubscribed``, ``cc`` (colour by consent: the cell's larger group),
        ``sc`` (colour of the cell's most frequent segment), ``tooltip``;
        ``attrs["resolution"]`` holds the H3 resolution.
    """
    cells, index, res = grid(customers["lat"].to_numpy(float), customers["lon"].to_numpy(float),
                             max_cells=max_cells)
    k = len(cells)
    n = np.bincount(index, minlength=k)
    ok = np.asarray(contactable(customers), dtype=bool)
    unsub = customers["unsubscribed"].astype("boolean").fillna(False).to_numpy(bool) \
        if "unsubscribed" in customers else np.zeros(len(customers), bool)
    opted = np.bincount(index, weights=ok, minlength=k).astype(np.int64)
    unsubscribed = np.bincount(index, weights=unsub, minlength=k).astype(np.int64)
    seg = (customers["segment"].fillna("(none)").astype(str) if "segment" in customers
           else pd.Series("(none)", index=customers.index))
    codes, names = pd.factorize(seg, sort=True)
    top, _ = _dominant(index, codes, k)
    palette = segment_colours(pd.Series(names))
    alpha = _alpha(n)
    consent = np.where(opted * 2 >= n, "opted in", np.where(unsubscribed * 2 > n, "unsubscribed", "no consent"))
    top_name = np.asarray(names, dtype=object)[np.maximum(top, 0)]
    out = pd.DataFrame({
        "h": cell_hex(cells), "n": n, "opted_in": opted, "unsubscribed": unsubscribed,
        "cc": _with_alpha([CONSENT_COLOURS[c] for c in consent], alpha),
        "sc": _with_alpha([palette.get(s, OTHER_COLOUR) for s in top_name], alpha),
        "tooltip": [f"<b>{plural(int(a), 'customer')}</b><br>{b:,} opted in · {c:,} unsubscribed"
                    f"<br>most: {s}" for a, b, c, s in zip(n, opted, unsubscribed, top_name, strict=True)],
    })
    out.attrs["resolution"] = res
    return out


def assigned_cells(customers: pd.DataFrame, assigned: pd.DataFrame, palette: dict[str, list[int]], *,
                   max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """Customers per cell coloured by the store most of them are assigned to (Catchments page).

    ``assigned`` is in the row order of ``customers`` (`geo.catchments.assign`).

    Returns
    -------
    DataFrame
        ``h``, ``n`` (customers), ``reachable``, ``store_id`` (the store most
        of the cell's customers go to, empty when none is reachable), ``share``
        (its share of the cell, 0-1), ``c`` (its colour, dark when none), ``tooltip``.
    """
    cells, index, res = grid(customers["lat"].to_numpy(float), customers["lon"].to_numpy(float),
                             max_cells=max_cells)
    k = len(cells)
    n = np.bincount(index, minlength=k)
    store = assigned["store_id"].astype("category")
    codes = store.cat.codes.to_numpy(np.int64)
    names = np.asarray(store.cat.categories.astype(str), dtype=object)
    top, top_n = _dominant(index, codes, k)
    reach = np.bincount(index, weights=codes >= 0, minlength=k).astype(np.int64)
    sid = np.where(top >= 0, names[np.maximum(top, 0)] if len(names) else "", "")
    share = np.where(n > 0, top_n / np.maximum(n, 1), 0.0)
    colours = [palette.get(s, OTHER_COLOUR) if s else UNREACHABLE_COLOUR for s in sid]
    out = pd.DataFrame({
        "h": cell_hex(cells), "n": n, "reachable": reach, "store_id": sid, "share": share.round(3),
        "c": _with_alpha(colours, _alpha(n)),
        "tooltip": [f"<b>{plural(int(a), 'customer')}</b><br>" +
                    (f"most go to {s} ({p:.0%})" if s else "none reaches a store") +
                    (f"<br>{int(a - r):,} unreachable" if a > r else "")
                    for a, r, s, p in zip(n, reach, sid, share, strict=True)],
    })
    out.attrs["resolution"] = res
    return out


def kind_cells(customers: pd.DataFrame, kinds: dict[str, np.ndarray], *,
               max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """Radius versus travel time per cell: customers of each kind, coloured by the cell's most frequent kind.

    ``kinds`` holds boolean masks ``both``, ``radius_only``, ``time_only`` in
    the customers' row order (`geo.catchments.compare.classify`); customers in
    none of them are left out, as on the point map.

    Returns
    -------
    DataFrame
        ``h``, ``n`` (customers of any kind), one count column per kind,
        ``kind`` (the most frequent; ties: the earlier of `COMPARE_COLOURS`),
        ``c`` (its colour) and ``tooltip``; ``attrs["resolution"]``.
    """
    names = list(COMPARE_COLOURS)
    code = np.full(len(customers), -1, dtype=np.int64)
    for i, kind in reversed(list(enumerate(names))):
        code[np.asarray(kinds[kind], dtype=bool)] = i
    rows = np.flatnonzero(code >= 0)
    cells, index, res = grid(customers["lat"].to_numpy(float)[rows], customers["lon"].to_numpy(float)[rows],
                             max_cells=max_cells)
    k = len(cells)
    per_kind = {kind: np.bincount(index[code[rows] == i], minlength=k) for i, kind in enumerate(names)}
    n = np.bincount(index, minlength=k)
    top, _ = _dominant(index, code[rows], k)
    top_kind = [names[t] for t in np.maximum(top, 0)]
    out = pd.DataFrame({"h": cell_hex(cells), "n": n, **per_kind, "kind": top_kind,
                        "c": _with_alpha([COMPARE_COLOURS[t] for t in top_kind], _alpha(n))})
    out["tooltip"] = [f"<b>{plural(int(a), 'customer')}</b><br>" + "<br>".join(
        f"{int(per_kind[kind][i]):,} {COMPARE_LABELS[kind]}" for kind in names if per_kind[kind][i])
        for i, a in enumerate(n)]
    out.attrs["resolution"] = res
    return out


def cells_json(cells: pd.DataFrame) -> bytes:
    """Compact JSON records of a cells frame (the columns a layer reads), for serving by URL."""
    keep = [c for c in ("h", "n", "c", "cc", "sc", "tooltip") if c in cells]
    rows = cells[keep].to_dict(orient="records")
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False, default=int).encode("utf-8")


def cells_layer(url: str, *, layer_id: str = "customers", colour: str = "c") -> pdk.Layer:
    """An ``H3HexagonLayer`` drawing the cells served at ``url``, filled with the ``colour`` field."""
    return pdk.Layer("H3HexagonLayer", id=layer_id, data=url, get_hexagon="h", get_fill_color=colour,
                     filled=True, stroked=False, extruded=False, pickable=True, opacity=0.8,
                     update_triggers={"getFillColor": colour})


def aggregated(n_customers: int, threshold: int | None = None) -> bool:
    """Whether ``n_customers`` are drawn as cells rather than points.

    True at or above ``threshold`` (default: `AGGREGATE_FROM`, read at each call).
    """
    return int(n_customers) >= int(AGGREGATE_FROM if threshold is None else threshold)
