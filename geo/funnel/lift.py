"""Treatment against holdout: the redemption rates, the lift with its interval, and what it is worth.

Treatment visits are seen through their unique code or a loyalty card,
holdout visits only through a loyalty card (holdout members get no code), so
`holdout_lift` on every attributed redemption overstates the effect;
`like_for_like_lift` counts card-observed redemptions in both groups.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from geo.stats import relative_lift_ci, two_proportion_ci, wilson_interval

METHOD = "two-proportion unpooled Wald interval (Agresti 2013, 3.1.3)"
ALL_BASIS = "all attributed redemptions (unique code or loyalty card)"
LIKE_BASIS = "loyalty-card redemptions only, in both groups (like-for-like)"


def _clean(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


@dataclass(frozen=True)
class Lift:
    """The treatment group's redemption rate against the holdout's.

    Rates are fractions (0 to 1) and the lift is in rate points (0.05 = 5
    percentage points). A figure that cannot be computed (an empty group, no
    positive lift for a cost per visit) is None.

    Attributes
    ----------
    treatment_n, treatment_redeemed, treatment_rate
        Treatment customers, those who redeemed, and the rate.
    holdout_n, holdout_redeemed, holdout_rate
        The same for the holdout.
    lift_abs, lift_low, lift_high
        Rate difference and its interval (`geo.stats.two_proportion_ci`).
    lift_rel, lift_rel_low, lift_rel_high
        Relative lift and its interval (`geo.stats.relative_lift_ci`).
    confidence
        Level of both intervals (0.95 = 95 %).
    incremental_redemptions
        ``lift_abs`` x treatment customers.
    incremental_revenue
        Difference of revenue per member x treatment customers (currency).
    cost
        Cost per e-mail x e-mails sent (currency).
    cost_per_incremental_visit
        ``cost / incremental_redemptions`` (currency), None without a positive lift.
    basis
        What redemptions were counted (`ALL_BASIS` or `LIKE_BASIS`).
    treatment_card_share
        Like-for-like only: share of the treatment's counted redemptions seen
        through a loyalty card.
    method
        How the interval of the difference is computed.
    """

    treatment_n: int
    treatment_redeemed: int
    treatment_rate: float | None
    holdout_n: int
    holdout_redeemed: int
    holdout_rate: float | None
    lift_abs: float | None
    lift_low: float | None
    lift_high: float | None
    lift_rel: float | None
    lift_rel_low: float | None
    lift_rel_high: float | None
    confidence: float
    incremental_redemptions: float | None
    incremental_revenue: float | None
    cost: float
    cost_per_incremental_visit: float | None
    basis: str = ALL_BASIS
    treatment_card_share: float | None = None
    method: str = METHOD

    def as_dict(self) -> dict[str, Any]:
        """The figures in the command line's JSON shape (``ci`` is at ``confidence``)."""
        out = asdict(self)
        out["ci"] = [out.pop("lift_low"), out.pop("lift_high")]
        out["ci_rel"] = [out.pop("lift_rel_low"), out.pop("lift_rel_high")]
        return out


def holdout_lift(journeys: pd.DataFrame, *, cost_per_email: float = 0.0,
                 confidence: float = 0.95) -> Lift:
    """Compare the treatment group's redemption rate with the holdout's.

    Parameters
    ----------
    journeys
        Output of `geo.funnel.journeys.build_journeys`.
    cost_per_email
        Cost of one sent e-mail in the revenue's currency; the campaign cost is
        this times the number of treatment customers sent to (or targeted,
        when no send events are known).
    confidence
        Level of the intervals.
    """
    t = journeys[journeys["group"].eq("treatment").fillna(False)]
    h = journeys[journeys["group"].eq("holdout").fillna(False)]
    n1, k1, n2, k2 = len(t), int(t["redeemed"].sum()), len(h), int(h["redeemed"].sum())
    d, lo, hi = two_proportion_ci(k1, n1, k2, n2, confidence)
    rel, rlo, rhi = relative_lift_ci(k1, n1, k2, n2, confidence)
    rev1 = t["revenue"].sum() / n1 if n1 else np.nan
    rev2 = h["revenue"].sum() / n2 if n2 else np.nan
    inc = d * n1 if n1 else np.nan
    sent = int(t["sent"].sum()) or n1
    cost = float(cost_per_email) * sent
    cpv = cost / inc if (np.isfinite(inc) and inc > 0) else np.nan
    return Lift(
        treatment_n=n1, treatment_redeemed=k1, treatment_rate=_clean(k1 / n1 if n1 else np.nan),
        holdout_n=n2, holdout_redeemed=k2, holdout_rate=_clean(k2 / n2 if n2 else np.nan),
        lift_abs=_clean(d), lift_low=_clean(lo), lift_high=_clean(hi),
        lift_rel=_clean(rel), lift_rel_low=_clean(rlo), lift_rel_high=_clean(rhi),
        confidence=confidence, incremental_redemptions=_clean(inc),
        incremental_revenue=_clean((rev1 - rev2) * n1 if n1 else np.nan),
        cost=cost, cost_per_incremental_visit=_clean(cpv))


def like_for_like_lift(journeys: pd.DataFrame, attributed: pd.DataFrame, *,
                       cost_per_email: float = 0.0, confidence: float = 0.95) -> Lift:
    """`holdout_lift` counting only redemptions where the till recorded the customer, in both groups.

    Treatment visits are seen through their unique code, holdout visits only
    through a loyalty card (``customer_id`` at the till), so the plain lift
    compares "code or card" with "card only" and overstates the effect. Here
    both groups are counted on card-observed redemptions (``match ==
    "customer_id"``), which is fair when members of both groups show their card
    equally often. ``treatment_card_share`` (card-observed share of the
    treatment's counted redemptions) says how much of the treatment this sees.
    """
    seen = attributed[attributed["counted"] & attributed["match"].eq("customer_id").fillna(False)]
    keys = (["campaign_id", "recipient_id"] if "campaign_id" in journeys and "campaign_id" in seen
            else ["recipient_id"])
    per = seen.groupby(keys, dropna=True).agg(card_redemptions=("amount", "size"),
                                              card_revenue=("amount", "sum"))
    jkeys = [("customer_id" if k == "recipient_id" else k) for k in keys]
    j = journeys.merge(per, left_on=jkeys, right_index=True, how="left")
    j["redeemed"] = j["card_redemptions"].fillna(0).gt(0)
    j["revenue"] = j["card_revenue"].fillna(0.0).astype("float64")
    lift = holdout_lift(j, cost_per_email=cost_per_email, confidence=confidence)
    treat = attributed["counted"] & attributed["group"].eq("treatment").fillna(False)
    n_treat = int(treat.sum())
    n_card = int((treat & attributed["match"].eq("customer_id").fillna(False)).sum())
    return replace(lift, basis=LIKE_BASIS,
                   treatment_card_share=n_card / n_treat if n_treat else None)


def lift_table(lift: Lift) -> pd.DataFrame:
    """Treatment and holdout rates with their Wilson intervals, for the comparison chart."""
    k = np.array([lift.treatment_redeemed, lift.holdout_redeemed])
    n = np.array([lift.treatment_n, lift.holdout_n])
    low, high = wilson_interval(k, n, lift.confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    return pd.DataFrame({"group": ["treatment", "holdout"], "customers": n, "redeemed": k,
                         "rate": rate, "rate_low": low, "rate_high": high})
