"""The synthetic country network: deterministic, hierarchical, and routed exactly like an OSM graph."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.network_gen import HIGHWAYS, generate, sample_town_nodes
from geo.catchments.assign import assign_customers
from geo.network.graph import TYPICAL_DRIVE_KMH, add_travel_times
from geo.network.routing import Router


def test_same_seed_same_network_and_the_size_asked():
    a, b = generate(30_000, seed=3), generate(30_000, seed=3)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.u, b.u)
    assert abs(a.n_nodes - 30_000) / 30_000 < 0.05
    assert set(np.unique(a.highway).tolist()) == set(range(len(HIGHWAYS)))  # every road class present
    sizes = np.diff(a.town_nodes, axis=1).ravel()
    assert sizes.max() > 20 * sizes.min()                                    # towns of different sizes


def test_arrays_and_graph_give_the_same_router():
    net = generate(8_000, seed=5)
    fast = net.router()
    G = add_travel_times(net.graph(), "drive")
    speeds = {d["highway"]: d["speed_kph"] for *_, d in G.edges(data=True)}
    assert speeds == {h: TYPICAL_DRIVE_KMH[h] for h in HIGHWAYS}              # OSMnx's imputed speeds
    slow = Router.from_graph(G)
    assert np.array_equal(slow.node_ids, fast.node_ids)
    assert abs(slow.seconds - fast.seconds).max() < 1e-9
    assert fast.n_pieces == 1 and fast.core.all()


def test_assignment_runs_on_the_synthetic_country():
    net = generate(20_000, seed=1)
    R = net.router()
    rng = np.random.default_rng(0)
    st = sample_town_nodes(net, 10, rng)
    stores = pd.DataFrame({"store_id": [f"S{i}" for i in range(10)], "lat": net.lat[st], "lon": net.lon[st]})
    cu = sample_town_nodes(net, 2000, rng)
    customers = pd.DataFrame({"customer_id": np.arange(2000), "lat": net.lat[cu], "lon": net.lon[cu]})
    out = assign_customers(R, stores, customers, mode="drive", max_minutes=30)
    assert out["reachable"].any() and (out["travel_min"].dropna() <= 30).all()
