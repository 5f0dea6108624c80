"""Prospects slightly further away: the ring just beyond the chosen band, and what extending to it returns.

The ring
    Between the catchment's outer limit ``T`` and ``T + Δ`` (minutes, or km in
    radius mode): the customers of the stores on the map whose travel value
    lies in ``(T, T + Δ]``, the consenting ones and the addresses a campaign
    would target, with the same audience rules as the Reach page. So every
    ring count equals reach(T + Δ) − reach(T) (`geo.targeting.reach.ReachIndex`).

Response by distance
    Past campaigns' response per travel minute (the distance decay the funnel
    shows) is summarised by a log-linear curve ``p(x) = exp(a + b · x)`` (a
    binomial fit of redeemed among sent treatment targets, with ``p ≤ 1``): it
    is defined at every minute, including just beyond the band, where the
    history is thin. The expected redemptions of the ring are
    ``(1 − holdout) · Σ p(x_i)`` over its addresses, revenue that times the
    mean revenue per redemption, and the **marginal return** of the ring is
    ``(revenue · margin − cost per e-mail · treatment − discount · redemptions) / Δ``
    per extra minute (km). With no history only counts are given, said plainly.

Suggestion
    `suggest_limit` steps the limit up one unit at a time and returns the
    largest limit up to which every step's marginal return stays at or above
    the user's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from geo.modes import Mode
from geo.targeting.forecast import campaign_history
from geo.targeting.reach import STAGES, ReachIndex
from geo.workspace import Workspace

DEFAULT_DELTA = {"min": 5.0, "km": 0.5}
"""Default ring width: 5 minutes, or 0.5 km in radius mode."""
NO_HISTORY = ("No past campaign with provider events: the ring shows counts only, no expected "
              "redemptions or return.")
PROSPECTS_TAG = "prospects"


@dataclass(frozen=True)
class DecayCurve:
    """Redemption rate by travel value, ``exp(a + b · x)`` (x in minutes, or km in radius mode).

    Attributes
    ----------
    a, b
        Intercept and slope of the log rate (``b`` < 0 when response decays).
    sent, redeemed
        Treatment targets and redemptions of the history.
    revenue_per_redemption
        Mean attributed revenue of one redemption (0 without one).
    campaigns
        The past campaigns used.
    """

    a: float
    b: float
    sent: int
    redeemed: int
    revenue_per_redemption: float
    campaigns: tuple[str, ...]

    def rate(self, x: np.ndarray) -> np.ndarray:
        """Expected redemption rate at travel values ``x`` (capped at 1)."""
        r: np.ndarray = np.minimum(np.exp(self.a + self.b * np.asarray(x, dtype=float)), 1.0)
        return r


def fit_decay(workspace: Workspace, mode: str) -> DecayCurve | None:
    """Fit the response curve on the workspace's past campaigns; None without history (see the notes)."""
    metric = Mode.parse(mode).metric_column
    parts, used = [], []
    for name in workspace.list_campaigns():
        h = campaign_history(workspace, name)
        if h is None or not h["sent"].any():
            continue
        used.append(name)
        parts.append(h[h["sent"].to_numpy(bool) & np.isfinite(h[metric].to_numpy(float))])
    if not parts:
        return None
    h = pd.concat(parts, ignore_index=True)
    x = h[metric].to_numpy(float)
    k = h["redeemed"].to_numpy(float)
    red = float(k.sum())
    rpr = float(h["revenue"].sum() / red) if red > 0 else 0.0
    if red == 0:
        return DecayCurve(a=-np.inf, b=0.0, sent=len(h), redeemed=0, revenue_per_redemption=0.0,
                          campaigns=tuple(used))
    # bin to 0.1 unit: the likelihood depends on x only through these sums
    xb = np.round(x, 1)
    uniq, inv = np.unique(xb, return_inverse=True)
    n_b = np.bincount(inv).astype(float)
    k_b = np.bincount(inv, weights=k)
    scale = max(float(np.abs(uniq).max()), 1.0)

    def nll(theta: np.ndarray) -> float:
        eta = np.minimum(theta[0] + theta[1] * uniq / scale, -1e-9)
        p = np.exp(eta)
        return float(-(k_b * eta + (n_b - k_b) * np.log1p(-p)).sum())

    start = np.array([np.log(red / len(h)), 0.0])
    res = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    a, b = float(res.x[0]), float(res.x[1]) / scale
    return DecayCurve(a=a, b=b, sent=len(h), redeemed=int(red), revenue_per_redemption=rpr,
                      campaigns=tuple(used))


def in_ring(values: np.ndarray, limit: float, delta: float) -> np.ndarray:
    """Mask of travel values in the ring ``(limit, limit + delta]``."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return (v > limit) & (v <= limit + delta)


def ring_counts(index: ReachIndex, limit: float, delta: float) -> pd.DataFrame:
    """Per store on the map: how many pass each waterfall stage inside the ring, and its addresses.

    Returns
    -------
    DataFrame
        ``store_id`` then one column per stage of `geo.targeting.reach.STAGES`
        (``in_catchment`` = customers, ``opted_in`` = consenting records, ...,
        ``one_per_email`` = addresses to target), with a ``Total`` row last.
    """
    if not delta > 0:
        raise ValueError(f"the ring's width must be positive, got {delta}")
    k = len(index.stores)
    cols = {s: np.bincount(index.stage_store[s][in_ring(index.stage_value[s], limit, delta)],
                           minlength=k)[:k] for s in STAGES[:-1]}
    cols["one_per_email"] = np.bincount(index.store_code[in_ring(index.value, limit, delta)], minlength=k)[:k]
    out = pd.DataFrame({"store_id": index.store_ids.astype(str), **cols})
    total = pd.DataFrame({"store_id": ["Total"], **{s: [int(v.sum())] for s, v in cols.items()}})
    return pd.concat([out, total], ignore_index=True)


@dataclass(frozen=True)
class RingOutcome:
    """The ring's counts and, with history, its expected outcome.

    Money in the history's currency; ``marginal_return`` per unit of the mode
    (minute or km) of ring width. NaN without history.
    """

    limit: float
    delta: float
    unit: str
    counts: pd.DataFrame
    treatment: float
    redemptions: float
    revenue: float
    cost: float
    net: float
    marginal_return: float
    has_history: bool
    message: str


def ring_outcome(index: ReachIndex, limit: float, delta: float, curve: DecayCurve | None, *,
                 holdout: float = 0.0, cost_per_email: float = 0.0, discount_value: float = 0.0,
                 margin: float = 1.0) -> RingOutcome:
    """Counts and expected outcome of the ring ``(limit, limit + delta]`` (see the module notes)."""
    unit = Mode.parse(index.mode).unit
    counts = ring_counts(index, limit, delta)
    addresses = index.value[in_ring(index.value, limit, delta)]
    treatment = (1.0 - holdout) * len(addresses)
    if curve is None:
        nan = float("nan")
        return RingOutcome(limit, delta, unit, counts, treatment, nan, nan, nan, nan, nan, False, NO_HISTORY)
    red = (1.0 - holdout) * float(curve.rate(addresses).sum()) if len(addresses) else 0.0
    revenue = red * curve.revenue_per_redemption
    cost = cost_per_email * treatment + discount_value * red
    net = revenue * margin - cost
    message = (f"Response by distance from {curve.sent:,} recipients of {len(curve.campaigns)} past "
               f"campaign(s) ({curve.redeemed:,} redemptions): rate {float(curve.rate(np.array([limit]))[0]):.1%} "
               f"at {limit:g} {unit}, {float(curve.rate(np.array([limit + delta]))[0]):.1%} at "
               f"{limit + delta:g} {unit}.")
    return RingOutcome(limit, delta, unit, counts, treatment, red, revenue, cost, net, net / delta, True, message)


def marginal_returns(index: ReachIndex, curve: DecayCurve, *, upto: float, step: float = 1.0,
                     holdout: float = 0.0, cost_per_email: float = 0.0, discount_value: float = 0.0,
                     margin: float = 1.0) -> pd.DataFrame:
    """Marginal return of each step of the limit: ``limit, addresses, redemptions, net, per_unit``.

    Row ``limit = L`` describes extending the catchment from ``L`` to ``L + step``.
    """
    limits = np.arange(0.0, float(upto), float(step))
    rows = []
    for lim in limits:
        o = ring_outcome(index, float(lim), step, curve, holdout=holdout, cost_per_email=cost_per_email,
                         discount_value=discount_value, margin=margin)
        rows.append((float(lim), int(o.counts["one_per_email"].iloc[-1]), o.redemptions, o.net,
                     o.marginal_return))
    return pd.DataFrame(rows, columns=["limit", "addresses", "redemptions", "net", "per_unit"])


def suggest_limit(table: pd.DataFrame, threshold: float) -> float | None:
    """Largest limit up to which every step's marginal return is at least ``threshold`` (None if the first is not).

    Steps with no address (nothing to gain, nothing spent) do not stop the climb.
    """
    if not len(table):
        return None
    step = float(table["limit"].iloc[1] - table["limit"].iloc[0]) if len(table) > 1 else 1.0
    reached = None
    for row in table.itertuples(index=False):
        if row.addresses and not row.per_unit >= threshold:
            break
        reached = float(row.limit) + step
    return reached


def tag_prospects(target_list: pd.DataFrame, limit: float, delta: float, mode: str) -> pd.DataFrame:
    """Mark the ring's rows of a target list built out to ``limit + delta``: a tag and a ``prospect`` flag.

    The ring keeps its own band (and so its own holdout stratum); its rows get
    the tag ``prospects:T-T+Δunit`` so a provider can address them apart.
    """
    m = Mode.parse(mode)
    ring = in_ring(target_list[m.metric_column].to_numpy(float), limit, delta)
    out = target_list.copy()
    label = f"{PROSPECTS_TAG}:{limit:g}-{limit + delta:g}{m.unit}"
    tags = out["tags"].astype("string")
    out["tags"] = tags.where(~ring, tags + "," + label)
    return out
