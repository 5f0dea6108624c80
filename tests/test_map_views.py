"""Map helpers of issue 14: hexagon size by extent, label thinning, legends, the comparison layers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from geo.views.maps import (
    COMPARE_COLOURS,
    DENSITY_COLOURS,
    band_alpha,
    catchment_geojson,
    catchment_legend,
    compare_deck,
    compare_points_json,
    density_legend,
    density_radius_m,
    overview_deck,
    spread_labels,
    store_palette,
    store_records,
    view_state,
)
from ui.legend import legend_html


def test_hexagons_grow_with_the_extent_and_never_vanish():
    town = density_radius_m(np.array([60.16, 60.18]), np.array([24.93, 24.96]))
    country = density_radius_m(np.array([47.05, 47.27]), np.array([9.47, 9.64]))
    assert town == 60.0                       # the floor: a 2 km town keeps 60 m hexagons
    assert 150 <= country <= 250              # ~25 km across: about 60 hexagons
    spec = json.loads(overview_deck(pd.DataFrame({"store_id": ["A"], "name": ["a"], "lat": [47.1],
                                                  "lon": [9.5]}),
                                    customers_url="u", roads_url=None, view=view_state([47.1], [9.5]),
                                    hex_radius_m=country).to_json())
    density = next(layer for layer in spec["layers"] if layer["id"] == "density")
    assert density["radius"] == country
    assert density["colorRange"] == [list(c) for c in DENSITY_COLOURS]
    labels = [label for label, _ in density_legend(country)]
    assert f"({country:,.0f} m)" in labels[0] and "most" in labels[-1]


def test_store_labels_are_thinned_where_they_would_overlap():
    rng = np.random.default_rng(0)
    lat, lon = 42.5 + rng.random(50) * 0.05, 1.5 + rng.random(50) * 0.05
    stores = pd.DataFrame({"store_id": [f"S{i}" for i in range(50)], "name": "Supermercat",
                           "lat": lat, "lon": lon})
    view = view_state(lat, lon)
    kept = spread_labels(store_records(stores), view)
    assert 3 <= len(kept) < 50
    scale = 512 * 2 ** view.zoom / 360
    xy = np.array(kept["position"].tolist()) * scale
    y = np.degrees(np.log(np.tan(np.pi / 4 + np.radians(xy[:, 1] / scale) / 2))) * scale
    for i in range(len(kept)):
        for j in range(i):
            assert abs(xy[i, 0] - xy[j, 0]) >= 120 or abs(y[i] - y[j]) >= 24
    # two far-apart stores both keep their label
    two = stores.iloc[[0]].assign(lat=42.0, lon=1.0)
    two = pd.concat([two, stores.iloc[[1]].assign(lat=43.0, lon=2.0)])
    assert len(spread_labels(store_records(two), view_state(two.lat, two.lon))) == 2


def test_catchment_legend_names_stores_and_bands_in_minutes():
    stores = pd.DataFrame({"store_id": ["LI01", "LI02"], "name": ["Coop Schaan", "Denner"]})
    palette = store_palette(["LI01", "LI02"])
    store_rows, band_rows = catchment_legend(stores, palette, [5, 10, 15])
    assert store_rows == [("Coop Schaan (LI01)", palette["LI01"]), ("Denner (LI02)", palette["LI02"])]
    assert [label for label, _ in band_rows] == ["≤ 5 min", "≤ 10 min", "≤ 15 min"]
    greys = [c[0] for _, c in band_rows]
    assert greys[0] < greys[1] < greys[2]      # the smallest band is the darkest shade
    assert band_alpha(0, 3) > band_alpha(2, 3)
    html = legend_html("Stores", store_rows)
    assert "Coop Schaan (LI01)" in html and f"rgb({palette['LI01'][0]}," in html


def test_catchment_tooltip_names_the_store():
    import geopandas as gpd
    import shapely

    gdf = gpd.GeoDataFrame({"store_id": ["LI01"], "band_min": [5.0], "area_km2": [1.0],
                            "customers": [10]},
                           geometry=[shapely.box(9.5, 47.1, 9.51, 47.11)], crs=4326)
    fc = catchment_geojson(gdf, store_palette(["LI01"]), names={"LI01": "Coop Schaan"})
    assert fc["features"][0]["properties"]["tooltip"].startswith("<b>Coop Schaan</b> (LI01) ≤ 5 min")


def test_compare_layers_colour_each_kind_and_draw_the_radius_in_metres():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "lat": [1.0, 2.0, 3.0, 4.0],
                              "lon": [5.0, 6.0, 7.0, 8.0], "email": ["x@y.z"] * 4})
    kinds = {"both": np.array([True, False, False, False]),
             "radius_only": np.array([False, True, False, False]),
             "time_only": np.array([False, False, True, False])}
    rows = json.loads(compare_points_json(customers, kinds))
    assert [r["c"] for r in rows] == [COMPARE_COLOURS[k] for k in ("both", "radius_only", "time_only")]
    assert [r["p"] for r in rows] == [[5.0, 1.0], [6.0, 2.0], [7.0, 3.0]]   # "d" is in neither set
    assert "x@y.z" not in json.dumps(rows)
    stores = pd.DataFrame({"store_id": ["S"], "name": ["s"], "lat": [1.0], "lon": [5.0]})
    spec = json.loads(compare_deck(stores, km=2.5, points_url="u", view=view_state([1], [5])).to_json())
    radius = next(layer for layer in spec["layers"] if layer["id"] == "radius")
    assert radius["getRadius"] == 2500.0 and radius["radiusUnits"] == "meters"


def test_two_way_streets_are_drawn_once():
    import geopandas as gpd
    import shapely

    from geo.views.maps import road_paths_json

    line = shapely.LineString([(9.5, 47.1), (9.51, 47.1)])
    idx = pd.MultiIndex.from_tuples([(1, 2, 0), (2, 1, 0), (2, 3, 0), (1, 2, 1)], names=["u", "v", "key"])
    edges = gpd.GeoDataFrame({"name": ["A", "A", "B", "A"], "highway": "residential"},
                             geometry=[line, line.reverse(), line, line], index=idx, crs=4326)
    rows = json.loads(road_paths_json(edges))
    assert len(rows) == 3                      # 1-2 once, 2-3 (one way), and the parallel edge key 1
    assert [r["tooltip"] for r in rows] == ["A · residential", "B · residential", "A · residential"]
