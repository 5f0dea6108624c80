"""Maps of the market research: contested customers (Huff), the prospects ring and untapped cells.

Each builder takes plain frames and returns a `pydeck.Deck`; point layers are
thinned to `MAX_POINTS` (an even sample, said in the legend by the page) so a
page never ships a million points. The prospects ring, drawn at every visit of
the Reach page, takes its points as a static JSON URL (`ring_points_json`):
inline, pydeck's indented JSON of its 10,000 demo points was 2.2 MB per run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydeck as pdk

from geo.views.maps import STORE_COLOUR, records_json, store_records, view_state

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


def ring_points_json(inside: pd.DataFrame, ring: pd.DataFrame) -> bytes:
    """Targets inside the band (blue) and the prospects ring beyond it (orange) as static JSON for `ring_deck`.

    Each of ``inside`` and ``ring`` (``lat, lon`` frames) is thinned to half of
    `MAX_POINTS`. Rows carry ``position`` ([lon, lat], 5 decimals), ``colour``
    and ``tooltip``: no identifier leaves the server.
    """
    inside, ring = thin(inside, MAX_POINTS // 2), thin(ring, MAX_POINTS // 2)
    both = pd.concat([inside[["lat", "lon"]], ring[["lat", "lon"]]], ignore_index=True)
    return records_json({
        "position": np.round(both[["lon", "lat"]].to_numpy(float), 5).tolist(),
        "colour": [INSIDE_COLOUR] * len(inside) + [RING_COLOUR] * len(ring),
        "tooltip": ["inside the band"] * len(inside) + ["prospects ring"] * len(ring)})


def ring_deck(stores: pd.DataFrame, ring: pd.DataFrame, points_url: str) -> pdk.Deck:
    """The prospects ring's map: the points of `ring_points_json` served at ``points_url``, and the stores.

    The camera frames the stores and the ring (``lat, lon`` frame).
    """
    layer = pdk.Layer("ScatterplotLayer", id="ring", data=points_url, get_position="position",
                      get_fill_color="colour", get_radius=5, radius_min_pixels=1.5, radius_max_pixels=4,
                      opacity=0.8, pickable=True)
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
