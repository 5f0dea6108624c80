"""Draw the holdout: a seeded share of the targets, exact in total and spread evenly over strata.

`geo.targeting.reach` draws it within each store and band, over targets sorted
by store, band and customer id, so the same inputs and seed give the same
holdout.
"""

from __future__ import annotations

import numpy as np


def _order_within(group: np.ndarray, key: np.ndarray, starts: np.ndarray,
                  sizes: np.ndarray) -> np.ndarray:
    """Row order by ``group`` then ``key`` (as ``np.lexsort((key, group))``, several times faster).

    One stable sort by group, then one small sort per group (a loop over
    strata, never over customers); ``starts``/``sizes`` give each group's span.
    """
    by_group = np.argsort(group, kind="stable")
    spans = zip(starts.tolist(), sizes.tolist(), strict=True)
    parts = [rows[np.argsort(key[rows], kind="stable")]
             for rows in (by_group[s:s + z] for s, z in spans)]
    return np.concatenate(parts) if parts else by_group


def draw_holdout(strata: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean holdout flag per row, drawn within strata; total = round(fraction * n).

    Each stratum gets ``floor(fraction * size)`` members plus one for the strata
    with the largest remainders (ties broken at random) until the total is
    reached, so every stratum is within one member of its exact share.
    """
    n = len(strata)
    if n == 0 or fraction <= 0:
        return np.zeros(n, dtype=bool)
    rng = np.random.default_rng(seed)
    key = rng.random(n)
    ids, inverse, sizes = np.unique(strata, return_inverse=True, return_counts=True)
    quota = fraction * sizes
    base = np.floor(quota).astype(np.int64)
    extra = int(round(fraction * n)) - int(base.sum())
    if extra > 0:
        order = np.lexsort((rng.random(len(ids)), -(quota - base)))
        base[order[:extra]] += 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    order = _order_within(inverse, key, starts, sizes)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[inverse[order]]
    held: np.ndarray = rank < base[inverse]
    return held
