"""The Huff store-choice model: probabilities, expected visitors, the nearest-store limit and calibration."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.catchments.assign import assign_customers, customer_seconds, snap_customers
from geo.catchments.huff import (
    DEFAULT_FIT,
    MIN_COST,
    calibrate,
    choice_indices,
    customer_summary,
    expected_visitors,
    network_choice_sets,
    probabilities,
    radius_choice_sets,
    simulate_choices,
    store_attractiveness,
)
from geo.errors import GeoError, NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from tests.conftest import SHARED_OSM, placeable_nodes

KREMS = SHARED_OSM / "krems.osm.gz"
BAND = 25.0


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> Router:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(KREMS, "walk", cache_dir=tmp_path_factory.getbasetemp() / "huff-netcache")
    return Router.from_graph(G)


@pytest.fixture(scope="module")
def scene(walk):
    """Eight stores on nodes of the Krems walk network and 6,000 customers near other nodes."""
    rng = np.random.default_rng(11)
    nodes = placeable_nodes(walk)
    st = rng.choice(nodes, 8, replace=False)
    stores = pd.DataFrame({"store_id": [f"S{i}" for i in range(8)], "lat": walk.lat[st], "lon": walk.lon[st],
                           "attractiveness": np.round(np.exp(rng.normal(0, 0.8, 8)) * 1000)})
    cn = rng.choice(nodes, 6000)
    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(6000)],
                              "lat": walk.lat[cn] + rng.normal(0, 1e-4, 6000),
                              "lon": walk.lon[cn] + rng.normal(0, 1e-4, 6000)})
    return stores, customers


@pytest.fixture(scope="module")
def sets_plain(walk, scene):
    stores, customers = scene
    return network_choice_sets(walk, stores.drop(columns="attractiveness"), customers, max_minutes=BAND)


@pytest.fixture(scope="module")
def sets_attr(walk, scene):
    stores, customers = scene
    return network_choice_sets(walk, stores, customers, max_minutes=BAND)


def test_choice_sets_hold_exactly_the_stores_within_the_band(walk, scene, sets_plain):
    stores, customers = scene
    times = walk.store_times(stores)
    sec = customer_seconds(times, snap_customers(walk, customers, times))
    within = sec <= BAND * 60
    assert (sets_plain.sizes == within.sum(axis=1)).all()
    row = sets_plain.row
    assert within[row, sets_plain.store].all()
    assert np.allclose(sets_plain.cost, np.maximum(sec[row, sets_plain.store] / 60, MIN_COST["min"]))
    assert (sets_plain.sizes > 1).mean() > 0.5  # the scene has competition


def test_probabilities_sum_to_one_per_customer_and_visitors_to_customers_in_reach(sets_attr):
    for alpha, beta in [(1.0, 2.0), (0.5, 1.0), (2.0, 4.0)]:
        p = probabilities(sets_attr, alpha, beta)
        assert (p >= 0).all() and (p <= 1).all()
        per_customer = np.bincount(sets_attr.row, weights=p, minlength=sets_attr.n_customers)
        has = sets_attr.sizes > 0
        assert np.allclose(per_customer[has], 1.0) and (per_customer[~has] == 0).all()
        visitors = expected_visitors(sets_attr, p)
        assert visitors.sum() == pytest.approx(has.sum())
        assert list(visitors.index) == list(sets_attr.store_ids)


def test_probabilities_follow_the_formula(sets_attr):
    alpha, beta = 1.3, 2.2
    p = probabilities(sets_attr, alpha, beta)
    i = int(np.flatnonzero(sets_attr.sizes >= 3)[0])
    sl = slice(sets_attr.indptr[i], sets_attr.indptr[i + 1])
    w = sets_attr.attractiveness[sets_attr.store[sl]] ** alpha * sets_attr.cost[sl] ** -beta
    assert np.allclose(p[sl], w / w.sum())


def test_very_large_beta_is_the_nearest_store(walk, scene, sets_plain):
    stores, customers = scene
    nearest = assign_customers(walk, stores, customers, mode="walk", max_minutes=BAND)
    summary = customer_summary(sets_plain, probabilities(sets_plain, 1.0, 1e6), customers["customer_id"])
    clear = nearest["reachable"] & ~(nearest["second_travel_min"] <= nearest["travel_min"] * 1.0001)
    clear &= nearest["travel_min"] > MIN_COST["min"] * 1.01  # below the floor, costs tie
    assert clear.sum() > 1000
    assert (summary.loc[clear, "huff_store_id"].astype(str) == nearest.loc[clear, "store_id"].astype(str)).all()
    assert np.allclose(summary.loc[clear, "huff_p"], 1.0)
    assert (summary["huff_store_id"].isna() == ~nearest["reachable"]).all()


def test_contested_customers_have_no_store_above_six_tenths(sets_plain):
    p = probabilities(sets_plain, 1.0, 2.0)
    s = customer_summary(sets_plain, p)
    assert s["contested"].any() and (~s["contested"]).any()
    assert (s.loc[s["contested"], "huff_p"] < 0.6).all()
    assert (s.loc[~s["contested"] & (s["stores_in_reach"] > 0), "huff_p"] >= 0.6).all()
    assert (s.loc[s["stores_in_reach"] == 1, "huff_p"] == 1.0).all()


@pytest.mark.parametrize("beta", [1.0, 2.0, 3.5])
def test_calibration_recovers_beta_without_attractiveness(sets_plain, beta):
    ci, si = simulate_choices(sets_plain, 1.0, beta, np.random.default_rng(int(beta * 10)))
    fit = calibrate(sets_plain, ci, si)
    assert not fit.alpha_fitted and fit.alpha == 1.0
    assert abs(fit.beta - beta) / beta < 0.10, fit
    assert 0 < fit.se_beta < 0.1 * beta
    assert abs(fit.beta - beta) < 4 * fit.se_beta
    assert 0 < fit.pseudo_r2 < 1 and fit.loglik > fit.loglik0


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.5), (0.6, 2.5)])
def test_calibration_recovers_alpha_and_beta_with_attractiveness(sets_attr, alpha, beta):
    ci, si = simulate_choices(sets_attr, alpha, beta, np.random.default_rng(7))
    fit = calibrate(sets_attr, ci, si)
    assert fit.alpha_fitted
    assert abs(fit.beta - beta) / beta < 0.10, fit
    assert abs(fit.alpha - alpha) < 4 * fit.se_alpha + 0.05, fit
    assert np.isfinite(fit.se_alpha) and fit.se_alpha > 0


def test_standard_error_matches_the_spread_of_repeated_fits(sets_plain):
    fits = [calibrate(sets_plain, *simulate_choices(sets_plain, 1.0, 2.0, np.random.default_rng(s)))
            for s in range(12)]
    spread = np.std([f.beta for f in fits], ddof=1)
    se = np.mean([f.se_beta for f in fits])
    assert 0.5 < spread / se < 1.8


def test_calibration_drops_unusable_choices_and_says_why(sets_plain):
    ci, si = simulate_choices(sets_plain, 1.0, 2.0, np.random.default_rng(1))
    far = int(np.flatnonzero(sets_plain.sizes < len(sets_plain.store_ids))[0])
    missing_store = np.setdiff1d(np.arange(len(sets_plain.store_ids)),
                                 sets_plain.store[sets_plain.indptr[far]:sets_plain.indptr[far + 1]])[0]
    ci2 = np.concatenate([ci, [-1, 0, far]])
    si2 = np.concatenate([si, [0, -1, missing_store]])
    fit = calibrate(sets_plain, ci2, si2)
    assert dict(fit.dropped) == {"unknown_customer": 1, "unknown_store": 1, "store_out_of_reach": 1}
    assert fit.n == len(ci)
    with pytest.raises(GeoError, match="none of the observed choices"):
        calibrate(sets_plain, np.array([-1]), np.array([0]))


def test_choice_indices_match_ids_as_text():
    customers = pd.Series(["a", "b", " c", "b"])
    choices = pd.DataFrame({"customer_id": ["c", "b", "zz"], "store_id": ["S2", "S9", "S1"]})
    ci, si = choice_indices(choices, customers, np.array(["S1", "S2"]))
    assert ci.tolist() == [2, 1, -1] and si.tolist() == [1, -1, 0]
    with pytest.raises(GeoError, match="store_id"):
        choice_indices(choices.drop(columns="store_id"), customers, np.array(["S1"]))


def test_attractiveness_defaults_to_one_and_rejects_bad_values():
    stores = pd.DataFrame({"store_id": ["A", "B"], "lat": [0, 0], "lon": [0, 1]})
    assert store_attractiveness(stores, np.array(["A", "B"])).tolist() == [1.0, 1.0]
    with_col = stores.assign(attractiveness=["250", ""])
    assert store_attractiveness(with_col, np.array(["B", "A"])).tolist() == [1.0, 250.0]
    with pytest.raises(GeoError, match=r"B \('-3'\)"):
        store_attractiveness(stores.assign(attractiveness=["2", "-3"]), np.array(["A", "B"]))


def test_choice_sets_from_the_sparse_rows_equal_the_dense_matrix(walk, scene, sets_attr):
    stores, customers = scene
    times = walk.store_times(stores, limit_min=BAND)
    snap = snap_customers(walk, customers, times)
    dense = times.reached.dense_rows()          # the stores x nodes array the choice sets no longer read
    cost = dense[:, np.maximum(snap.node, 0)].T + snap.access_s[:, None]
    cost[~snap.ok] = np.inf
    within = cost <= BAND * 60
    rows, cols = np.nonzero(within)             # customer-major, stores ascending
    assert within.any(axis=1).sum() > 1000 and (within.sum(axis=1) > 1).sum() > 100
    assert np.array_equal(np.diff(sets_attr.indptr), within.sum(axis=1))
    assert np.array_equal(sets_attr.store, cols)
    assert np.array_equal(sets_attr.cost, np.maximum(cost[rows, cols] / 60.0, MIN_COST["min"]))


def test_radius_choice_sets_use_great_circle_km():
    stores = pd.DataFrame({"store_id": ["B", "A"], "lat": [48.41, 48.40], "lon": [15.60, 15.60]})
    customers = pd.DataFrame({"customer_id": ["x", "y", "z"], "lat": [48.405, 48.40, 49.0],
                              "lon": [15.60, 15.60, 15.6]})
    sets = radius_choice_sets(stores, customers, max_km=1.0)
    assert sets.sizes.tolist() == [2, 1, 0]
    p = probabilities(sets, 1.0, 2.0)
    assert np.allclose(p[:2], 0.5, atol=0.01) and p[2] == 1.0
    assert sets.store_ids.tolist() == ["A", "B"] and sets.cost[2] == MIN_COST["km"]


def test_default_fit_is_said_plainly():
    assert DEFAULT_FIT.beta == 2.0 and DEFAULT_FIT.alpha == 1.0 and not DEFAULT_FIT.estimated
    assert "default" in DEFAULT_FIT.describe() and "β = 2" in DEFAULT_FIT.describe()


def test_cli_fits_choices_and_prints_visitors_without(tmp_path: Path, walk, scene, sets_attr, capsys):
    import json

    from geo.cli import main

    stores, customers = scene
    (tmp_path / "stores.csv").write_text(stores.assign(name="s").to_csv(index=False))
    cust = customers.assign(email=[f"{c}@x.test" for c in customers["customer_id"]], first_name="", opted_in=True)
    cust.to_csv(tmp_path / "customers.csv", index=False)
    ci, si = simulate_choices(sets_attr, 1.0, 2.0, np.random.default_rng(5))
    pd.DataFrame({"customer_id": customers["customer_id"].to_numpy()[ci],
                  "store_id": sets_attr.store_ids[si]}).to_csv(tmp_path / "choices.csv", index=False)
    base = ["huff", "--network", str(KREMS), "--cache-dir", str(tmp_path / "cache"), "--stores",
            str(tmp_path / "stores.csv"), "--customers", str(tmp_path / "customers.csv"), "--mode", "walk",
            "--max-minutes", str(BAND), "--json"]
    assert main(base + ["--choices", str(tmp_path / "choices.csv")]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert {"alpha", "beta", "se_beta", "n", "loglik", "pseudo_r2"} <= set(fit)
    assert abs(fit["beta"] - 2.0) < 0.2 and fit["n"] == len(ci)
    assert main(base) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["alpha"] == 1.0 and out["beta"] == 2.0 and "default" in out["note"]
    assert sum(out["expected_visitors"].values()) == pytest.approx((sets_attr.sizes > 0).sum(), rel=1e-6)
    (tmp_path / "bad.csv").write_text("customer,shop\n1,2\n")
    assert main(base + ["--choices", str(tmp_path / "bad.csv")]) == 2
    assert "customer_id" in capsys.readouterr().err


def test_candidate_takes_expected_visitors_from_the_stores_near_it(walk, scene, sets_plain):
    from geo.catchments.huff import visitors_taken

    stores, customers = scene
    stores = stores.drop(columns="attractiveness")
    near = stores.iloc[0]
    out = visitors_taken(walk, stores, customers, float(near["lat"]) + 0.001, float(near["lon"]),
                         max_minutes=BAND)
    assert list(out["store_id"]) == [*sets_plain.store_ids, "candidate"]
    existing = out[out["store_id"] != "candidate"]
    after = network_choice_sets(walk, pd.concat([stores, pd.DataFrame([{
        "store_id": "candidate", "lat": float(near["lat"]) + 0.001, "lon": float(near["lon"])}])]),
        customers, max_minutes=BAND)
    newly = (after.sizes > 0).sum() - (sets_plain.sizes > 0).sum()
    cand = out.set_index("store_id").loc["candidate"]
    assert cand["taken"] == pytest.approx(existing["taken"].sum() + newly)
    assert (existing["taken"] >= -1e-9).all()  # a new store only takes visitors
    taken = existing.set_index("store_id")["taken"]
    assert taken[near["store_id"]] > taken.median()


def test_cli_radius_mode_needs_no_network(tmp_path, capsys):
    import json

    from geo.cli import main

    pd.DataFrame({"store_id": ["A", "B"], "name": "s", "lat": [48.41, 48.40], "lon": [15.60, 15.60]}).to_csv(
        tmp_path / "stores.csv", index=False)
    pd.DataFrame({"customer_id": ["x", "y"], "email": ["x@x.test", "y@x.test"], "first_name": "",
                  "lat": [48.405, 48.40], "lon": [15.60, 15.60], "opted_in": True}).to_csv(
        tmp_path / "customers.csv", index=False)
    assert main(["huff", "--stores", str(tmp_path / "stores.csv"), "--customers", str(tmp_path / "customers.csv"),
                 "--mode", "radius", "--km", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unit"] == "km" and out["expected_visitors"]["B"] == pytest.approx(1.5, abs=0.01)
