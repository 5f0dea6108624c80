"""Summarise catchments per store: customers and opted-in customers per band, and who is unreachable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.data.consent import contactable
from geo.modes import Mode


def band_label(value: float, unit: str) -> str:
    """Column label of a band, e.g. ``"≤ 10 min"`` or ``"≤ 1.5 km"``."""
    return f"≤ {value:g} {unit}"


def band_table(assigned: pd.DataFrame, customers: pd.DataFrame, stores: pd.DataFrame,
               bands: list[float], *, by: str = "travel_min") -> pd.DataFrame:
    """Customers each store holds within each band, overlaps resolved to the nearest store.

    Parameters
    ----------
    assigned
        Output of `geo.catchments.assign.assign_customers` (``by="travel_min"``, bands in
        minutes) or `geo.catchments.assign.radius_assign` (``by="crow_km"``, bands in km),
        in the same row order as ``customers``.
    customers
        The customers table (for consent).
    stores
        ``store_id, name`` of the stores to list (every one gets a row, even with 0).
    bands
        Band limits, ascending.

    Returns
    -------
    DataFrame
        One row per store: ``store_id, name``, one column per band (customers
        whose nearest store it is, within the band) and ``opted_in`` (contactable
        customers within the largest band). A last row ``"all"`` holds the totals.
    """
    unit = "min" if by == "travel_min" else "km"
    bands = sorted(float(b) for b in bands)
    store_ids = stores["store_id"].astype(str).to_numpy()
    sid = assigned["store_id"].astype("string").to_numpy(dtype=object, na_value=None)
    value = assigned[by].to_numpy(float)
    ok = assigned["reachable"].to_numpy(bool) & np.isfinite(value)
    consent = contactable(customers)
    out = pd.DataFrame({"store_id": store_ids, "name": stores["name"].astype(str).to_numpy()})
    pos = {s: i for i, s in enumerate(store_ids)}
    code = np.array([pos.get(s, -1) if s is not None else -1 for s in sid], dtype=np.int64)
    for b in bands:
        hit = ok & (value <= b + 1e-9) & (code >= 0)
        out[band_label(b, unit)] = np.bincount(code[hit], minlength=len(store_ids))
    hit = ok & (value <= bands[-1] + 1e-9) & (code >= 0) & consent
    out["opted_in"] = np.bincount(code[hit], minlength=len(store_ids))
    total = out.drop(columns=["store_id", "name"]).sum()
    out.loc[len(out)] = {"store_id": "all", "name": "all stores", **total.to_dict()}
    return out


def unreachable(assigned: pd.DataFrame) -> pd.DataFrame:
    """Customers with no store: ``customer_id, reason, snap_m`` (nothing is silently dropped)."""
    miss = assigned[~assigned["reachable"].to_numpy(bool)]
    return pd.DataFrame({"customer_id": miss["customer_id"].to_numpy(),
                         "reason": miss["unreachable_reason"].astype(str).to_numpy(),
                         "snap_m": miss["snap_m"].round(0).to_numpy()})


def unreachable_counts(assigned: pd.DataFrame) -> dict[str, int]:
    """Number of customers with no store, by reason (off_network, outside_area, no_route...)."""
    miss = unreachable(assigned)
    return {str(k): int(v) for k, v in miss["reason"].value_counts().items()}


REASON_WORDS = {
    "off_network": "more than 500 m from a road",
    "outside_area": "outside the road network's area",
    "no_route": "no road leads to a store",
    "beyond_max_minutes": "beyond the longest band",
    "beyond_radius": "beyond the largest ring",
}
"""Each reason of `geo.network.routing.REASONS` in the marketer's words."""


def unreachable_title(mode: str, limit: float) -> str:
    """The headline for customers with no store: ``"No store by road"`` or ``"Beyond 2 km"``."""
    return f"Beyond {limit:g} km" if str(mode) == Mode.RADIUS else "No store by road"


def unreachable_words(lost: dict[str, int], mode: str) -> str:
    """Customers with no store, by reason, as a sentence (see `unreachable_counts`)."""
    if not lost:
        return "Every customer has a store." if str(mode) != Mode.RADIUS else \
            "Every customer is within the largest ring of a store."
    parts = [f"{n:,} {REASON_WORDS.get(reason, reason.replace('_', ' '))}"
             for reason, n in lost.items()]
    return "; ".join(parts) + "."


def even_bands(longest: float, n: int) -> list[float]:
    """``n`` evenly spaced band limits up to ``longest`` (e.g. 15, 3 → 5, 10, 15), rounded to 0.1."""
    n = max(1, int(n))
    return [round(longest * (i + 1) / n, 1) for i in range(n)]
