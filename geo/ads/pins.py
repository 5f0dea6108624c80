"""Local ad targets: the radius pins and postal codes that stand for a travel-time catchment.

Neither Google Ads nor Meta takes a polygon: a location target is a point and
a radius (or postal codes). Per store this gives two pins:

``catchment``
    the smallest radius around the store that covers the whole catchment: the
    farthest point of its polygon (when given) and every customer assigned
    to the store within the limit;
``share``
    the smallest radius that holds ``share`` (default 90 %) of those customers,
    a tighter target with less waste outside the catchment.

Radii are great-circle kilometres (`geo.catchments.assign.haversine_km`),
rounded **up** to `STEP_KM`, so a pin always contains every customer it
claims. Postal codes come from the customers' own ``postcode``/``zip``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely

from geo.catchments.assign import haversine_km
from geo.errors import DataError

STEP_KM = 0.01
PIN_COLUMNS = ["store_id", "name", "lat", "lon", "radius_km", "pin", "customers"]
POSTCODE_COLUMNS = ["store_id", "postcode", "customers", "share"]


def _round_up(km: float) -> float:
    """``km`` rounded up to `STEP_KM` (never below it)."""
    steps = math.ceil(round(km / STEP_KM, 9))
    return round(max(steps, 1) * STEP_KM, 2)


def in_catchment(assigned: pd.DataFrame, limit: float, *, by: str = "travel_min") -> pd.DataFrame:
    """Rows of an assignment (`geo.catchments.assign`) within ``limit`` of their store.

    Parameters
    ----------
    by
        ``travel_min`` (minutes) or ``crow_km`` (radius mode, km).
    """
    value = pd.to_numeric(assigned[by], errors="coerce")
    reach = assigned["reachable"].astype("boolean").fillna(False) if "reachable" in assigned \
        else pd.Series(True, index=assigned.index)
    keep = (reach & assigned["store_id"].notna() & (value <= limit)).to_numpy(bool)
    return assigned.loc[keep]


def _polygon_reach_km(polygon: object, lat: float, lon: float) -> float:
    """Farthest vertex of a (multi)polygon in EPSG:4326 from a point, km (0 without one)."""
    if polygon is None or shapely.is_empty(polygon):
        return 0.0
    coords = shapely.get_coordinates(shapely.boundary(polygon))
    if not len(coords):
        return 0.0
    d = haversine_km(np.full(len(coords), lat), np.full(len(coords), lon), coords[:, 1], coords[:, 0])
    return float(d.max())


def covering_pins(stores: pd.DataFrame, inside: pd.DataFrame, customers: pd.DataFrame, *,
                  share: float = 0.9, polygons: dict[str, object] | None = None,
                  radius_km: float | None = None) -> pd.DataFrame:
    """Two pins per store: one covering the catchment, one holding ``share`` of its customers.

    Parameters
    ----------
    stores
        ``store_id, name, lat, lon`` (EPSG:4326).
    inside
        Assignment rows within the catchment (`in_catchment`): ``customer_id, store_id``.
    customers
        ``customer_id, lat, lon`` of those customers.
    share
        Share of the store's catchment customers the tighter pin holds, in (0, 1].
    polygons
        Store id -> catchment polygon (EPSG:4326), to cover its whole area.
    radius_km
        Radius mode: the catchment is this circle.

    Returns
    -------
    `PIN_COLUMNS`: ``pin`` is ``catchment`` or ``share_90`` (the percentage),
    ``customers`` the catchment customers within the pin.
    """
    if not 0 < share <= 1:
        raise DataError("pins", f"share must be in (0, 1], got {share}")
    pos = customers.assign(customer_id=customers["customer_id"].astype("string")) \
        .drop_duplicates("customer_id").set_index("customer_id")[["lat", "lon"]]
    rows = []
    label = f"share_{round(share * 100)}"
    for store in stores.itertuples(index=False):
        sid = str(store.store_id)
        mine = inside.loc[inside["store_id"].astype("string") == sid, "customer_id"].astype("string")
        where = pos.reindex(mine)
        dist = haversine_km(np.full(len(where), float(store.lat)), np.full(len(where), float(store.lon)),
                            where["lat"].to_numpy(float), where["lon"].to_numpy(float))
        dist = dist[np.isfinite(dist)]
        area = _polygon_reach_km((polygons or {}).get(sid), float(store.lat), float(store.lon))
        full = _round_up(max([area, radius_km or 0.0, *(dist.tolist() or [0.0])]))
        tight = _round_up(float(np.sort(dist)[max(math.ceil(share * len(dist)) - 1, 0)])) \
            if len(dist) else full
        for pin, radius in (("catchment", full), (label, tight)):
            rows.append({"store_id": sid, "name": str(store.name), "lat": float(store.lat),
                         "lon": float(store.lon), "radius_km": radius, "pin": pin,
                         "customers": int((dist <= radius).sum())})
    return pd.DataFrame(rows, columns=PIN_COLUMNS)


def _all_blank(values: pd.Series) -> bool:
    text = values.astype("string").str.strip()
    return bool((text.isna() | (text == "")).all())


def catchment_postcodes(inside: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Postal codes of each store's catchment customers, most customers first.

    Parameters
    ----------
    inside
        Assignment rows within the catchment (``customer_id, store_id``).
    customers
        ``customer_id`` and ``postcode`` (the customers table's, as imported;
        or ``zip``/``postal_code`` in a raw file): the first of them with a value.

    Returns
    -------
    `POSTCODE_COLUMNS`; ``share`` is the part of the store's catchment
    customers with that code. Empty when no customer carries a postcode.
    """
    col = next((c for c in ("postcode", "zip", "postal_code") if c in customers.columns
                and not _all_blank(customers[c])), None)
    if col is None or inside.empty:
        return pd.DataFrame(columns=POSTCODE_COLUMNS)
    codes = customers.assign(customer_id=customers["customer_id"].astype("string")) \
        .drop_duplicates("customer_id").set_index("customer_id")[col].astype("string").str.strip()
    df = pd.DataFrame({"store_id": inside["store_id"].astype("string").to_numpy(),
                       "postcode": inside["customer_id"].astype("string").map(codes).to_numpy()})
    total = df.groupby("store_id").size()
    df = df[df["postcode"].notna() & (df["postcode"] != "")]
    if df.empty:
        return pd.DataFrame(columns=POSTCODE_COLUMNS)
    out = df.groupby(["store_id", "postcode"]).size().rename("customers").reset_index()
    out["share"] = (out["customers"] / out["store_id"].map(total)).round(4)
    return out.sort_values(["store_id", "customers", "postcode"],
                           ascending=[True, False, True]).reset_index(drop=True)
