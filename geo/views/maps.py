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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pydeck as pdk

from geo.data.consent import contactable

if TYPE_CHECKING:  # only for annotations: both are heavy to import and loaded by the caller anyway
    import geopandas as gpd
    import networkx as nx

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
STORE_COLOUR = [213, 33, 106]
ROAD_COLOUR = [80, 80, 95, 200]
"""Dark enough to read as roads under the customer dots at town zoom."""
DENSITY_COLOURS = ([255, 255, 178], [254, 217, 118], [254, 178, 76], [253, 141, 60], [240, 59, 32],
                   [189, 0, 38])
"""Hexagon colours from fewest to most customers (the legend shows the same ramp)."""
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


def records_json(records: Mapping[str, object]) -> bytes:
    """Column arrays → compact JSON array of objects (one per row)."""
    keys = list(records)
    cols = [records[k] for k in keys]
    rows = [dict(zip(keys, vals, strict=True)) for vals in zip(*cols, strict=True)]
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
    return records_json({
        "p": [list(t) for t in zip(lon, lat, strict=True)],
        "cc": cons.map(CONSENT_COLOURS).tolist(),
        "sc": seg.map(seg_col).tolist(),
        "tooltip": tooltip.tolist(),
    })


def one_way_each(edges: pd.DataFrame) -> pd.DataFrame:
    """Drop the reverse twin of every two-way edge (same street drawn once).

    ``edges`` is indexed by ``u, v, key`` as `osmnx.graph_to_gdfs` gives it; other frames are returned unchanged.
    """
    names = list(edges.index.names)
    if not {"u", "v"} <= set(names):
        return edges
    u = edges.index.get_level_values("u").to_numpy()
    v = edges.index.get_level_values("v").to_numpy()
    key = edges.index.get_level_values("key").to_numpy() if "key" in names else np.zeros(len(edges))
    pairs = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "k": key})
    return edges[~pairs.duplicated().to_numpy()]


def road_paths_json(edges: pd.DataFrame) -> bytes:
    """Serialise road edges (a GeoDataFrame in EPSG:4326 with ``geometry``, ``name``, ``highway``).

    A two-way street is sent once (`one_way_each`), halving the layer on drive networks.
    """
    edges = one_way_each(edges)
    coords = [np.round(np.asarray(g.coords), 5).tolist() for g in edges.geometry]

    def _text(v: object) -> str:
        if isinstance(v, list):
            return "/".join(map(str, v))
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    names = [_text(v) for v in edges.get("name", pd.Series(None, index=edges.index))]
    kinds = [_text(v) for v in edges.get("highway", pd.Series(None, index=edges.index))]
    tooltip = [f"{n or 'unnamed road'} · {k}" for n, k in zip(names, kinds, strict=True)]
    return records_json({"path": coords, "tooltip": tooltip})


def view_state(lat: np.ndarray, lon: np.ndarray, *, width_px: int = 700,
               height_px: int = 540) -> pdk.ViewState:
    """A camera that frames all the given points (kept constant so reruns never move it).

    The zoom is the largest Web-Mercator zoom at which the points' extent fits a
    ``width_px`` × ``height_px`` viewport.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)

    def merc_y(phi: np.ndarray) -> np.ndarray:
        y: np.ndarray = np.degrees(np.log(np.tan(np.pi / 4 + np.radians(phi) / 2)))
        return y

    span_x = max(float(np.ptp(lon)), 1e-4)
    span_y = max(float(np.ptp(merc_y(lat))), 1e-4)
    world_px = 512  # deck.gl's Web-Mercator world is 512 px wide at zoom 0
    zoom = min(math.log2(width_px * 360 / (world_px * span_x)),
               math.log2(height_px * 360 / (world_px * span_y)))
    return pdk.ViewState(latitude=round(float((lat.min() + lat.max()) / 2), 5),
                         longitude=round(float((lon.min() + lon.max()) / 2), 5),
                         zoom=round(max(1.0, min(18.0, zoom)), 2), pitch=0)


def store_records(stores: pd.DataFrame) -> pd.DataFrame:
    """Stores as layer data: ``position``, ``name``, ``tooltip``."""
    addr = stores["address"].fillna("").astype(str) if "address" in stores else ""
    return pd.DataFrame({
        "position": [[round(float(x), 5), round(float(y), 5)]
                     for x, y in zip(stores["lon"], stores["lat"], strict=True)],
        "store_id": stores["store_id"].astype(str),
        "name": stores["name"].astype(str),
        "tooltip": ("<b>" + stores["name"].astype(str) + "</b> (" + stores["store_id"].astype(str)
                    + ")<br>" + addr),
    })


def density_radius_m(lat: np.ndarray, lon: np.ndarray, *, cells_across: int = 60,
                     least_m: float = 60.0) -> float:
    """Hexagon radius (metres) so that about ``cells_across`` hexagons span the points' extent.

    A fixed radius vanishes at country zoom; this keeps hexagons a few pixels wide
    at the camera `view_state` frames, and never below ``least_m`` metres.
    Rounded to 10 m.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    km_y = float(np.ptp(lat)) * 111.32
    km_x = float(np.ptp(lon)) * 111.32 * math.cos(math.radians(float(np.mean(lat))))
    return float(max(least_m, round(max(km_x, km_y) * 1000 / cells_across / 2, -1)))


def density_legend(radius_m: float) -> list[tuple[str, list[int]]]:
    """Legend rows of the density layer: the colour ramp, fewest to most customers per hexagon."""
    ramp = [list(c) for c in DENSITY_COLOURS]
    return [(f"fewest customers per hexagon ({radius_m:,.0f} m)", ramp[0]),
            ("", ramp[2]), ("", ramp[4]), ("most customers per hexagon", ramp[-1])]


def spread_labels(srec: pd.DataFrame, view: pdk.ViewState, *, width_px: float = 120.0,
                  height_px: float = 24.0) -> pd.DataFrame:
    """The stores whose labels do not pile up at the initial camera (the others keep their tooltip).

    Greedy in store order: a label (a ``width_px`` × ``height_px`` box in screen
    pixels, Web-Mercator at the view's zoom) is kept when it overlaps no label
    already kept.
    """
    zoom = float(view.zoom or 0)
    scale = 512 * 2 ** zoom / 360
    x = np.array([p[0] for p in srec["position"]]) * scale
    lat = np.radians([p[1] for p in srec["position"]])
    y = np.degrees(np.log(np.tan(np.pi / 4 + lat / 2))) * scale
    kept: list[int] = []
    for i in range(len(srec)):
        if all(abs(x[i] - x[j]) >= width_px or abs(y[i] - y[j]) >= height_px for j in kept):
            kept.append(i)
    return srec.iloc[kept].reset_index(drop=True)


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
                                opacity=0.45, coverage=0.95, pickable=False,
                                color_range=[list(c) for c in DENSITY_COLOURS]))
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
        layers.append(pdk.Layer("TextLayer", id="store-labels", data=spread_labels(srec, view),
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


STORE_PALETTE = ([31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                 [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207])
UNREACHABLE_COLOUR = [20, 20, 20]


def store_palette(store_ids: list[str]) -> dict[str, list[int]]:
    """A distinct colour per store id (cycling through 10 colours, in the order given)."""
    return {str(s): list(STORE_PALETTE[i % len(STORE_PALETTE)]) for i, s in enumerate(store_ids)}


def band_alpha(rank: int, n_bands: int) -> int:
    """Fill opacity (0-255) of the ``rank``-th smallest of ``n_bands`` bands: the smallest is the most opaque."""
    return int(110 - 70 * rank / max(n_bands - 1, 1))


def catchment_legend(stores: pd.DataFrame, palette: dict[str, list[int]], bands: list[float],
                     unit: str = "min") -> tuple[list[tuple[str, list[int]]], list[tuple[str, list[int]]]]:
    """Legend rows beside a catchments map: (store name, colour) per store, and the bands by shade.

    Band shades are the store colour blended onto white at `band_alpha`, shown
    for a neutral grey, named in ``unit`` (``"≤ 5 min"``).
    """
    store_rows = [(f"{n} ({s})", palette.get(str(s), OTHER_COLOUR))
                  for s, n in zip(stores["store_id"].astype(str), stores["name"].astype(str), strict=True)]
    grey = np.array([60, 60, 60])
    band_rows = []
    for rank, b in enumerate(sorted(bands)):
        a = band_alpha(rank, len(bands)) / 255
        band_rows.append((f"≤ {b:g} {unit}", [int(v) for v in (255 * (1 - a) + grey * a).round()]))
    return store_rows, band_rows


def catchment_geojson(gdf: gpd.GeoDataFrame | None, palette: dict[str, list[int]], *, unit: str = "min",
                      tolerance_deg: float = 3e-5, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Catchment polygons as a GeoJSON FeatureCollection ready for a GeoJsonLayer.

    Bands are drawn largest first with the store's colour, more transparent the
    larger the band, so nested bands read as rings. Geometry is simplified by
    ``tolerance_deg`` (about 3 m) and rounded to 5 decimals to keep the payload small.
    ``names`` (store id → name) puts the store's name in the tooltip.
    """
    import shapely

    if gdf is None or len(gdf) == 0:
        return {"type": "FeatureCollection", "features": []}
    value_col = "band_min" if "band_min" in gdf else "band_km"
    g = gdf.sort_values(value_col, ascending=False)
    bands = sorted(g[value_col].unique())
    geoms = shapely.set_precision(g.geometry.simplify(tolerance_deg).values, 1e-5)
    features: list[dict[str, Any]] = []
    for row, geom in zip(g.itertuples(index=False), geoms, strict=True):
        rank = bands.index(getattr(row, value_col))
        alpha = band_alpha(rank, len(bands))
        colour = palette.get(str(row.store_id), OTHER_COLOUR)
        customers = getattr(row, "customers", None)
        count = "" if customers is None or pd.isna(customers) else f"<br>{int(customers):,} customers"
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                         "properties": {
                             "fill": colour + [alpha], "line": colour + [220],
                             "tooltip": (f"<b>{(names or {}).get(str(row.store_id), row.store_id)}</b>"
                                         f" ({row.store_id}) ≤ {getattr(row, value_col):g} {unit}"
                                         f"<br>{getattr(row, 'area_km2', float('nan')):.2f} km²"
                                         f"{count}")}})
    return {"type": "FeatureCollection", "features": features}


def assigned_points_json(customers: pd.DataFrame, assigned: pd.DataFrame,
                         palette: dict[str, list[int]], *, unit: str = "min") -> bytes:
    """Customers coloured by their assigned store; unreachable ones dark with their reason.

    ``assigned`` is in the same row order as ``customers`` (as `geo.catchments.assign` returns it).
    """
    sid = assigned["store_id"].astype("string")
    colour = sid.map(lambda s: palette.get(s, OTHER_COLOUR) if isinstance(s, str)
                     else UNREACHABLE_COLOUR)
    value = assigned["travel_min" if unit == "min" else "crow_km"]
    text = np.where(assigned["reachable"].to_numpy(bool),
                    "→ " + sid.fillna("").astype(str) + " in " + value.round(1).astype(str) + f" {unit}",
                    "unreachable: " + assigned["unreachable_reason"].astype(str))
    lon = customers["lon"].to_numpy(dtype=float).round(5).tolist()
    lat = customers["lat"].to_numpy(dtype=float).round(5).tolist()
    return records_json({
        "p": [list(t) for t in zip(lon, lat, strict=True)],
        "c": colour.tolist(),
        "tooltip": ("<b>" + customers["customer_id"].astype(str) + "</b><br>" + text).tolist(),
    })


def node_points_json(G: nx.MultiDiGraph) -> bytes:
    """Road-network nodes as clickable candidate sites for a what-if store."""
    xs = [round(float(d["x"]), 5) for _, d in G.nodes(data=True)]
    ys = [round(float(d["y"]), 5) for _, d in G.nodes(data=True)]
    return records_json({"p": [list(t) for t in zip(xs, ys, strict=True)], "lat": ys, "lon": xs,
                          "tooltip": ["click: put a candidate store here"] * len(xs)})


def geojson_bytes(fc: dict[str, Any]) -> bytes:
    """Compact JSON bytes of a GeoJSON object (for serving by URL)."""
    return json.dumps(fc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def catchments_deck(stores: pd.DataFrame, *, catchments: dict[str, Any] | str, points_url: str | None,
                    nodes_url: str | None, roads_url: str | None, view: pdk.ViewState,
                    palette: dict[str, list[int]], candidate: dict[str, float] | None = None,
                    candidate_catchments: dict[str, Any] | str | None = None,
                    basemap: str = "none") -> pdk.Deck:
    """The catchments page's deck: bands, customers by store, stores, candidate sites.

    Parameters
    ----------
    catchments, candidate_catchments
        GeoJSON from `catchment_geojson`, or the URL of it (`geojson_bytes` served
        statically): pydeck indents its JSON, which inflates inline polygons about 5×.
    points_url, nodes_url, roads_url
        Static JSON URLs (`assigned_points_json`, `node_points_json`, `road_paths_json`).
    candidate
        ``{"lat", "lon"}`` of a what-if store, drawn as a star-like marker.
    """
    layers = []
    if roads_url:
        layers.append(pdk.Layer("PathLayer", id="roads", data=roads_url, get_path="path",
                                get_color=ROAD_COLOUR, width_min_pixels=1, width_units="'pixels'",
                                get_width=1, pickable=False))
    layers.append(pdk.Layer("GeoJsonLayer", id="catchments", data=catchments,
                            get_fill_color="properties.fill", get_line_color="properties.line",
                            line_width_min_pixels=1, stroked=True, filled=True, pickable=True))
    if candidate_catchments:
        layers.append(pdk.Layer("GeoJsonLayer", id="candidate-catchments",
                                data=candidate_catchments, get_fill_color=[0, 0, 0, 30],
                                get_line_color=[0, 0, 0, 230], line_width_min_pixels=2,
                                stroked=True, filled=True, pickable=True))
    if points_url:
        layers.append(pdk.Layer("ScatterplotLayer", id="customers", data=points_url,
                                get_position="p", get_fill_color="c", get_radius=5,
                                radius_min_pixels=1.5, radius_max_pixels=4, opacity=0.8,
                                pickable=True))
    if nodes_url:
        layers.append(pdk.Layer("ScatterplotLayer", id="sites", data=nodes_url, get_position="p",
                                get_fill_color=[0, 0, 0, 0], get_radius=12,
                                radius_min_pixels=4, pickable=True))
    srec = store_records(stores)
    srec["colour"] = [palette.get(s, STORE_COLOUR) for s in srec["store_id"]]
    layers.append(pdk.Layer("ScatterplotLayer", id="stores", data=srec, get_position="position",
                            get_fill_color=STORE_COLOUR, get_line_color="colour", stroked=True,
                            line_width_min_pixels=3, get_radius=25, radius_min_pixels=8,
                            pickable=True))
    if candidate:
        cand = pd.DataFrame({"position": [[candidate["lon"], candidate["lat"]]],
                             "tooltip": ["<b>candidate store</b>"]})
        layers.append(pdk.Layer("ScatterplotLayer", id="candidate", data=cand,
                                get_position="position", get_fill_color=[0, 0, 0],
                                get_line_color=[255, 215, 0], stroked=True,
                                line_width_min_pixels=3, get_radius=30, radius_min_pixels=9,
                                pickable=True))
    style = BASEMAPS.get(basemap)
    kwargs = {"map_provider": None} if style is None else {"map_provider": "carto",
                                                            "map_style": style}
    return pdk.Deck(layers=layers, initial_view_state=view,
                    tooltip={"html": "{tooltip}", "style": {"fontSize": "12px"}}, **kwargs)


COMPARE_COLOURS = {"both": [44, 160, 44], "radius_only": [214, 39, 40], "time_only": [31, 119, 180]}
"""Radius versus travel time: in both (green), radius only (red: wasted mails), time only (blue: missed)."""
COMPARE_LABELS = {"both": "in both", "radius_only": "radius only (far by road: wasted mails)",
                  "time_only": "travel time only (missed by the radius)"}


def compare_legend(minutes: float, km: float) -> list[tuple[str, list[int]]]:
    """Legend rows (label, colour) of the comparison map, naming the radius and the minutes."""
    return [(f"within {km:g} km and {minutes:g} min", COMPARE_COLOURS["both"]),
            (f"within {km:g} km, beyond {minutes:g} min: a radius wastes these mails",
             COMPARE_COLOURS["radius_only"]),
            (f"within {minutes:g} min, beyond {km:g} km: a radius misses these",
             COMPARE_COLOURS["time_only"])]


def compare_points_json(customers: pd.DataFrame, kinds: Mapping[str, np.ndarray]) -> bytes:
    """Customers in either set, coloured by kind (`COMPARE_COLOURS`); customers in neither are left out.

    ``kinds`` holds boolean masks ``both``, ``radius_only``, ``time_only`` in the customers' row order.
    """
    parts = []
    for kind in COMPARE_COLOURS:
        rows = np.flatnonzero(kinds[kind])
        lon = customers["lon"].to_numpy(dtype=float)[rows].round(5)
        lat = customers["lat"].to_numpy(dtype=float)[rows].round(5)
        parts.append(pd.DataFrame({"lon": lon, "lat": lat, "kind": kind,
                                   "id": customers["customer_id"].astype(str).to_numpy()[rows]}))
    df = pd.concat(parts, ignore_index=True)
    return records_json({
        "p": [list(t) for t in zip(df["lon"].tolist(), df["lat"].tolist(), strict=True)],
        "c": [COMPARE_COLOURS[k] for k in df["kind"]],
        "tooltip": ("<b>" + df["id"] + "</b><br>" + df["kind"].map(COMPARE_LABELS)).tolist(),
    })


def compare_deck(stores: pd.DataFrame, *, km: float, points_url: str, view: pdk.ViewState,
                 catchments: dict[str, Any] | str | None = None,
                 roads_url: str | None = None) -> pdk.Deck:
    """Radius versus travel time: the catchment, the ``km`` radius circle per store, customers by kind."""
    layers = []
    if roads_url:
        layers.append(pdk.Layer("PathLayer", id="roads", data=roads_url, get_path="path",
                                get_color=ROAD_COLOUR, width_min_pixels=1, width_units="'pixels'",
                                get_width=1, pickable=False))
    if catchments:
        layers.append(pdk.Layer("GeoJsonLayer", id="catchments", data=catchments,
                                get_fill_color=[31, 119, 180, 35], get_line_color=[31, 119, 180, 200],
                                line_width_min_pixels=2, stroked=True, filled=True, pickable=False))
    layers.append(pdk.Layer("ScatterplotLayer", id="customers", data=points_url, get_position="p",
                            get_fill_color="c", get_radius=5, radius_min_pixels=1.5,
                            radius_max_pixels=4, opacity=0.8, pickable=True))
    srec = store_records(stores)
    layers.append(pdk.Layer("ScatterplotLayer", id="radius", data=srec, get_position="position",
                            get_radius=float(km) * 1000.0, radius_units="'meters'", filled=False,
                            stroked=True, get_line_color=[214, 39, 40, 230], line_width_min_pixels=2,
                            pickable=False))
    layers.append(pdk.Layer("ScatterplotLayer", id="stores", data=srec, get_position="position",
                            get_fill_color=STORE_COLOUR, get_radius=25, radius_min_pixels=7,
                            pickable=True))
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None,
                    tooltip={"html": "{tooltip}", "style": {"fontSize": "12px"}})
