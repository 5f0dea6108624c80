"""Radius versus travel time: whom a radius segment wastes mails on, and whom it misses.

For a radius ``km`` (great-circle kilometres) and a travel time ``minutes`` on the
road network, a customer is

* ``both``: within ``km`` of a store and within ``minutes`` of a store;
* ``radius_only``: within ``km`` but beyond ``minutes`` (a radius segment mails
  them although the store is far by road);
* ``time_only``: within ``minutes`` but beyond ``km`` (a radius segment misses them).

Overall counts use "any selected store" on each side; per-store counts use that
store alone. A customer who cannot be routed (see `geo.network.routing`) is never
within ``minutes``, so counts only on the radius side. Stores that cannot be placed
on the network keep their radius and have no travel-time side.

Per store, `best_radius` finds the radius whose customer set best matches the
``minutes`` catchment: the largest overlap over union (Jaccard index) of the two
sets, searched exactly over every customer's distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.catchments.assign import haversine_km, routed_snap
from geo.data.consent import address_codes, contactable
from geo.modes import Mode
from geo.network.routing import Router
from geo.network.stores import StoreTimes
from geo.text import plural

KINDS = ("both", "radius_only", "time_only")
MODE_WORDS = {"drive": "by car", "walk": "on foot", "bike": "by bike"}


@dataclass(frozen=True)
class Distances:
    """Per customer and store: great-circle kilometres and travel minutes.

    Attributes
    ----------
    store_ids
        Store ids (as text), in the order of the columns.
    km
        ``(n_customers, n_stores)`` great-circle distance in km.
    minutes
        ``(n_customers, n_stores)`` travel minutes customer to store (including the
        off-network leg); ``inf`` when unroutable or for a store off the network.
    mode
        Travel mode of ``minutes``.
    """

    store_ids: np.ndarray
    km: np.ndarray
    minutes: np.ndarray
    mode: str


def crow_km_matrix(stores: pd.DataFrame, customers: pd.DataFrame) -> np.ndarray:
    """``(n_customers, n_stores)`` great-circle km between customers and stores (EPSG:4326)."""
    lat = customers["lat"].to_numpy(float)[:, None]
    lon = customers["lon"].to_numpy(float)[:, None]
    return haversine_km(lat, lon, stores["lat"].to_numpy(float)[None, :],
                        stores["lon"].to_numpy(float)[None, :])


def travel_minutes_matrix(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, *,
                          traffic: float = 1.0, times: StoreTimes | None = None) -> np.ndarray:
    """``(n_customers, n_stores)`` travel minutes to each store of ``stores`` (in its row order).

    ``inf`` for customers that cannot be routed and for stores that cannot be placed.
    Memory grows with customers × stores (8 bytes each).
    """
    times = times or router.store_times(stores, traffic=traffic)
    snap = routed_snap(router, times, None, customers)
    out = np.full((len(customers), len(stores)), np.inf)
    col = pd.Index(times.store_ids).get_indexer(stores["store_id"].astype(str).to_numpy())
    ok = snap.ok
    node = snap.node[ok]
    for j, c in enumerate(col):
        if c >= 0:
            out[ok, j] = (times.seconds[c, node] + snap.access_s[ok]) / 60.0
    return out


def distances(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, *, mode: str,
              traffic: float = 1.0) -> Distances:
    """Great-circle km and travel minutes between every customer and store.

    Parameters
    ----------
    router
        `Router` of the ``mode`` network.
    stores
        ``store_id, lat, lon`` (EPSG:4326).
    customers
        ``customer_id, lat, lon`` (EPSG:4326).
    mode
        ``"drive"``, ``"walk"`` or ``"bike"``; must match the router.
    traffic
        Drive speed factor (1.0 = free flow).
    """
    if Mode.parse(mode).value != router.mode:
        from geo.errors import NetworkError

        raise NetworkError(f"the router was built on a {router.mode} network but mode {mode!r} was asked")
    return Distances(store_ids=stores["store_id"].astype(str).to_numpy(),
                     km=crow_km_matrix(stores, customers),
                     minutes=travel_minutes_matrix(router, stores, customers, traffic=traffic),
                     mode=router.mode)


def _kinds(in_radius: np.ndarray, in_time: np.ndarray) -> dict[str, np.ndarray]:
    return {"both": in_radius & in_time, "radius_only": in_radius & ~in_time,
            "time_only": in_time & ~in_radius}


def classify(d: Distances, km: float, minutes: float) -> dict[str, np.ndarray]:
    """Per customer (any selected store): boolean masks ``both``, ``radius_only``, ``time_only``."""
    in_radius: np.ndarray = np.asarray((d.km <= km).any(axis=1))
    in_time: np.ndarray = np.asarray((d.minutes <= minutes).any(axis=1))
    return _kinds(in_radius, in_time)


def classify_by_store(d: Distances, km: float, minutes: float) -> dict[str, np.ndarray]:
    """Per customer and store: ``(n_customers, n_stores)`` masks ``both``, ``radius_only``, ``time_only``."""
    return _kinds(d.km <= km, d.minutes <= minutes)


def _addresses(mask: np.ndarray, codes: np.ndarray, ok: np.ndarray) -> int:
    """Distinct consenting addresses among the rows of ``mask``."""
    return int(np.unique(codes[mask & ok]).size)


def best_radius(km: np.ndarray, in_time: np.ndarray) -> tuple[float, float]:
    """The radius (km) whose customer set best matches ``in_time``, and that best Jaccard index.

    Parameters
    ----------
    km
        Great-circle km from each customer to the store.
    in_time
        Whether each customer is inside the travel-time catchment.

    Returns
    -------
    (radius_km, jaccard)
        The smallest radius reaching the largest overlap / union of the two sets
        (0.0 and 0.0 when the catchment is empty). Exact: every customer's
        distance is a candidate.
    """
    n_time = int(in_time.sum())
    if n_time == 0:
        return 0.0, 0.0
    order = np.argsort(km, kind="stable")
    d = km[order]
    hits = np.cumsum(in_time[order])
    size = np.arange(1, d.size + 1)
    last = np.r_[d[1:] != d[:-1], True]      # a radius includes every tie at its distance
    jac = np.where(last, hits / (n_time + size - hits), -1.0)
    i = int(np.argmax(jac))
    return float(d[i]), float(jac[i])


def compare_counts(d: Distances, customers: pd.DataFrame, km: float, minutes: float) -> dict[str, object]:
    """Counts of radius versus travel time, overall and per store, as records and addresses.

    Parameters
    ----------
    d
        `distances` of ``customers`` to the selected stores.
    customers
        The customers (``email``, ``opted_in``, ``unsubscribed`` for the address counts).
    km
        Radius in km (great-circle).
    minutes
        Travel time in minutes.

    Returns
    -------
    dict
        ``{"overall": {kind: records}, "overall_addresses": {kind: consenting addresses},
        "by_store": {store_id: {kind: records, "best_km", "best_jaccard",
        "best_radius_only", "best_time_only", "addresses": {kind: n}}}}`` with kinds
        ``both``, ``radius_only``, ``time_only``; ``best_*`` describe the radius that
        best matches the store's ``minutes`` catchment.
    """
    has_consent_cols = {"email", "opted_in"} <= set(customers.columns)
    codes = address_codes(customers["email"]) if has_consent_cols else np.full(len(customers), -1)
    ok = contactable(customers, codes) if has_consent_cols else np.zeros(len(customers), bool)
    overall = classify(d, km, minutes)
    per = classify_by_store(d, km, minutes)
    by_store: dict[str, dict[str, object]] = {}
    for j, sid in enumerate(d.store_ids):
        in_time = d.minutes[:, j] <= minutes
        best_km, jac = best_radius(d.km[:, j], in_time)
        at_best = d.km[:, j] <= best_km if in_time.any() else np.zeros(len(in_time), bool)
        by_store[str(sid)] = {
            **{k: int(per[k][:, j].sum()) for k in KINDS},
            "best_km": round(best_km, 2), "best_jaccard": round(jac, 3),
            "best_radius_only": int((at_best & ~in_time).sum()),
            "best_time_only": int((in_time & ~at_best).sum()),
            "addresses": {k: _addresses(per[k][:, j], codes, ok) for k in KINDS},
        }
    return {"km": float(km), "minutes": float(minutes), "mode": d.mode,
            "overall": {k: int(overall[k].sum()) for k in KINDS},
            "overall_addresses": {k: _addresses(overall[k], codes, ok) for k in KINDS},
            "by_store": by_store}


def store_table(counts: dict[str, object], stores: pd.DataFrame) -> pd.DataFrame:
    """One row per store of `compare_counts`: name, the three counts, addresses and the best radius."""
    by_store = counts["by_store"]
    assert isinstance(by_store, dict)
    names = stores.set_index(stores["store_id"].astype(str))["name"] if "name" in stores.columns else None
    rows = []
    for sid, c in by_store.items():
        rows.append({"store_id": sid, "name": str(names.get(sid, sid)) if names is not None else sid,
                     "both": c["both"], "radius_only": c["radius_only"], "time_only": c["time_only"],
                     "consenting_both": c["addresses"]["both"],
                     "consenting_radius_only": c["addresses"]["radius_only"],
                     "consenting_time_only": c["addresses"]["time_only"],
                     "best_km": c["best_km"], "best_match": c["best_jaccard"],
                     "still_radius_only": c["best_radius_only"], "still_time_only": c["best_time_only"]})
    return pd.DataFrame(rows)


def sentence(name: str, counts: dict[str, int], km: float, minutes: float, mode: str) -> str:
    """A sentence a marketer can paste into a slide.

    e.g. "A 5 km radius around Coop Schaan reaches 3,120 customers; 640 of them are
    more than 15 minutes away by car, and it misses 410 who are within 15 minutes."
    """
    reached = counts["both"] + counts["radius_only"]
    how = MODE_WORDS.get(str(mode), f"by {mode}")
    return (f"A {km:g} km radius around {name} reaches {plural(reached, 'customer')}; "
            f"{counts['radius_only']:,} of them "
            f"{'is' if counts['radius_only'] == 1 else 'are'} more than {minutes:g} minutes away {how}, "
            f"and it misses {counts['time_only']:,} who "
            f"{'is' if counts['time_only'] == 1 else 'are'} within {minutes:g} minutes.")
