"""Stores on a road network: where they stand (`Placement`) and their travel times to every node (`StoreTimes`).

Both are what `geo.network.routing.Router` answers about a store table
(`Router.place_stores`, `Router.store_times`); a store that cannot be placed is
listed with its reason and named to the user by `unplaced_message`.
"""

from __future__ import annotations

from collections.abc import Iterable
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
class ReachedTimes:
    """Travel seconds of each store to the nodes it reaches, kept only where reached (compressed rows).

    Row ``i`` (store ``i``) holds ``nodes[indptr[i]:indptr[i+1]]`` (node indices,
    ascending) and their ``seconds`` (float64, exact Dijkstra times, 0 at the
    store's own node). Nodes not listed are unreachable or beyond the limit.
    Memory is ``16 bytes x`` the summed catchment sizes, whatever the network size.
    """

    indptr: np.ndarray
    nodes: np.ndarray
    seconds: np.ndarray
    n_nodes: int

    @classmethod
    def from_blocks(cls, blocks: Iterable[np.ndarray], n_nodes: int) -> ReachedTimes:
        """Keep the finite entries of dense ``(k, n_nodes)`` blocks of seconds, stacked in store order.

        Each block is reduced to its finite entries before the next is read, so
        a generator of blocks never holds more than one dense block.
        """
        counts, nodes, secs = [np.zeros(1, np.int64)], [], []
        for block in blocks:
            row, col = np.nonzero(np.isfinite(block))
            counts.append(np.bincount(row, minlength=len(block)).astype(np.int64))
            nodes.append(col.astype(np.int64))
            secs.append(block[row, col])
        return cls(indptr=np.cumsum(np.concatenate(counts)),
                   nodes=np.concatenate(nodes) if nodes else np.empty(0, np.int64),
                   seconds=np.concatenate(secs) if secs else np.empty(0), n_nodes=int(n_nodes))

    @property
    def n_stores(self) -> int:
        """Number of stores (rows)."""
        return len(self.indptr) - 1

    @property
    def nbytes(self) -> int:
        """Memory held, in bytes."""
        return int(self.indptr.nbytes + self.nodes.nbytes + self.seconds.nbytes)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Nodes reached by store ``i`` and their seconds."""
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.nodes[a:b], self.seconds[a:b]

    def dense_rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Dense ``(stop - start, n_nodes)`` seconds of stores ``start:stop`` (``inf`` where not reached)."""
        stop = self.n_stores if stop is None else min(int(stop), self.n_stores)
        out = np.full((max(0, stop - start), self.n_nodes), np.inf)
        for i in range(start, stop):
            nodes, secs = self.row(i)
            out[i - start, nodes] = secs
        return out

    def best_two(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per node: nearest store (index, seconds) and second-nearest distinct store, in one pass over the rows.

        Stores are visited in index order and a later store replaces an earlier
        one only when strictly faster, so ties go to the lower index, as
        ``argmin`` over the dense matrix does. Indices are -1 where none.
        Memory: four arrays of ``n_nodes``.
        """
        n = self.n_nodes
        s1, s2 = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
        d1, d2 = np.full(n, np.inf), np.full(n, np.inf)
        for i in range(self.n_stores):
            nodes, t = self.row(i)
            first = t < d1[nodes]
            up, keep = nodes[first], nodes[~first]
            s2[up], d2[up] = s1[up], d1[up]
            s1[up], d1[up] = i, t[first]
            t_keep = t[~first]
            second = t_keep < d2[keep]
            s2[keep[second]], d2[keep[second]] = i, t_keep[second]
        return s1, d1, s2, d2


@dataclass
class StoreTimes:
    """Travel seconds between every store and the graph nodes it reaches within the limit.

    Attributes
    ----------
    store_ids
        Store ids sorted ascending (ties between stores go to the lower id).
    node
        Graph node index of each store.
    snap_m
        Distance in metres from each store to its node.
    reached
        The seconds where reached (`ReachedTimes`): memory proportional to the
        catchments, not to ``stores x nodes``.
    served
        Per piece of the network: whether a store stands in it (customers are
        snapped into these pieces only; see `geo.network.routing.Router.route_snap`).
    unplaced
        The stores that could not be placed (`Placement.unplaced`); they have no times.
    """

    store_ids: np.ndarray
    node: np.ndarray
    snap_m: np.ndarray
    reached: ReachedTimes
    mode: str
    traffic: float
    direction: str
    limit_s: float
    served: np.ndarray
    unplaced: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNPLACED_COLUMNS))

    @property
    def seconds(self) -> np.ndarray:
        """Dense ``(n_stores, n_nodes)`` travel seconds in ``direction``, built on first use and kept.

        ``inf`` where unreachable or beyond ``limit_s``. Costs ``8 x stores x nodes`` bytes (8 GB for 500 stores on 2 million
        nodes): at scale read `reached` (or `ReachedTimes.dense_rows` for a few
        stores at a time) instead.
        """
        if "_dense" not in self.__dict__:
            self.__dict__["_dense"] = self.reached.dense_rows()
        dense: np.ndarray = self.__dict__["_dense"]
        return dense

    def store_seconds(self, i: int, nodes: np.ndarray) -> np.ndarray:
        """Seconds of store ``i`` at node indices ``nodes`` (``inf`` where not reached), without the dense matrix.

        Looks the nodes up in the store's sparse row (binary search): memory and
        time follow ``nodes`` and the catchment, not the network.
        """
        reached, secs = self.reached.row(i)
        q = np.asarray(nodes, dtype=np.int64)
        pos = np.minimum(np.searchsorted(reached, q), max(len(reached) - 1, 0))
        hit = reached[pos] == q if len(reached) else np.zeros(q.shape, bool)
        out: np.ndarray = np.where(hit, secs[pos] if len(reached) else np.inf, np.inf)
        return out

    def best_two(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per node: nearest store (index, seconds) and second-nearest distinct store.

        Ties go to the lower store id (stores are sorted). Store indices are -1
        where no store (or no second store) is reachable. Computed from the
        sparse `reached` rows (see `ReachedTimes.best_two`) and kept.
        """
        if "_best" not in self.__dict__:
            self.__dict__["_best"] = self.reached.best_two()
        best: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = self.__dict__["_best"]
        return best
