"""Assign customers to stores: nearest by travel time or crow-flies, overlaps, threshold trade areas.

Every customer belongs to at most one store: the nearest by travel time
(customer to store by default). Ties go to the lower travel seconds, then to
the lower ``store_id`` (string order). A customer is routed within the piece of
the network nearest them that holds a store (`geo.network.routing.Router.route_snap`).
Customers that cannot be snapped to the network (see `geo.network.routing`) or that
reach no store are kept, with ``reachable=False`` and an
``unreachable_reason``; nothing is dropped. Stores that cannot be placed on
the network get no customers (`geo.network.stores.StoreTimes.unplaced` lists them).

Output of `assign_customers` and `radius_assign`, one row per customer, in
input order: ``customer_id, store_id, travel_min, second_store_id,
second_travel_min, crow_km, reachable, snap_m, unreachable_reason``
(minutes, kilometres, metres; ``store_id`` is NA when unreachable). Store ids
and reasons are categoricals; times and distances are float64 with NaN for none.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.errors import NetworkError
from geo.network.routing import REASONS, Router, Snap
from geo.network.stores import StoreTimes

EARTH_RADIUS_KM = 6371.0088
ASSIGN_COLUMNS = ["customer_id", "store_id", "travel_min", "second_store_id", "second_travel_min",
                  "crow_km", "reachable", "snap_m", "unreachable_reason"]


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (EPSG:4326), vectorised."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    km: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return km


def _check_snap(times: StoreTimes, snap: Snap) -> None:
    if not np.array_equal(snap.served, times.served):
        raise ValueError("the snap was made for other stores: pass routed_snap(router, times, snap, customers)")


def _check_mode(router: Router, mode: str) -> None:
    if mode != router.mode:
        raise NetworkError(f"the router was built on a {router.mode} network but mode {mode!r} was asked; "
                           f"load the {mode} network first")


def _need(df: pd.DataFrame, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise NetworkError(f"{what} table lacks column(s) {', '.join(missing)}")


def snap_customers(router: Router, customers: pd.DataFrame, times: StoreTimes | None = None) -> Snap:
    """Snap customers (``lat``, ``lon`` in EPSG:4326) to the router's network.

    With ``times``, customers snap into the pieces holding those stores (as
    `routed_snap` does); without, into any piece (one snap to reuse for many
    store sets through `routed_snap`).
    """
    _need(customers, ("customer_id", "lat", "lon"), "customers")
    return router.snap(customers["lat"].to_numpy(float), customers["lon"].to_numpy(float),
                       served=None if times is None else times.served)


def routed_snap(router: Router, times: StoreTimes, snap: Snap | None, customers: pd.DataFrame) -> Snap:
    """The customers' snap for the stores of ``times``: ``snap`` moved into their pieces, or a new snap."""
    if snap is None:
        return snap_customers(router, customers, times)
    return router.route_snap(snap, times.served)


def customer_seconds(times: StoreTimes, snap: Snap) -> np.ndarray:
    """``(n_customers, n_stores)`` seconds from each customer to each store (node time + access leg).

    ``snap`` must be made for these stores (`routed_snap`). ``inf`` for
    unsnapped customers and unreachable pairs. Memory grows with customers x
    stores: use it for modest sets (see `assign_customers` for 1M).
    """
    _check_snap(times, snap)
    sec = np.full((len(snap.node), len(times.store_ids)), np.inf)
    ok = snap.ok
    for i in range(len(times.store_ids)):
        sec[ok, i] = times.store_seconds(i, snap.node[ok]) + snap.access_s[ok]
    return sec


def assign_customers(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, *, mode: str,
                     traffic: float = 1.0, max_minutes: float | None = None, times: StoreTimes | None = None,
                     snap: Snap | None = None) -> pd.DataFrame:
    """Assign each customer to the nearest store by travel time, with the runner-up.

    Parameters
    ----------
    router
        `Router` of the ``mode`` network.
    stores
        ``store_id, lat, lon`` (EPSG:4326).
    customers
        ``customer_id, lat, lon`` (EPSG:4326); other columns are ignored.
    mode
        ``"drive"``, ``"walk"`` or ``"bike"``; must match the router.
    traffic
        Drive speed factor (1.0 = free flow; 0.7 = 30 % slower).
    max_minutes
        Customers farther than this (minutes, including the off-network leg)
        from every store are unreachable (reason ``"beyond_max_minutes"``); the
        second store is only given within it too. None: no limit.
    times, snap
        Precomputed `Router.store_times` / `snap_customers` results to reuse
        (they must match ``stores``, ``customers`` and ``traffic``; a snap made
        without stores is moved into the stores' pieces here).

    Returns
    -------
    DataFrame
        One row per customer in input order (see the module notes for columns).
        The per-node nearest and second-nearest stores are computed once, so
        customers only index arrays.
    """
    _check_mode(router, mode)
    if times is None:
        times = router.store_times(stores, traffic=traffic, limit_min=max_minutes)
    snap = routed_snap(router, times, snap, customers)
    return assign_snapped(node_answers(times, stores), snap, customers, max_minutes=max_minutes)


@dataclass(frozen=True)
class NodeAnswers:
    """What a customer needs from the network once snapped: per node, the nearest and second store.

    Small enough to ship to every worker of a cluster (40 bytes per node): a
    partition of customers snaps, then only indexes these arrays.

    Attributes
    ----------
    store_ids
        Store ids, sorted ascending (`StoreTimes.store_ids`).
    store_lat, store_lon
        Store coordinates, EPSG:4326 degrees, in the same order.
    first, first_s, second, second_s
        Per node: index of the nearest store and its seconds, of the second
        store and its seconds (-1 and ``inf`` where none; `StoreTimes.best_two`).
    served
        Per piece: whether a store stands in it (`StoreTimes.served`).
    """

    store_ids: np.ndarray
    store_lat: np.ndarray
    store_lon: np.ndarray
    first: np.ndarray
    first_s: np.ndarray
    second: np.ndarray
    second_s: np.ndarray
    served: np.ndarray


def node_answers(times: StoreTimes, stores: pd.DataFrame) -> NodeAnswers:
    """The per-node answers of ``times`` with the coordinates of ``stores`` (``store_id, lat, lon``)."""
    s1, d1, s2, d2 = times.best_two()
    st = stores.set_index(stores["store_id"].astype(str)).loc[times.store_ids]
    return NodeAnswers(store_ids=times.store_ids, store_lat=st["lat"].to_numpy(float),
                       store_lon=st["lon"].to_numpy(float), first=s1, first_s=d1, second=s2, second_s=d2,
                       served=times.served)


def assign_snapped(answers: NodeAnswers, snap: Snap, customers: pd.DataFrame, *,
                   max_minutes: float | None = None) -> pd.DataFrame:
    """Assign snapped customers by indexing the per-node answers (the step every partition runs).

    Parameters
    ----------
    answers
        `node_answers` of the stores.
    snap
        The customers' snap for these stores (``snap.served`` equal to ``answers.served``).
    customers
        ``customer_id, lat, lon`` (EPSG:4326), in the order of ``snap``.
    max_minutes
        As in `assign_customers`.
    """
    if not np.array_equal(snap.served, answers.served):
        raise ValueError("the snap was made for other stores: snap with served=answers.served")
    node = np.maximum(snap.node, 0)
    ok = snap.ok
    t1 = np.where(ok, answers.first_s[node] + snap.access_s, np.inf)
    t2 = np.where(ok, answers.second_s[node] + snap.access_s, np.inf)
    limit = np.inf if max_minutes is None else float(max_minutes) * 60.0
    first = np.where(ok & (t1 <= limit), answers.first[node], -1)
    second = np.where(ok & (t2 <= limit), answers.second[node], -1)
    reason = snap.reason.copy()
    reason[ok & (first < 0)] = REASONS.index("no_route" if max_minutes is None else "beyond_max_minutes")
    crow = _crow_km(customers["lat"].to_numpy(float), customers["lon"].to_numpy(float), answers.store_lat,
                    answers.store_lon, first)
    return _frame(customers["customer_id"], answers.store_ids, first, t1 / 60.0, second, t2 / 60.0,
                  crow, snap.dist_m, reason)

def _crow_km(lat: np.ndarray, lon: np.ndarray, store_lat: np.ndarray, store_lon: np.ndarray,
             store: np.ndarray) -> np.ndarray:
    """Great-circle km from each customer to store index ``store`` (NaN where -1); same values as `haversine_km`.

    The store-side trigonometry is computed once per store, and large inputs
    are split across two threads (numpy releases the GIL).
    """
    crow = np.full(len(store), np.nan)
    hit = np.flatnonzero(store >= 0)
    p_store = np.radians(store_lat)
    cos_store = np.cos(p_store)

    def part(idx: np.ndarray) -> None:
        s = store[idx]
        p1, p2 = np.radians(lat[idx]), p_store[s]
        dl = np.radians(store_lon[s] - lon[idx])
        a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * cos_store[s] * np.sin(dl / 2) ** 2
        crow[idx] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))

    _in_threads(part, hit)
    return crow


def _in_threads(fn: Callable[[np.ndarray], None], idx: np.ndarray, threads: int = 2, min_size: int = 200_000) -> None:
    """Call ``fn`` on ``threads`` contiguous parts of ``idx`` at once (one call when ``idx`` is small)."""
    if len(idx) < min_size:
        fn(idx)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fn, np.array_split(idx, threads)))


def _frame(customer_id: pd.Series, store_ids: np.ndarray, first: np.ndarray, t1_min: np.ndarray,
           second: np.ndarray, t2_min: np.ndarray, crow_km: np.ndarray, snap_m: np.ndarray,
           reason: np.ndarray) -> pd.DataFrame:
    """Assemble the assignment frame; store ids and reasons are categoricals built from codes (fast at 1M rows)."""
    reachable = first >= 0
    cats = pd.Index(store_ids.astype(str), dtype=object)
    out = pd.DataFrame({
        # keep the id column's own array (no copy to Python objects; 10x faster at 1M string ids)
        "customer_id": customer_id.to_numpy() if customer_id.dtype == object else customer_id.array,
        "store_id": pd.Categorical.from_codes(first, categories=cats),
        "travel_min": np.where(reachable, t1_min, np.nan),
        "second_store_id": pd.Categorical.from_codes(second, categories=cats),
        "second_travel_min": np.where(second >= 0, t2_min, np.nan),
        "crow_km": crow_km,
        "reachable": reachable,
        "snap_m": np.where(np.isfinite(snap_m), snap_m, np.nan),
        "unreachable_reason": pd.Categorical.from_codes(np.where(reachable, 0, reason).astype(np.int8),
                                                        categories=pd.Index(REASONS, dtype=object)),
    })
    return out


def _unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    p, l = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(p) * np.cos(l), np.cos(p) * np.sin(l), np.sin(p)])


def radius_assign(stores: pd.DataFrame, customers: pd.DataFrame, km: float) -> pd.DataFrame:
    """Assign customers to the nearest store by great-circle distance within ``km`` kilometres.

    Same columns as `assign_customers`; ``travel_min`` and ``second_travel_min``
    are NA (no travel time in radius mode), ``crow_km`` is the distance to the
    assigned store. Customers farther than ``km`` from every store are
    unreachable (reason ``"beyond_radius"``). Uses a k-d tree over unit-sphere
    vectors (exact great-circle ranking).
    """
    _need(stores, ("store_id", "lat", "lon"), "stores")
    _need(customers, ("customer_id", "lat", "lon"), "customers")
    km = float(km)
    if not km > 0:
        raise NetworkError(f"radius must be a positive number of km, got {km}")
    st = stores.iloc[np.argsort(stores["store_id"].astype(str).to_numpy(), kind="stable")]
    ids = st["store_id"].astype(str).to_numpy()
    lat, lon = customers["lat"].to_numpy(float), customers["lon"].to_numpy(float)
    n = len(customers)
    k = min(2, len(st))
    first, second = np.full(n, -1), np.full(n, -1)
    d1 = np.full(n, np.inf)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.any() and k > 0:
        tree = cKDTree(_unit_xyz(st["lat"].to_numpy(float), st["lon"].to_numpy(float)))
        chord, idx = tree.query(_unit_xyz(lat[ok], lon[ok]), k=[1, 2] if k == 2 else [1], workers=-1)
        dist = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))
        d1[ok] = dist[:, 0]
        first[ok] = np.where(dist[:, 0] <= km, idx[:, 0], -1)
        if k == 2:
            second[ok] = np.where(dist[:, 1] <= km, idx[:, 1], -1)
    reason = np.where(first >= 0, 0, REASONS.index("beyond_radius")).astype(np.int8)
    nan = np.full(n, np.nan)
    crow = np.where(first >= 0, d1, np.nan)
    return _frame(customers["customer_id"], ids, first, nan, second, nan, crow, np.full(n, np.nan), reason)


def _band_membership(times: StoreTimes, snap: Snap, minutes: float) -> np.ndarray:
    """Boolean ``(n_snapped_customers, n_stores)``: customer within ``minutes`` of each store."""
    _check_snap(times, snap)
    ok = np.flatnonzero(snap.ok)
    out = np.zeros((len(ok), len(times.store_ids)), dtype=bool)
    nodes, access = snap.node[ok], snap.access_s[ok]
    for i in range(len(times.store_ids)):
        out[:, i] = times.store_seconds(i, nodes) + access <= minutes * 60.0
    return out


def overlaps(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, *, mode: str, minutes: float,
             traffic: float = 1.0, times: StoreTimes | None = None, snap: Snap | None = None) -> pd.DataFrame:
    """Count customers inside the ``minutes`` band of two stores at once, per store pair (cannibalisation).

    Returns
    -------
    DataFrame
        ``store_a, store_b, customers`` (``store_a < store_b``), pairs sharing at
        least one customer, most shared first. ``df.attrs["customers_in_two_or_more"]``
        holds the number of customers inside two or more bands.
    """
    _check_mode(router, mode)
    times = times or router.store_times(stores, traffic=traffic, limit_min=minutes)
    snap = routed_snap(router, times, snap, customers)
    member = _band_membership(times, snap, float(minutes))
    m = member.astype(np.float32)
    shared = (m.T @ m).astype(np.int64)
    a, b = np.triu_indices(len(times.store_ids), k=1)
    counts = shared[a, b]
    keep = counts > 0
    out = pd.DataFrame({"store_a": times.store_ids[a[keep]], "store_b": times.store_ids[b[keep]],
                        "customers": counts[keep]})
    out = out.sort_values(["customers", "store_a", "store_b"], ascending=[False, True, True], ignore_index=True)
    out.attrs["customers_in_two_or_more"] = int((member.sum(axis=1) >= 2).sum())
    return out


def threshold_minutes(router: Router, store: pd.Series | pd.DataFrame | dict[str, Any], customers: pd.DataFrame, n: int,
                      *, traffic: float = 1.0, snap: Snap | None = None) -> float:
    """Grow a store's band until it holds ``n`` customers; return the minutes reached.

    The band counts every customer who can reach the store within it (whatever
    other stores are nearer). Raises `NetworkError` when fewer than ``n``
    customers can reach the store at all (the message gives how many can).
    """
    row = pd.DataFrame([store]) if isinstance(store, (pd.Series, dict)) else store
    if len(row) != 1:
        raise NetworkError(f"threshold_minutes needs exactly one store, got {len(row)}")
    n = int(n)
    if n < 1:
        raise NetworkError(f"the customer threshold must be at least 1, got {n}")
    times = router.store_times(row, traffic=traffic)
    snap = routed_snap(router, times, snap, customers)
    sec = np.where(snap.ok, times.store_seconds(0, np.maximum(snap.node, 0)) + snap.access_s, np.inf)
    reachable = int(np.isfinite(sec).sum())
    if reachable < n:
        raise NetworkError(f"store {times.store_ids[0]}: only {reachable:,} of {len(sec):,} customers can reach it "
                           f"on the {router.mode} network, fewer than the {n:,} asked")
    return float(np.partition(sec, n - 1)[n - 1] / 60.0)


def band_counts(assigned: pd.DataFrame, bands: list[float], *, by: str = "travel_min") -> pd.DataFrame:
    """Count assigned customers per store and band: rows with ``by <= band``.

    Parameters
    ----------
    assigned
        Output of `assign_customers` (``by="travel_min"``, bands in minutes) or
        `radius_assign` (``by="crow_km"``, bands in km).

    Returns
    -------
    DataFrame
        ``store_id, band_min, customers`` for every store with customers in the band
        (``band_min`` holds the band value, km in radius mode).
    """
    bands = sorted(float(m) for m in bands)
    reach = assigned[assigned["reachable"]]
    value = reach[by].to_numpy(float)
    rows = []
    for band in bands:
        within = reach.loc[value <= band + 1e-9, "store_id"].value_counts()
        rows.append(pd.DataFrame({"store_id": within.index.astype(str), "band_min": band,
                                  "customers": within.to_numpy(np.int64)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["store_id", "band_min", "customers"])
