"""Stores on a road network: where they stand (`Placement`) and their travel times to every node (`StoreTimes`).

Both are what `geo.network.routing.Router` answers about a store table
(`Router.place_stores`, `Router.store_times`); a store that cannot be placed is
listed with its reason and named to the user by `unplaced_message`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UNPLACED_COLUMNS = ["store_id", "reason", "dist_m", "detail"]


@dataclass
class Placement:
    """Where stores stand on the network: those placed, and why each other one could not be placed.

    Attributes
    ----------
    store_ids
        Ids of the placed stores, sorted ascending.
    node
        Graph node index of each placed store.
    snap_m
        Distance in metres from each placed store to its node.
    unplaced
        One row per store that could not be placed, in id order, with
        `UNPLACED_COLUMNS`: ``store_id``, ``reason`` (``outside_area``,
        ``off_network`` or ``no_route``), ``dist_m`` (metres to the nearest road)
        and ``detail`` (the reason in words).
    mode
        The network's travel mode.
    """

    store_ids: np.ndarray
    node: np.ndarray
    snap_m: np.ndarray
    unplaced: pd.DataFrame
    mode: str

    def message(self) -> str | None:
        """The unplaced stores in one sentence for a page or a log (None when every store is placed)."""
        return unplaced_message(self.unplaced, self.mode, len(self.store_ids) + len(self.unplaced))


def unplaced_message(unplaced: pd.DataFrame, mode: str, n_stores: int, *, shown: int = 10) -> str | None:
    """Name the stores that cannot be placed and why (see `Placement`); None when there are none.

    Parameters
    ----------
    unplaced
        `Placement.unplaced`.
    mode
        The network's travel mode, for the wording.
    n_stores
        How many stores were asked for.
    shown
        At most this many stores are named; the rest are counted.
    """
    if len(unplaced) == 0:
        return None
    parts = [f"{sid} ({detail})"
             for sid, detail in zip(unplaced["store_id"][:shown], unplaced["detail"][:shown], strict=True)]
    more = f"; and {len(unplaced) - shown} more" if len(unplaced) > shown else ""
    return (f"{len(unplaced)} of {n_stores} stores cannot be placed on the {mode} network and have no "
            f"catchment: {'; '.join(parts)}{more}. Check their coordinates or load a network that covers them.")


@dataclass
class StoreTimes:
    """Travel seconds between every store and every graph node, from one Dijkstra call.

    Attributes
    ----------
    store_ids
        Store ids sorted ascending (ties between stores go to the lower id).
    node
        Graph node index of each store.
    snap_m
        Distance in metres from each store to its node.
    seconds
        ``(n_stores, n_nodes)`` travel seconds in ``direction``; ``inf`` where
        unreachable or beyond ``limit_s``.
    served
        Per piece of the network: whether a store stands in it (customers are
        snapped into these pieces only; see `geo.network.routing.Router.route_snap`).
    unplaced
        The stores that could not be placed (`Placement.unplaced`); they have no times.
    """

    store_ids: np.ndarray
    node: np.ndarray
    snap_m: np.ndarray
    seconds: np.ndarray
    mode: str
    traffic: float
    direction: str
    limit_s: float
    served: np.ndarray
    unplaced: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNPLACED_COLUMNS))

    def best_two(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per node: nearest store (index, seconds) and second-nearest distinct store.

        Ties go to the lower store id (stores are sorted). Store indices are -1
        where no store (or no second store) is reachable.
        """
        if "_best" not in self.__dict__:
            sec = self.seconds
            n = sec.shape[1]
            if sec.shape[0] == 0:
                empty = np.full(n, -1), np.full(n, np.inf)
                self.__dict__["_best"] = (*empty, *empty)
            else:
                cols = np.arange(n)
                s1 = np.argmin(sec, axis=0)
                d1 = sec[s1, cols]
                if sec.shape[0] > 1:
                    masked = sec.copy()
                    masked[s1, cols] = np.inf
                    s2 = np.argmin(masked, axis=0)
                    d2 = masked[s2, cols]
                else:
                    s2, d2 = np.zeros(n, dtype=np.intp), np.full(n, np.inf)
                s1 = np.where(np.isfinite(d1), s1, -1)
                s2 = np.where(np.isfinite(d2), s2, -1)
                self.__dict__["_best"] = (s1, d1, s2, d2)
        best: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = self.__dict__["_best"]
        return best
