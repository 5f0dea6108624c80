"""Maps of the market research: contested customers (Huff), the prospects ring and untapped cells.

Each builder takes plain frames and returns a `pydeck.Deck` with inline data;
point layers are thinned to `MAX_POINTS` (an even sample, said in the legend
by the page) so a page never ships a million points inline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydeck as pdk

from geo.views.maps import STORE_COLOUR, store_records, view_state

MAX_POINTS = 20_000
CONTESTED_COLOUR = [214, 39, 40]
SETTLED_COLOUR = [150, 150, 150]
RING_COLOUR = [255, 127, 14]
INSIDE_COLOUR = [31, 119, 180]


def thin(points: pd.DataFrame, limit: int = MAX_POINTS, seed: int = 0) -> pd.DataFrame:
    """At most ``limit`` rows of ``points``: all of them, or an even random sample (fixed seed)."""
    if len(points) <= limit:
        return points
    return points.sample(n=limit, random_state=seed).sort_index()


def _stores_layer(stores: pd.DataFrame) -> pdk.Layer:
    return pdk.Layer("ScatterplotLayer", id="stores", data=store_records(stores), get_position="position",
                     get_fill_color=STORE_COLOUR, get_line_color=[255, 255, 255], stroked=True,
                     line_width_min_pixels=2, get_radius=25, radius_min_pixels=7, pickable=True)


def _points(points: pd.DataFrame, colour: pd.Series, tooltip: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"position": [[round(float(x), 5), round(float(y), 5)]
                                      for x, y in zip(points["lon"], points["lat"], strict=True)],
                         "colour": list(colour), "tooltip": list(tooltip)})


def _deck(layers: list[pdk.Layer], lat: np.ndarray, lon: np.ndarray) -> pdk.Deck:
    return pdk.Deck(layers=layers, initial_view_state=view_state(lat, lon), map_provider=None,
                    tooltip={"html": "{tooltip}", "style": {"fontSize": "12px"}})


def contested_deck(stores: pd.DataFrame, customers: pd.DataFrame, summary: pd.DataFrame) -> pdk.Deck:
    """Customers in reach of a store: contested ones (no store at 60 % or more) in red, the others grey.

    ``summary`` is `geo.catchments.huff.customer_summary` in the customers' order.
    """
    has = (summary["stores_in_reach"] > 0).to_numpy()
    pts = customers.loc[has, ["lat", "lon"]].assign(contested=summary["contested"].to_numpy()[has],
                                                    store=summary["huff_store_id"].astype(str).to_numpy()[has],
                                                    p=summary["huff_p"].to_numpy()[has])
    pts = thin(pts)
    colour = pts["contested"].map({True: CONTESTED_COLOUR, False: SETTLED_COLOUR})
    tip = "most likely " + pts["store"] + " (" + (pts["p"] * 100).round().astype(int).astype(str) + " %)"
    layer = pdk.Layer("ScatterplotLayer", id="huff-customers", data=_points(pts, colour, tip),
                      get_position="position", get_fill_color="colour", get_radius=5, radius_min_pixels=1.5,
                      radius_max_pixels=4, opacity=0.8, pickable=True)
    lat = np.concatenate([stores["lat"].to_numpy(float), pts["lat"].to_numpy(float)])
    lon = np.concatenate([stores["lon"].to_numpy(float), pts["lon"].to_numpy(float)])
    return _deck([layer, _stores_layer(stores)], lat, lon)


def ring_deck(stores: pd.DataFrame, inside: pd.DataFrame, ring: pd.DataFrame) -> pdk.Deck:
    """Targets inside the band (blue) and the prospects ring just beyond it (orange); ``lat, lon`` frames."""
    inside, ring = thin(inside, MAX_POINTS // 2), thin(ring, MAX_POINTS // 2)
    data = pd.concat([_points(inside, pd.Series([INSIDE_COLOUR] * len(inside)),
                              pd.Series(["inside the band"] * len(inside))),
                      _points(ring, pd.Series([RING_COLOUR] * len(ring)),
                              pd.Series(["prospects ring"] * len(ring)))], ignore_index=True)
    layer = pdk.Layer("ScatterplotLayer", id="ring", data=data, get_position="position", get_fill_color="colour",
                      get_radius=5, radius_min_pixels=1.5, radius_max_pixels=4, opacity=0.8, pickable=True)
    lat = np.concatenate([stores["lat"].to_numpy(float), ring["lat"].to_numpy(float)])
    lon = np.concatenate([stores["lon"].to_numpy(float), ring["lon"].to_numpy(float)])
    return _deck([layer, _stores_layer(stores)], lat, lon)


def untapped_deck(stores: pd.DataFrame, cells: pd.DataFrame, top: int = 20) -> pdk.Deck:
    """Cells shaded by their untapped homes (`geo.targeting.untapped.untapped_cells`); the ``top`` outlined."""
    c = cells.copy()
    peak = max(float(c["untapped_homes"].max()), 1.0) if len(c) else 1.0
    shade = (c["untapped_homes"].clip(lower=0) / peak * 200).round().astype(int) if len(c) else []
    c["colour"] = [[44, 160, 44, int(a) + 30] for a in shade]
    c["line"] = [[0, 0, 0, 255] if r <= top else [0, 0, 0, 0] for r in c["rank"]]
    c["tooltip"] = ("rank " + c["rank"].astype(str) + ": " + c["homes"].round().astype(int).astype(str)
                    + " homes, " + c["customers"].astype(str) + " customers, "
                    + c["minutes_to_store"].round(1).astype(str) + " min to " + c["nearest_store"].astype(str))
    layer = pdk.Layer("H3HexagonLayer", id="untapped", data=c[["cell", "colour", "line", "tooltip"]],
                      get_hexagon="cell", get_fill_color="colour", get_line_color="line", line_width_min_pixels=2,
                      stroked=True, extruded=False, pickable=True)
    lat = np.concatenate([stores["lat"].to_numpy(float), c["lat"].to_numpy(float)])
    lon = np.concatenate([stores["lon"].to_numpy(float), c["lon"].to_numpy(float)])
    return _deck([layer, _stores_layer(stores)], lat, lon)
