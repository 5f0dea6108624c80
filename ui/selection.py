"""The one key of the pages' cached computations: a workspace's tables, stores, network, mode, traffic."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from geo.workspace import Workspace
from ui import cache


@dataclass(frozen=True)
class Selection:
    """What a page computes on: workspace (by table versions), stores, road network, mode and traffic.

    It is hashable and small, so every cached function in ``ui`` takes it
    whole (plus what only that function needs: minutes, a candidate's
    coordinates...). The tables themselves are loaded once per version and
    shared read-only (`customers`, `stores_table`), never copied per call.
    """

    root: str
    workspace: str
    customers_version: str
    stores_version: str
    stores: tuple[str, ...] = ()
    source: str = "demo"
    mode: str = "walk"
    traffic: float = 1.0

    @classmethod
    def of(cls, ws: Workspace, *, stores: tuple[str, ...] | list[str] = (), source: str = "demo",
           mode: str = "walk", traffic: float = 1.0) -> Selection:
        """The selection of workspace ``ws`` as stored now (its current table versions)."""
        return cls(root=str(ws.root), workspace=ws.name,
                   customers_version=ws.table_version("customers"),
                   stores_version=ws.table_version("stores"),
                   stores=tuple(sorted(str(s) for s in stores)), source=str(source),
                   mode=str(mode), traffic=float(traffic) if str(mode) == "drive" else 1.0)

    def with_(self, **changes: object) -> Selection:
        """A copy with some fields changed (e.g. ``mode="walk"``)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def customers(self) -> pd.DataFrame:
        """The workspace's customers (shared, read-only)."""
        return cache.table(self.root, self.workspace, "customers", self.customers_version)

    def stores_table(self) -> pd.DataFrame:
        """Every store of the workspace (shared, read-only)."""
        return cache.table(self.root, self.workspace, "stores", self.stores_version)

    def chosen_stores(self) -> pd.DataFrame:
        """The stores on the map (`stores`), in table order."""
        return chosen_stores(self.root, self.workspace, self.stores_version, self.stores)


def chosen_stores(root: str, workspace: str, stores_version: str,
                  store_ids: tuple[str, ...]) -> pd.DataFrame:
    """The workspace's stores restricted to ``store_ids``, in table order."""
    stores = cache.table(root, workspace, "stores", stores_version)
    return stores[stores["store_id"].astype(str).isin(store_ids)].reset_index(drop=True)
