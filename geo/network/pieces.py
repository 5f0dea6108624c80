"""Build a road graph's travel-time matrix and split it into pieces and their cores.

What pieces and cores are, and why routing needs them, is in the notes of
`geo.network.routing`; `geo.network.routing.Router.from_graph` calls both functions.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def csr_min(u: np.ndarray, v: np.ndarray, t: np.ndarray, n: int) -> sp.csr_matrix:
    """Build an ``n x n`` CSR of edge seconds keeping the minimum over parallel edges, no self-loops.

    Parameters
    ----------
    u, v
        Node indices (0..n-1) of each edge's start and end.
    t
        Travel seconds of each edge.
    n
        Number of nodes.
    """
    keep = u != v
    u, v, t = u[keep], v[keep], t[keep]
    order = np.lexsort((t, v, u))
    u, v, t = u[order], v[order], t[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return sp.csr_matrix((t[first], (u[first], v[first])), shape=(n, n))


def pieces_and_cores(seconds: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Label each node's piece and mark the cores (see the notes of `geo.network.routing`).

    Parameters
    ----------
    seconds
        ``n x n`` CSR of edge seconds (explicit zeros are edges).

    Returns
    -------
    piece, core
        Per node: its weakly connected component (labels 0..k-1), and whether it
        belongs to the largest strongly connected component of its piece (ties:
        the lowest label), which must hold at least two nodes.
    """
    _, piece = connected_components(seconds, directed=True, connection="weak")
    n_strong, strong = connected_components(seconds, directed=True, connection="strong")
    size = np.bincount(strong, minlength=n_strong)
    strong_piece = np.empty(n_strong, dtype=np.int64)
    strong_piece[strong] = piece
    order = np.lexsort((np.arange(n_strong), -size, strong_piece))
    first = order[np.r_[True, strong_piece[order][1:] != strong_piece[order][:-1]]]
    is_core = np.zeros(n_strong, dtype=bool)
    is_core[first] = True
    return piece.astype(np.int64), is_core[strong] & (size[strong] >= 2)
