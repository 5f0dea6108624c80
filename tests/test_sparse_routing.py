"""Sparse store times (kept only where reached) answer exactly what the dense stores x nodes matrix answered.

The reference is the former method: one Dijkstra call over every store giving a
dense ``(n_stores, n_nodes)`` array, then ``argmin`` for the nearest and second
store per node. Compared on every shared OSM extract, bounded and unbounded.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from geo.catchments.assign import assign_customers, customer_seconds, routed_snap
from geo.errors import NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from geo.network.stores import ReachedTimes
from tests.conftest import SHARED_OSM, placeable_nodes

EXTRACTS = ["krems.osm.gz", "north-bayreuth.osm.gz", "liechtenstein.osm.pbf", "andorra.osm.pbf"]


def dense_best_two(sec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The former per-node answer: argmin over the dense matrix, then over the rest (ties: lower index)."""
    cols = np.arange(sec.shape[1])
    s1 = np.argmin(sec, axis=0)
    d1 = sec[s1, cols]
    masked = sec.copy()
    masked[s1, cols] = np.inf
    s2 = np.argmin(masked, axis=0)
    d2 = masked[s2, cols]
    return np.where(np.isfinite(d1), s1, -1), d1, np.where(np.isfinite(d2), s2, -1), d2


@pytest.fixture(scope="module", params=EXTRACTS)
def extract(request, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(SHARED_OSM / request.param, "drive",
                         cache_dir=tmp_path_factory.getbasetemp() / "sparse-netcache")
    R = Router.from_graph(G)
    rng = np.random.default_rng(18)
    nodes = rng.choice(placeable_nodes(R), 12, replace=False)
    stores = pd.DataFrame({"store_id": [f"S{i:02d}" for i in range(len(nodes))],
                           "lat": R.lat[nodes], "lon": R.lon[nodes]})
    return request.param, R, stores


@pytest.mark.parametrize("limit_min", [6.0, None])
def test_sparse_and_dense_agree_on_nearest_minutes_and_second(extract, limit_min):
    name, R, stores = extract
    T = R.store_times(stores, limit_min=limit_min, block_values=5 * len(R.node_ids))  # blocks of 5 stores
    limit_s = np.inf if limit_min is None else limit_min * 60
    dense = R.node_seconds(T.node, limit_s=limit_s)
    assert np.array_equal(T.seconds, dense), name
    assert T.reached.nodes.size == int(np.isfinite(dense).sum())
    ref = dense_best_two(dense)
    for got, want in zip(T.best_two(), ref, strict=True):
        assert np.array_equal(got, want), name
    assert (ref[0] >= 0).any() and (ref[2] >= 0).any()  # the comparison covers first and second stores


def test_bounded_search_keeps_only_what_is_reached(extract):
    name, R, stores = extract
    T = R.store_times(stores, limit_min=3.0)
    full = R.store_times(stores)
    assert T.reached.nbytes < full.reached.nbytes
    assert T.reached.seconds.max() <= 180.0
    for i in range(len(T.store_ids)):
        nodes, secs = T.reached.row(i)
        assert secs.min() == 0.0 and T.node[i] in nodes  # the store's own node, at 0 s, is kept


def test_customer_answers_agree_with_dense_seconds(extract):
    name, R, stores = extract
    rng = np.random.default_rng(5)
    pick = rng.choice(len(R.node_ids), 3000)
    customers = pd.DataFrame({"customer_id": np.arange(3000), "lat": R.lat[pick] + rng.normal(0, 2e-4, 3000),
                              "lon": R.lon[pick] + rng.normal(0, 2e-4, 3000)})
    T = R.store_times(stores, limit_min=8.0)
    out = assign_customers(R, stores, customers, mode="drive", max_minutes=8.0, times=T)
    snap = routed_snap(R, T, None, customers)
    sec = np.full((len(customers), len(T.store_ids)), np.inf)
    sec[snap.ok] = T.seconds[:, snap.node[snap.ok]].T + snap.access_s[snap.ok, None]
    assert np.array_equal(customer_seconds(T, snap), sec)
    best = np.where(np.isfinite(sec.min(axis=1)) & (sec.min(axis=1) <= 480), sec.argmin(axis=1), -1)
    got = out["store_id"].cat.codes.to_numpy()
    assert np.array_equal(got, best), name
    reach = best >= 0
    assert np.array_equal(out["travel_min"].to_numpy()[reach], sec.min(axis=1)[reach] / 60.0)


def test_best_two_ties_go_to_the_lower_store():
    dense = np.array([[5.0, np.inf, 3.0, 7.0], [5.0, 2.0, 3.0, np.inf], [4.0, 2.0, 9.0, 7.0]])
    sparse = ReachedTimes.from_blocks([dense[:2], dense[2:]], 4)
    for got, want in zip(sparse.best_two(), dense_best_two(dense), strict=True):
        assert np.array_equal(got, want)
    assert np.array_equal(sparse.dense_rows(), dense)
