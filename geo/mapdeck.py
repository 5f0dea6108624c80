"""Build pydeck map specs: stores, customers, density and the road network, with legends.

Large, static layers (customer points, road lines) are serialised once to JSON
bytes (`customer_points_json`, `road_paths_json`) so the page can serve them as
static files and reference them by URL: a rerun then re-sends only the small
spec, not megabytes of points. Colours are RGB(A) lists; coordinates EPSG:4326
rounded to 5 decimals (about 1 m).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pydeck as pdk

from geo.summary import contactable

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
STORE_COLOUR = [213, 33, 106]
ROAD_COLOUR = [120, 120, 130, 140]
CONSENT_COLOURS = {
    "opted in": [38, 139, 210],
    "no consent": [160, 160, 160],
    "unsubscribed": [230, 120, 20],
}
SEGMENT_PALETTE = ([27, 158, 119], [117, 112, 179], [231, 41, 138], [102, 166, 30],
                   [230, 171, 2], [166, 118, 29], [31, 120, 180], [227, 26, 28])
OTHER_COLOUR = [102, 102, 102]
BASEMAPS = {"none": None, "light": "light", "dark": "dark", "road": "road"}
LAYER_IDS = ("roads", "density", "customers", "stores", "store-labels")


def consent_label(customers: pd.DataFrame) -> pd.Series:
    """Per customer: ``opted in``, ``unsubscribed`` or ``no consent``."""
    unsub = customers["unsubscribed"].astype("boolean").fillna(False).astype(bool)
    lab = np.where(contactable(customers), "opted in", "no consent")
    return pd.Series(np.where(unsub, "unsubscribed", lab), index=customers.index)


def segment_colours(segments: pd.Series) -> dict[str, list[int]]:
    """Assign a palette colour to each segment (most frequent first; the rest share grey)."""
    order = segments.fillna("(none)").astype(str).value_counts().index.tolist()
    return {s: (list(SEGMENT_PALETTE[i]) if i < len(SEGMENT_PALETTE) else OTHER_COLOUR)
            for i, s in enumerate(order)}


def legend(customers: pd.DataFrame, colour_by: str) -> list[tuple[str, list[int]]]:
    """Legend entries ``(label, rgb)`` for the customer layer coloured by ``consent`` or ``segment``."""
    if colour_by == "segment":
        return list(segment_colours(customers["segment"]).items())
    present = set(consent_label(customers))
    return [(k, v) for k, v in CONSENT_COLOURS.items() if k in present]


def _records_json(records: Mapping[str, object]) -> bytes:
    """Column arrays → compact JSON array of objects (one per row)."""
    keys = list(records)
    cols = [records[k] for k in keys]
    rows = [dict(zip(keys, vals)) for vals in zip(*cols)]
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def customer_points_json(customers: pd.DataFrame) -> bytes:
    """Serialise customers for the point and density layers.

    Each row carries ``p`` ([lon, lat]), ``cc`` (consent colour), ``sc`` (segment
    colour) and ``tooltip`` (HTML). Nothing else leaves the server: no e-mail.
    """
    cons = consent_label(customers)
    seg = customers["segment"].fillna("(none)").astype(str) if "segment" in customers else \
        pd.Series("(none)", index=customers.index)
    seg_col = segment_colours(seg)
    src = customers.get("location_source", pd.Series(pd.NA, index=customers.index))
    src = src.fillna("unknown").astype(str)
    lon = customers["lon"].to_numpy(dtype=float).round(5).tolist()
    lat = customers["lat"].to_numpy(dtype=float).round(5).tolist()
    tooltip = ("<b>" + customers["customer_id"].astype(str) + "</b> "
               + customers["first_name"].fillna("").astype(str) + "<br>" + cons + " · " + seg
               + "<br>located by " + src)
    return _records_json({
        "p": [list(t) for t in zip(lon, lat)],
        "cc": cons.map(CONSENT_COLOURS).tolist(),
        "sc": seg.map(seg_col).tolist(),
        "tooltip": tooltip.tolist(),
    })


def road_paths_json(edges: pd.DataFrame) -> bytes:
    """Serialise road edges (a GeoDataFrame in EPSG:4326 with ``geometry``, ``name``, ``highway``)."""
    coords = [np.round(np.asarray(g.coords), 5).tolist() for g in edges.geometry]

    def _text(v: object) -> str:
        if isinstance(v, list):
            return "/".join(map(str, v))
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    names = [_text(v) for v in edges.get("name", pd.Series(None, index=edges.index))]
    kinds = [_text(v) for v in edges.get("highway", pd.Series(None, index=edges.index))]
    tooltip = [f"{n or 'unnamed road'} · {k}" for n, k in zip(names, kinds)]
    return _records_json({"path": coords, "tooltip": tooltip})


def view_state(lat: np.ndarray, lon: np.ndarray, *, width_px: int = 700,
               height_px: int = 540) -> pdk.ViewState:
    """A camera that frames all the given points (kept constant so reruns never move it).

    The zoom is the largest Web-Mercator zoom at which the points' extent fits a
    ``width_px`` × ``height_px`` viewport.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)

    def merc_y(phi: np.ndarray) -> np.ndarray:
        return np.degrees(np.log(np.tan(np.pi / 4 + np.radians(phi) / 2)))

    span_x = max(float(np.ptp(lon)), 1e-4)
    span_y = max(float(np.ptp(merc_y(lat))), 1e-4)
    zoom = min(math.log2(width_px * 360 / (256 * span_x)),
               math.log2(height_px * 360 / (256 * span_y)))
    return pdk.ViewState(latitude=round(float((lat.min() + lat.max()) / 2), 5),
                         longitude=round(float((lon.min() + lon.max()) / 2), 5),
                         zoom=round(max(1.0, min(18.0, zoom)), 2), pitch=0)


def store_records(stores: pd.DataFrame) -> pd.DataFrame:
    """Stores as layer data: ``position``, ``name``, ``tooltip``."""
    addr = stores["address"].fillna("").astype(str) if "address" in stores else ""
    return pd.DataFrame({
        "position": [[round(float(x), 5), round(float(y), 5)]
                     for x, y in zip(stores["lon"], stores["lat"])],
        "store_id": stores["store_id"].astype(str),
        "name": stores["name"].astype(str),
        "tooltip": ("<b>" + stores["name"].astype(str) + "</b> (" + stores["store_id"].astype(str)
                    + ")<br>" + addr),
    })


def overview_deck(stores: pd.DataFrame, *, customers_url: str, roads_url: str | None,
                  view: pdk.ViewState, colour_by: str = "consent",
                  show: Mapping[str, bool] | None = None, basemap: str = "none",
                  hex_radius_m: float = 60.0) -> pdk.Deck:
    """The map page's deck: roads, customer density, customer points, stores and their names.

    Parameters
    ----------
    stores
        Stores frame (``store_id, name, lat, lon[, address]``); sent inline (small).
    customers_url, roads_url
        URLs of the JSON made by `customer_points_json` and `road_paths_json`.
    view
        Initial camera (keep it constant across reruns).
    colour_by
        ``"consent"`` or ``"segment"``.
    show
        Layer id → visible; missing ids are visible.
    basemap
        One of `BASEMAPS` (``"none"`` works offline; the others load Carto tiles).
    hex_radius_m
        Hexagon radius of the density layer, in metres.
    """
    show = dict(show or {})
    on = {lid: bool(show.get(lid, True)) for lid in LAYER_IDS}
    srec = store_records(stores)
    layers = []
    if roads_url and on["roads"]:
        layers.append(pdk.Layer("PathLayer", id="roads", data=roads_url, get_path="path",
                                get_color=ROAD_COLOUR, width_min_pixels=1, width_units="'pixels'",
                                get_width=1, pickable=True))
    if on["density"]:
        layers.append(pdk.Layer("HexagonLayer", id="density", data=customers_url,
                                get_position="p", radius=hex_radius_m, extruded=False,
                                opacity=0.35, coverage=0.95, pickable=False))
    if on["customers"]:
        layers.append(pdk.Layer("ScatterplotLayer", id="customers", data=customers_url,
                                get_position="p",
                                get_fill_color="sc" if colour_by == "segment" else "cc",
                                get_radius=5, radius_min_pixels=1.5, radius_max_pixels=4,
                                opacity=0.8, pickable=True,
                                update_triggers={"getFillColor": colour_by}))
    if on["stores"]:
        layers.append(pdk.Layer("ScatterplotLayer", id="stores", data=srec,
                                get_position="position", get_fill_color=STORE_COLOUR,
                                get_line_color=[255, 255, 255], stroked=True,
                                line_width_min_pixels=2, get_radius=25, radius_min_pixels=7,
                                pickable=True))
    if on["store-labels"]:
        layers.append(pdk.Layer("TextLayer", id="store-labels", data=srec,
                                get_position="position", get_text="name", get_size=13,
                                get_color=[30, 30, 30], get_pixel_offset=[0, -18],
                                background=True, get_background_color=[255, 255, 255, 210],
                                # quoted: pydeck would read a bare string as an accessor;
                                # "auto" makes deck.gl draw non-ASCII names (Lönnrotinkatu)
                                pickable=True, character_set="'auto'"))
    style = BASEMAPS.get(basemap)
    kwargs = {"map_provider": None} if style is None else {"map_provider": "carto",
                                                            "map_style": style}
    return pdk.Deck(layers=layers, initial_view_state=view,
                    tooltip={"html": "{tooltip}", "style": {"fontSize": "12px"}}, **kwargs)
