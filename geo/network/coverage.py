"""Check a road network against a workspace's stores and customers before it is used.

A network that covers none of the stores is refused; one that covers only some
is accepted with a warning that says how much it covers. "Covered" is what
routing will do (`geo.network.routing.Router`): a store is covered when it can be
placed on the network, a customer when it snaps to a road.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.network.routing import Router
from geo.network.stores import Placement

SAMPLE = 50_000
"""Customers checked at most (a fixed random sample of larger tables)."""


@dataclass(frozen=True)
class Coverage:
    """How much of a workspace a network covers.

    Attributes
    ----------
    stores, stores_placed
        Stores in the workspace, and how many the network can place.
    customers, customers_checked, customers_snapped
        Customers in the workspace, how many were checked (all, or a sample),
        and how many of those snap to a road.
    placement
        The stores' placement (`geo.network.stores.Placement`), with the reasons.
    """

    stores: int
    stores_placed: int
    customers: int
    customers_checked: int
    customers_snapped: int
    placement: Placement

    @property
    def store_share(self) -> float:
        """Share of the stores the network can place (0 to 1)."""
        return self.stores_placed / self.stores if self.stores else 0.0

    @property
    def customer_share(self) -> float:
        """Share of the (checked) customers that snap to a road (0 to 1)."""
        return self.customers_snapped / self.customers_checked if self.customers_checked else 0.0

    @property
    def usable(self) -> bool:
        """False when the network places no store at all (it is then refused)."""
        return self.stores_placed > 0

    @property
    def complete(self) -> bool:
        """True when every store is placed and at least 99 % of the customers snap."""
        return self.stores_placed == self.stores and self.customer_share >= 0.99

    def summary(self, network: str) -> str:
        """One sentence: what ``network`` covers, e.g. ``"covers 34 of 50 stores (68 %)…"``."""
        sample = ("" if self.customers_checked == self.customers
                  else f" (of a sample of {self.customers_checked:,})")
        return (f"{network} covers {self.stores_placed:,} of {self.stores:,} stores "
                f"({self.store_share:.0%}) and {self.customer_share:.0%} of the customers"
                f"{sample}")


def network_coverage(router: Router, stores: pd.DataFrame, customers: pd.DataFrame | None, *,
                     sample: int = SAMPLE, seed: int = 0) -> Coverage:
    """Measure how much of the stores and customers ``router``'s network covers.

    Parameters
    ----------
    router
        The network's router (any mode).
    stores
        ``store_id, lat, lon`` (EPSG:4326).
    customers
        ``lat, lon`` (EPSG:4326), or None.
    sample
        Check at most this many customers (a fixed random sample).
    seed
        Seed of the sample.
    """
    placement = router.place_stores(stores)
    n = 0 if customers is None else len(customers)
    snapped = checked = 0
    if customers is not None and n:
        rows = (np.arange(n) if n <= sample
                else np.sort(np.random.default_rng(seed).choice(n, sample, replace=False)))
        lat = customers["lat"].to_numpy(float)[rows]
        lon = customers["lon"].to_numpy(float)[rows]
        checked, snapped = len(rows), int(router.snap(lat, lon).ok.sum())
    return Coverage(stores=len(stores), stores_placed=len(placement.store_ids), customers=n,
                    customers_checked=checked, customers_snapped=snapped, placement=placement)
