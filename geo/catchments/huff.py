"""Store choice by the Huff model: the chance each customer visits each store, and its calibration.

The model
    P(customer i visits store j) = A_j^α · t_ij^(−β) / Σ_k A_k^α · t_ik^(−β),
    the sum running over the stores of the customer's **choice set**: the stores
    within the longest band (``max_cost``) of the customer. ``t`` is the travel
    time in minutes of the chosen mode (customer to store, off-network leg
    included, as `geo.catchments.assign` measures it); in radius mode it is the
    great-circle distance in km. ``A_j`` is the store's attractiveness (the
    optional ``attractiveness`` column of the stores table, floor area for
    example; 1 for every store when the column is absent). Costs below
    `MIN_COST` (a customer next door) are raised to it, so ``t^(−β)`` stays finite.

Defaults
    Without observed choices the literature default β = 2, α = 1 is used
    (Huff 1963, 1964: distance-decay exponents of 1.5 to 3, 2 the usual
    default), and pages say so (`DEFAULT_NOTE`).

Calibration
    `calibrate` fits α and β by maximum likelihood of the multinomial logit with
    utilities ``α · log A_j − β · log t_ij`` (the multiplicative competitive
    interaction model, Nakanishi and Cooper 1974): Newton's method on the exact
    gradient and Hessian (`scipy.optimize.minimize`, ``trust-exact``). Standard
    errors come from the inverse of the observed information (the negative
    Hessian of the log-likelihood at the estimate); McFadden's pseudo-R² is
    ``1 − LL(θ̂) / LL(0)``, where LL(0) gives every store in a choice set the same
    chance. When all stores are equally attractive α is not identified: it is
    kept at 1 and only β is fitted.

Memory
    Choice sets are stored as a ragged array (CSR layout: ``indptr``, ``store``,
    ``cost``), one entry per customer and store **within reach**, never a
    customers x stores matrix. Store times are read per node once from the
    sparse rows of `StoreTimes.reached` (never the dense ``stores x nodes``
    array); customers only index them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from geo.catchments.assign import EARTH_RADIUS_KM, routed_snap
from geo.errors import GeoError, NetworkError
from geo.network.routing import Router, Snap
from geo.network.stores import StoreTimes

DEFAULT_ALPHA = 1.0
DEFAULT_BETA = 2.0
DEFAULT_NOTE = ("No observed store choices: the literature default β = 2 (distance decay), α = 1 "
                "(attractiveness) is used, not a fit to your customers.")
CONTESTED_BELOW = 0.6
"""A customer is *contested* when no store has a probability of at least this."""
MIN_COST = {"min": 0.5, "km": 0.05}
"""Smallest travel cost used in ``t^(−β)``: 0.5 minutes, or 0.05 km in radius mode."""
ATTRACTIVENESS = "attractiveness"


@dataclass
class ChoiceSets:
    """Every customer's stores within reach, as a ragged array.

    Attributes
    ----------
    store_ids
        Ids of the stores (sorted ascending); ``store`` indexes them.
    attractiveness
        ``A_j`` per store (positive; 1 when the table has no attractiveness).
    indptr
        ``(n_customers + 1,)``: customer ``i``'s entries are ``indptr[i]:indptr[i+1]``.
    store
        Store index of each entry.
    cost
        Travel minutes (km in radius mode) of each entry, at least `MIN_COST`.
    unit
        ``"min"`` or ``"km"``.
    max_cost
        The longest band: stores beyond it are not in a choice set.
    """

    store_ids: np.ndarray
    attractiveness: np.ndarray
    indptr: np.ndarray
    store: np.ndarray
    cost: np.ndarray
    unit: str
    max_cost: float

    @property
    def n_customers(self) -> int:
        """Number of customers (with or without a store within reach)."""
        return len(self.indptr) - 1

    @property
    def sizes(self) -> np.ndarray:
        """Number of stores within reach of each customer."""
        sizes: np.ndarray = np.diff(self.indptr)
        return sizes

    @property
    def row(self) -> np.ndarray:
        """Customer index of each entry."""
        return np.repeat(np.arange(self.n_customers), self.sizes)

    def select(self, customers: np.ndarray) -> ChoiceSets:
        """The choice sets of the customers at positions ``customers`` (in that order)."""
        customers = np.asarray(customers, dtype=np.int64)
        starts, sizes = self.indptr[customers], self.sizes[customers]
        indptr = np.concatenate([[0], np.cumsum(sizes)])
        take = np.repeat(starts - indptr[:-1], sizes) + np.arange(indptr[-1])
        return ChoiceSets(self.store_ids, self.attractiveness, indptr, self.store[take], self.cost[take],
                          self.unit, self.max_cost)


@dataclass(frozen=True)
class HuffFit:
    """Estimated (or default) Huff parameters.

    Attributes
    ----------
    alpha, beta
        Attractiveness and distance-decay exponents.
    se_alpha, se_beta
        Standard errors (NaN when not estimated).
    n
        Observed choices used.
    loglik, loglik0
        Log-likelihood at the estimate and with equal shares (NaN for defaults).
    pseudo_r2
        McFadden's ``1 − loglik / loglik0`` (NaN for defaults).
    estimated
        False when these are the literature defaults.
    alpha_fitted
        False when α was held at 1 (stores equally attractive, or defaults).
    dropped
        Choices left out, by reason (``unknown_customer``, ``unknown_store``,
        ``store_out_of_reach``).
    """

    alpha: float
    beta: float
    se_alpha: float = float("nan")
    se_beta: float = float("nan")
    n: int = 0
    loglik: float = float("nan")
    loglik0: float = float("nan")
    pseudo_r2: float = float("nan")
    estimated: bool = False
    alpha_fitted: bool = False
    dropped: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The fit as the ``geo huff --json`` summary."""
        return {"alpha": self.alpha, "beta": self.beta, "se_alpha": self.se_alpha, "se_beta": self.se_beta,
                "n": self.n, "loglik": self.loglik, "loglik0": self.loglik0, "pseudo_r2": self.pseudo_r2,
                "estimated": self.estimated, "alpha_fitted": self.alpha_fitted, "dropped": dict(self.dropped)}

    def describe(self) -> str:
        """One sentence for a page: the parameters and where they come from."""
        if not self.estimated:
            return DEFAULT_NOTE
        alpha = (f"α = {self.alpha:.2f} ± {self.se_alpha:.2f}" if self.alpha_fitted
                 else "α = 1 (stores equally attractive)")
        return (f"Fitted on {self.n:,} observed choices: β = {self.beta:.2f} ± {self.se_beta:.2f}, {alpha}, "
                f"McFadden pseudo-R² {self.pseudo_r2:.2f}.")


DEFAULT_FIT = HuffFit(alpha=DEFAULT_ALPHA, beta=DEFAULT_BETA)


def store_attractiveness(stores: pd.DataFrame, store_ids: np.ndarray) -> np.ndarray:
    """``A_j`` for ``store_ids`` from the stores' ``attractiveness`` column (1 when absent).

    Raises `GeoError` naming the stores whose value is not a positive number.
    Blank cells count as 1.
    """
    if ATTRACTIVENESS not in stores.columns:
        return np.ones(len(store_ids))
    raw = stores.set_index(stores["store_id"].astype(str))[ATTRACTIVENESS]
    raw = raw[~raw.index.duplicated()]
    blank = raw.isna() | (raw.astype("string").str.strip() == "")
    values = pd.to_numeric(raw.where(~blank, 1.0), errors="coerce")
    bad = values.index[~(np.isfinite(values.to_numpy(float, na_value=np.nan)) & (values > 0))]
    if len(bad):
        shown = ", ".join(f"{s} ({raw[s]!r})" for s in bad[:10])
        raise GeoError(f"stores: column '{ATTRACTIVENESS}' must hold positive numbers (floor area, for "
                       f"example); check {shown}")
    out: np.ndarray = values.reindex(pd.Index(store_ids).astype(str)).fillna(1.0).to_numpy(float)
    return out


def _node_pairs(times: StoreTimes, limit_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per graph node, the stores within ``limit_s`` seconds: CSR ``(node_ptr, store, seconds)``.

    Reads the sparse rows of `StoreTimes.reached` (one entry per store and
    reached node), never the dense ``stores x nodes`` array: memory is
    proportional to the summed catchment sizes. Stores of a node are in
    ascending index order.
    """
    reached = times.reached
    store = np.repeat(np.arange(reached.n_stores, dtype=np.int32), np.diff(reached.indptr))
    keep = reached.seconds <= limit_s
    s, n, v = store[keep], reached.nodes[keep], reached.seconds[keep]
    order = np.argsort(n, kind="stable")  # rows are in store order: stable by node gives (node, store)
    s, n, v = s[order], n[order], v[order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(n, minlength=reached.n_nodes))])
    return ptr, s, v


def network_choice_sets(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, *, max_minutes: float,
                        traffic: float = 1.0, times: StoreTimes | None = None,
                        snap: Snap | None = None) -> ChoiceSets:
    """Choice sets by travel time: the stores within ``max_minutes`` of each customer.

    Parameters
    ----------
    router
        `Router` of the travel mode.
    stores
        ``store_id, lat, lon`` (EPSG:4326), optional ``attractiveness``.
    customers
        ``customer_id, lat, lon`` (EPSG:4326).
    max_minutes
        The longest band, minutes (the off-network leg included).
    traffic
        Drive speed factor (1.0 = free flow).
    times, snap
        `Router.store_times` (searched at least ``max_minutes``) and
        `geo.catchments.assign.snap_customers` results to reuse.
    """
    if not max_minutes > 0:
        raise NetworkError(f"the longest band must be a positive number of minutes, got {max_minutes}")
    if times is None:
        times = router.store_times(stores, traffic=traffic, limit_min=max_minutes)
    snap = routed_snap(router, times, snap, customers)
    limit_s = float(max_minutes) * 60.0
    node_ptr, node_store, node_sec = _node_pairs(times, limit_s)
    node = np.maximum(snap.node, 0)
    count = np.where(snap.ok, node_ptr[node + 1] - node_ptr[node], 0)
    start = node_ptr[node]
    indptr = np.concatenate([[0], np.cumsum(count)])
    take = np.repeat(start - indptr[:-1], count) + np.arange(indptr[-1])
    row = np.repeat(np.arange(len(count)), count)
    cost_s = node_sec[take] + snap.access_s[row]
    store = node_store[take]
    keep = cost_s <= limit_s  # the access leg may push a store beyond the band
    if not keep.all():
        kept = np.bincount(row[keep], minlength=len(count))
        indptr = np.concatenate([[0], np.cumsum(kept)])
        store, cost_s = store[keep], cost_s[keep]
    return ChoiceSets(times.store_ids, store_attractiveness(stores, times.store_ids), indptr.astype(np.int64),
                      store, np.maximum(cost_s / 60.0, MIN_COST["min"]), "min", float(max_minutes))


def _unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    p, q = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)])


def radius_choice_sets(stores: pd.DataFrame, customers: pd.DataFrame, *, max_km: float) -> ChoiceSets:
    """Choice sets by great-circle distance: the stores within ``max_km`` kilometres of each customer."""
    if not max_km > 0:
        raise GeoError(f"the radius must be a positive number of km, got {max_km}")
    st = stores.iloc[np.argsort(stores["store_id"].astype(str).to_numpy(), kind="stable")]
    ids = st["store_id"].astype(str).to_numpy()
    lat, lon = customers["lat"].to_numpy(float), customers["lon"].to_numpy(float)
    ok = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    chord = 2 * np.sin(min(float(max_km) / EARTH_RADIUS_KM, np.pi) / 2)
    store_tree = cKDTree(_unit_xyz(st["lat"].to_numpy(float), st["lon"].to_numpy(float)))
    cust_tree = cKDTree(_unit_xyz(lat[ok], lon[ok]))
    m = cust_tree.sparse_distance_matrix(store_tree, chord * 1.000001, output_type="coo_matrix")
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(m.data / 2, 0, 1))
    row, store = ok[m.row], m.col
    keep = km <= max_km
    row, store, km = row[keep], store[keep], km[keep]
    order = np.lexsort((store, row))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=len(customers)))])
    return ChoiceSets(ids, store_attractiveness(stores, ids), indptr.astype(np.int64),
                      store[order].astype(np.int32), np.maximum(km[order], MIN_COST["km"]), "km", float(max_km))


def _segment_softmax(u: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Softmax of ``u`` within each segment of ``indptr`` (empty segments allowed)."""
    p = np.empty_like(u)
    if u.size == 0:
        return p
    sizes = np.diff(indptr)
    starts = indptr[:-1][sizes > 0]
    seg = np.repeat(np.arange(len(starts)), sizes[sizes > 0])
    top = np.maximum.reduceat(u, starts)
    np.exp(u - top[seg], out=p)
    total = np.add.reduceat(p, starts)
    p /= total[seg]
    return p


def utilities(sets: ChoiceSets, alpha: float, beta: float) -> np.ndarray:
    """``α · log A_j − β · log t_ij`` per entry of the choice sets."""
    u: np.ndarray = alpha * np.log(sets.attractiveness)[sets.store] - beta * np.log(sets.cost)
    return u


def probabilities(sets: ChoiceSets, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA) -> np.ndarray:
    """Huff probability of each entry of the choice sets (they sum to 1 per customer with a store in reach).

    ``beta`` may be very large: utilities are shifted by their maximum per
    customer, so β → ∞ puts probability 1 on the nearest store (shared equally
    between stores at exactly the same cost).
    """
    if not (np.isfinite(alpha) and np.isfinite(beta) and beta >= 0):
        raise GeoError(f"Huff parameters must be finite with β ≥ 0, got α = {alpha}, β = {beta}")
    return _segment_softmax(utilities(sets, alpha, beta), sets.indptr)


def expected_visitors(sets: ChoiceSets, p: np.ndarray) -> pd.Series:
    """Expected visitors per store, ``Σ_i P_ij`` (every store listed, zero when none), indexed by store id."""
    total = np.bincount(sets.store, weights=p, minlength=len(sets.store_ids))
    return pd.Series(total, index=pd.Index(sets.store_ids, name="store_id"), name="expected_visitors")


def customer_summary(sets: ChoiceSets, p: np.ndarray, customer_id: pd.Series | None = None) -> pd.DataFrame:
    """Per customer: most likely store, its probability, number of stores in reach and whether contested.

    Returns
    -------
    DataFrame
        ``huff_store_id`` (NA without a store in reach), ``huff_p`` (NaN then),
        ``stores_in_reach`` and ``contested`` (a store in reach but none with
        probability ≥ `CONTESTED_BELOW`), one row per customer in input order;
        ``customer_id`` first when given.
    """
    n = sets.n_customers
    sizes = sets.sizes
    has = sizes > 0
    best_p = np.full(n, np.nan)
    best = np.full(n, -1, dtype=np.int64)
    if p.size:
        starts = sets.indptr[:-1][has]
        top = np.maximum.reduceat(p, starts)
        best_p[has] = top
        seg = np.repeat(np.arange(len(starts)), sizes[has])
        hit = np.flatnonzero(p == top[seg])
        first = np.unique(seg[hit], return_index=True)[1]
        best[has] = sets.store[hit[first]]
    cats = pd.Index(sets.store_ids.astype(str), dtype=object)
    out = pd.DataFrame({"huff_store_id": pd.Categorical.from_codes(best, categories=cats),
                        "huff_p": best_p, "stores_in_reach": sizes,
                        "contested": has & (np.nan_to_num(best_p, nan=1.0) < CONTESTED_BELOW)})
    if customer_id is not None:
        out.insert(0, "customer_id", customer_id.to_numpy())
    return out


# -- calibration ----------------------------------------------------------------------------


def chosen_entries(sets: ChoiceSets, customer_index: np.ndarray, store_index: np.ndarray) -> np.ndarray:
    """Entry position of each (customer, store) choice in the choice sets, -1 when the store is out of reach."""
    customer_index = np.asarray(customer_index, dtype=np.int64)
    store_index = np.asarray(store_index, dtype=np.int64)
    out = np.full(len(customer_index), -1, dtype=np.int64)
    if not len(out):
        return out
    # entries are sorted by (customer, store) within each customer's segment
    key = sets.row.astype(np.int64) * (len(sets.store_ids) + 1) + sets.store
    order = np.argsort(key, kind="stable")
    want = customer_index * (len(sets.store_ids) + 1) + store_index
    pos = np.searchsorted(key[order], want)
    pos = np.minimum(pos, max(len(key) - 1, 0))
    found = (len(key) > 0) & (key[order][pos] == want) if len(key) else np.zeros(len(want), bool)
    out[found] = order[pos[found]]
    return out


def _loglik_parts(theta: np.ndarray, x: np.ndarray, offset: np.ndarray, starts: np.ndarray, seg: np.ndarray,
                  chosen: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, gradient and Hessian of the logit with utilities ``x @ theta + offset``.

    ``starts`` are the first entries of the choice sets (none empty), ``seg``
    the choice set of each entry. Utilities are shifted by their overall
    maximum (one pass, no per-set maximum); when a set's sum underflows the
    per-set shift is used instead.
    """
    u = x @ theta + offset
    shift = np.full(len(starts), float(u.max()))
    e = np.exp(u - shift[0])
    total = np.add.reduceat(e, starts)
    if not (total > 1e-280).all():  # a set far below the best one: shift each set by its own maximum
        shift = np.maximum.reduceat(u, starts)
        e = np.exp(u - shift[seg])
        total = np.add.reduceat(e, starts)
    p = e / total[seg]
    ll = float(u[chosen].sum() - (shift + np.log(total)).sum())
    k = x.shape[1]
    px = [p * x[:, j] for j in range(k)]
    xbar = np.column_stack([np.add.reduceat(px[j], starts) for j in range(k)])
    grad = x[chosen].sum(axis=0) - xbar.sum(axis=0)
    second = np.array([[float(np.dot(px[a], x[:, b])) for b in range(k)] for a in range(k)])
    hess = -(second - xbar.T @ xbar)
    return ll, grad, hess


def calibrate(sets: ChoiceSets, customer_index: np.ndarray, store_index: np.ndarray, *,
              fit_alpha: bool | None = None, start_beta: float = DEFAULT_BETA) -> HuffFit:
    """Fit α and β by maximum likelihood on observed choices (see the module notes).

    Parameters
    ----------
    sets
        The choice sets of the customers (`network_choice_sets`, `radius_choice_sets`).
    customer_index, store_index
        One observed choice each: the customer's position in ``sets`` and the
        chosen store's index into ``sets.store_ids`` (-1 for unknown ones).
    fit_alpha
        Fit α too; default: when the stores' attractiveness differs. When not
        fitted, α is held at 1.
    start_beta
        Starting value of β.

    Raises `GeoError` when no usable choice remains or every usable choice had
    a single store within reach (nothing to learn β from).
    """
    customer_index = np.asarray(customer_index, dtype=np.int64)
    store_index = np.asarray(store_index, dtype=np.int64)
    dropped = {"unknown_customer": int((customer_index < 0).sum()),
               "unknown_store": int(((customer_index >= 0) & (store_index < 0)).sum())}
    known = (customer_index >= 0) & (store_index >= 0)
    entry = np.full(len(customer_index), -1, dtype=np.int64)
    entry[known] = chosen_entries(sets, customer_index[known], store_index[known])
    dropped["store_out_of_reach"] = int((known & (entry < 0)).sum())
    use = np.flatnonzero(entry >= 0)
    if not len(use):
        raise GeoError("none of the observed choices can be used: each names an unknown customer or store, "
                       "or a store beyond the longest band of that customer")
    sub = sets.select(customer_index[use])
    chosen = sub.indptr[:-1] + (entry[use] - sets.indptr[customer_index[use]])
    if not (sub.sizes > 1).any():
        raise GeoError(f"all {len(use):,} usable choices had a single store within reach: they say nothing "
                       "about distance decay; widen the band or add choices from customers between stores")
    log_a = np.log(sets.attractiveness)[sub.store]
    if fit_alpha is None:
        fit_alpha = bool(np.ptp(log_a) > 1e-12)
    x = np.column_stack([-np.log(sub.cost), log_a] if fit_alpha else [-np.log(sub.cost)])
    offset = np.zeros(len(log_a)) if fit_alpha else DEFAULT_ALPHA * log_a

    starts = sub.indptr[:-1]
    seg = np.repeat(np.arange(len(starts)), sub.sizes)
    memo: dict[bytes, tuple[float, np.ndarray, np.ndarray]] = {}

    def parts(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        key = np.asarray(theta, dtype=float).tobytes()
        if key not in memo:  # the optimiser asks for value, gradient and Hessian at the same point
            memo.clear()
            memo[key] = _loglik_parts(np.asarray(theta, dtype=float), x, offset, starts, seg, chosen)
        return memo[key]

    theta0 = np.array([start_beta, DEFAULT_ALPHA] if fit_alpha else [start_beta], dtype=float)
    res = minimize(lambda t: -parts(t)[0], theta0, jac=lambda t: -parts(t)[1],
                   hess=lambda t: -parts(t)[2], method="trust-exact")
    theta = np.asarray(res.x, dtype=float)
    ll, _, hess = parts(theta)
    try:
        se = np.sqrt(np.maximum(np.diag(np.linalg.inv(-hess)), 0.0))
    except np.linalg.LinAlgError:
        se = np.full(len(theta), np.nan)
    ll0 = float(-np.log(sub.sizes).sum())
    return HuffFit(alpha=float(theta[1]) if fit_alpha else DEFAULT_ALPHA, beta=float(theta[0]),
                   se_alpha=float(se[1]) if fit_alpha else float("nan"), se_beta=float(se[0]),
                   n=int(len(use)), loglik=ll, loglik0=ll0,
                   pseudo_r2=float(1 - ll / ll0) if ll0 < 0 else float("nan"), estimated=True,
                   alpha_fitted=bool(fit_alpha), dropped=tuple(dropped.items()))


def choice_indices(choices: pd.DataFrame, customer_id: pd.Series, store_ids: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the choices' ``customer_id`` among ``customer_id`` and of ``store_id`` among ``store_ids``.

    Ids are compared as trimmed text; -1 where not found. Raises `GeoError`
    when the choices table lacks a column.
    """
    missing = [c for c in ("customer_id", "store_id") if c not in choices.columns]
    if missing:
        raise GeoError(f"choices: missing column(s) {', '.join(missing)}; expected customer_id, store_id "
                       "(which store each past customer used)")
    cust = pd.Index(customer_id.astype(str).str.strip())
    first = pd.Series(np.arange(len(cust)), index=cust)
    first = first[~first.index.duplicated()]
    ci = first.reindex(choices["customer_id"].astype(str).str.strip()).fillna(-1).to_numpy()
    si = pd.Index(pd.Series(store_ids).astype(str)).get_indexer(choices["store_id"].astype(str).str.strip())
    return np.asarray(ci, dtype=np.int64), np.asarray(si, dtype=np.int64)


def simulate_choices(sets: ChoiceSets, alpha: float, beta: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Draw one store per customer with a store in reach from the Huff probabilities.

    Returns ``(customer_index, store_index)``; used by the tests and the benchmark.
    """
    p = probabilities(sets, alpha, beta)
    has = np.flatnonzero(sets.sizes > 0)
    cum = np.cumsum(p)
    start = sets.indptr[has]
    base = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    u = base + rng.random(len(has)) * (cum[sets.indptr[has + 1] - 1] - base)
    pick = np.searchsorted(cum, u, side="right")
    pick = np.clip(pick, start, sets.indptr[has + 1] - 1)
    return has, sets.store[pick].astype(np.int64)


CANDIDATE_ID = "candidate"


def visitors_taken(router: Router, stores: pd.DataFrame, customers: pd.DataFrame, lat: float, lon: float, *,
                   max_minutes: float, traffic: float = 1.0, alpha: float = DEFAULT_ALPHA,
                   beta: float = DEFAULT_BETA, attractiveness: float = 1.0) -> pd.DataFrame:
    """Expected visitors a candidate store at (``lat``, ``lon``) would take from each existing store (Huff).

    Returns
    -------
    DataFrame
        ``store_id, before, after, taken`` per existing store (expected
        visitors without and with the candidate, and the difference), then a
        row for the candidate itself (``before`` 0, ``taken`` = what it wins).
        The candidate's ``taken`` equals the sum of the others' (visitors only
        move between stores, plus customers it brings within reach of a store
        for the first time). Raises `NetworkError` when the candidate cannot be
        placed on the network.
    """
    if CANDIDATE_ID in set(stores["store_id"].astype(str)):
        raise GeoError(f"a store is already called {CANDIDATE_ID!r}; rename it to run the what-if")
    cand = {"store_id": CANDIDATE_ID, "lat": float(lat), "lon": float(lon)}
    if ATTRACTIVENESS in stores.columns:
        cand[ATTRACTIVENESS] = attractiveness
    placed = router.place_stores(pd.DataFrame([cand]))
    if not len(placed.store_ids):
        raise NetworkError(f"the candidate store cannot be placed: {placed.unplaced['detail'].iloc[0]}")
    before_sets = network_choice_sets(router, stores, customers, max_minutes=max_minutes, traffic=traffic)
    both = pd.concat([stores, pd.DataFrame([cand])], ignore_index=True)
    after_sets = network_choice_sets(router, both, customers, max_minutes=max_minutes, traffic=traffic)
    before = expected_visitors(before_sets, probabilities(before_sets, alpha, beta))
    after = expected_visitors(after_sets, probabilities(after_sets, alpha, beta))
    ids = list(before.index) + [CANDIDATE_ID]
    b = before.reindex(ids).fillna(0.0)
    a = after.reindex(ids).fillna(0.0)
    out = pd.DataFrame({"store_id": ids, "before": b.to_numpy(), "after": a.to_numpy()})
    out["taken"] = out["before"] - out["after"]
    out.loc[out["store_id"] == CANDIDATE_ID, "taken"] = float(a[CANDIDATE_ID])
    return out
