"""Radius versus travel time (`geo.catchments.compare`, ``python -m geo compare``).

The counts are checked against an independent computation on a shared extract:
great-circle distances from `pyproj.Geod` on a sphere and travel times from
networkx's Dijkstra on the loaded graph (customers and stores on graph nodes, so
no off-network leg), with sets and brute force for the best-matching radius.
"""

from __future__ import annotations

import json
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest

from geo.catchments.assign import EARTH_RADIUS_KM
from geo.catchments.compare import best_radius, compare_counts, distances, sentence, store_table
from geo.cli import main
from geo.errors import NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from tests.conftest import SHARED_OSM

KREMS = SHARED_OSM / "krems.osm.gz"
KM, MINUTES = 1.2, 2.0


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cmp-cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(KREMS, "drive", cache_dir=cache)
    R = Router.from_graph(G)
    rng = np.random.default_rng(5)
    main_piece = np.bincount(R.piece).argmax()      # one piece: no snap into another piece
    core = np.flatnonzero(R.core & (R.piece == main_piece))
    store_idx = rng.choice(core, 3, replace=False)
    cust_idx = rng.choice(core, 400, replace=False)
    lat, lon = R.lat[cust_idx].copy(), R.lon[cust_idx].copy()
    lat[:5] += 0.5      # five customers far beyond the extract: unroutable, within no radius
    stores = pd.DataFrame({"store_id": ["K1", "K2", "K3"], "name": ["Alpha", "Beta", "Gamma"],
                           "lat": R.lat[store_idx], "lon": R.lon[store_idx]})
    n = len(lat)
    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)],
                              "email": [f"c{i % 380}@example.com" for i in range(n)],   # some shared
                              "first_name": "Ann", "lat": lat, "lon": lon,
                              "opted_in": rng.random(n) < 0.8, "unsubscribed": False})
    d = tmp_path_factory.mktemp("cmp")
    stores.to_csv(d / "stores.csv", index=False)
    customers.to_csv(d / "customers.csv", index=False)
    return {"G": G, "R": R, "stores": stores, "customers": customers, "store_nodes": R.node_ids[store_idx],
            "cust_nodes": R.node_ids[cust_idx], "dir": d, "cache": cache}


def independent(case) -> tuple[np.ndarray, np.ndarray]:
    """(km, minutes) per customer and store, without the package's routing or distance code."""
    G, stores, customers = case["G"], case["stores"], case["customers"]
    geod = pyproj.Geod(a=EARTH_RADIUS_KM * 1000, b=EARTH_RADIUS_KM * 1000)
    n, s = len(customers), len(stores)
    km = np.empty((n, s))
    minutes = np.full((n, s), np.inf)
    reverse = G.reverse(copy=False)
    for j, (slat, slon, node) in enumerate(zip(stores["lat"], stores["lon"], case["store_nodes"],
                                               strict=True)):
        _, _, dist = geod.inv(np.full(n, slon), np.full(n, slat), customers["lon"].to_numpy(),
                              customers["lat"].to_numpy())
        km[:, j] = dist / 1000
        seconds = nx.single_source_dijkstra_path_length(reverse, int(node), weight="travel_time")
        for i, cnode in enumerate(case["cust_nodes"]):
            if i >= 5:        # the first five are off the network
                minutes[i, j] = seconds.get(int(cnode), np.inf) / 60
    return km, minutes


def expected_counts(km: np.ndarray, minutes: np.ndarray) -> dict:
    r_any, t_any = (km <= KM).any(axis=1), (minutes <= MINUTES).any(axis=1)
    overall = {"both": int((r_any & t_any).sum()), "radius_only": int((r_any & ~t_any).sum()),
               "time_only": int((t_any & ~r_any).sum())}
    by_store = {}
    for j, sid in enumerate(["K1", "K2", "K3"]):
        r, t = km[:, j] <= KM, minutes[:, j] <= MINUTES
        time_set = set(np.flatnonzero(t))
        best, best_j = 0.0, -1.0
        for radius in sorted(set(km[:, j])):
            radius_set = set(np.flatnonzero(km[:, j] <= radius))
            jac = len(radius_set & time_set) / len(radius_set | time_set)
            if jac > best_j + 1e-12:
                best, best_j = radius, jac
        by_store[sid] = {"both": int((r & t).sum()), "radius_only": int((r & ~t).sum()),
                         "time_only": int((t & ~r).sum()), "best_km": best}
    return {"overall": overall, "by_store": by_store}


def test_counts_match_great_circle_and_networkx(case):
    km, minutes = independent(case)
    want = expected_counts(km, minutes)
    d = distances(case["R"], case["stores"], case["customers"], mode="drive")
    np.testing.assert_allclose(d.km, km, rtol=1e-9, atol=1e-9)
    finite = np.isfinite(minutes)
    assert np.array_equal(np.isfinite(d.minutes), finite)
    np.testing.assert_allclose(d.minutes[finite], minutes[finite], rtol=1e-9, atol=1e-6)
    got = compare_counts(d, case["customers"], KM, MINUTES)
    assert got["overall"] == want["overall"]
    assert min(want["overall"].values()) > 0     # the case exercises every kind
    assert np.isinf(d.minutes[:5]).all()
    for sid, w in want["by_store"].items():
        g = got["by_store"][sid]
        assert {k: g[k] for k in ("both", "radius_only", "time_only")} == \
               {k: w[k] for k in ("both", "radius_only", "time_only")}
        assert g["best_km"] == pytest.approx(w["best_km"], abs=0.006)


def test_cli_json_prints_the_same_counts(case, capsys):
    km, minutes = independent(case)
    want = expected_counts(km, minutes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        rc = main(["compare", "--network", str(KREMS), "--cache-dir", str(case["cache"]),
                   "--stores", str(case["dir"] / "stores.csv"),
                   "--customers", str(case["dir"] / "customers.csv"),
                   "--mode", "drive", "--minutes", str(MINUTES), "--km", str(KM), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["overall"] == want["overall"]
    assert set(out["by_store"]) == {"K1", "K2", "K3"}
    for sid, w in want["by_store"].items():
        assert set(out["by_store"][sid]) == {"both", "radius_only", "time_only", "best_km"}
        assert out["by_store"][sid]["radius_only"] == w["radius_only"]
        assert out["by_store"][sid]["best_km"] == pytest.approx(w["best_km"], abs=0.006)


def test_addresses_count_consenting_distinct_addresses(case):
    from geo.data.consent import contactable

    d = distances(case["R"], case["stores"], case["customers"], mode="drive")
    got = compare_counts(d, case["customers"], KM, MINUTES)
    cust = case["customers"]
    ok = contactable(cust)
    r_any, t_any = (d.km <= KM).any(axis=1), (d.minutes <= MINUTES).any(axis=1)
    both = cust.loc[r_any & t_any & ok, "email"].str.lower().nunique()
    assert got["overall_addresses"]["both"] == both
    assert got["overall_addresses"]["both"] < got["overall"]["both"]


def test_unroutable_customers_count_only_on_the_radius_side():
    from geo.catchments.compare import Distances

    d = Distances(store_ids=np.array(["A", "B"]), mode="drive",
                  km=np.array([[0.5, 9.0], [0.7, 9.0], [8.0, 0.2], [8.0, 9.0]]),
                  minutes=np.array([[np.inf, np.inf], [4.0, 30.0], [np.inf, 3.0], [9.0, 12.0]]))
    customers = pd.DataFrame({"email": ["a@x.org", "b@x.org", "c@x.org", "d@x.org"],
                              "opted_in": [True, True, False, True]})
    got = compare_counts(d, customers, km=1.0, minutes=10.0)
    assert got["overall"] == {"both": 2, "radius_only": 1, "time_only": 1}
    assert got["overall_addresses"] == {"both": 1, "radius_only": 1, "time_only": 1}
    assert {k: got["by_store"]["A"][k] for k in ("both", "radius_only", "time_only")} == \
        {"both": 1, "radius_only": 1, "time_only": 1}
    assert {k: got["by_store"]["B"][k] for k in ("both", "radius_only", "time_only")} == \
        {"both": 1, "radius_only": 0, "time_only": 0}


def test_best_radius_is_exact_on_a_small_case():
    km = np.array([0.5, 1.0, 1.0, 2.0, 3.0, 4.0])
    in_time = np.array([True, True, False, True, False, False])
    # radius 1.0 takes both ties: 2 of 3 -> 2/4; radius 2.0: 3 of 4 -> 3/4 (best)
    assert best_radius(km, in_time) == (2.0, 0.75)
    assert best_radius(km, np.zeros(6, bool)) == (0.0, 0.0)


def test_sentence_and_table_read_as_a_marketer_writes():
    counts = {"both": 2480, "radius_only": 640, "time_only": 410}
    assert sentence("Coop Schaan", counts, 5, 15, "drive") == (
        "A 5 km radius around Coop Schaan reaches 3,120 customers; 640 of them are more than "
        "15 minutes away by car, and it misses 410 who are within 15 minutes.")
    one = sentence("Volg", {"both": 0, "radius_only": 1, "time_only": 1}, 2.5, 10, "walk")
    assert one == ("A 2.5 km radius around Volg reaches 1 customer; 1 of them is more than 10 minutes "
                   "away on foot, and it misses 1 who is within 10 minutes.")


def test_store_table_has_one_row_per_store(case):
    d = distances(case["R"], case["stores"], case["customers"], mode="drive")
    table = store_table(compare_counts(d, case["customers"], KM, MINUTES), case["stores"])
    assert list(table["store_id"]) == ["K1", "K2", "K3"]
    assert list(table["name"]) == ["Alpha", "Beta", "Gamma"]
    assert (table["consenting_both"] <= table["both"]).all()
