"""``python -m geo assign`` and ``python -m geo reach`` on a folder of Parquet parts equal the one-file runs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from geo.cli import main
from geo.errors import NetworkWarning
from geo.scale.assign import read_output


def _run(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


@pytest.fixture()
def inputs(tmp_path, shared_osm, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path / "data"))
    rng = np.random.default_rng(7)
    stores = pd.read_csv(shared_osm / "andorra-stores-50.csv").head(6)
    stores.to_csv(tmp_path / "stores.csv", index=False)
    n = 3000
    i = rng.integers(0, len(stores), n)
    customers = pd.DataFrame({
        "customer_id": [f"K{j:05d}" for j in range(n)],
        "email": [f"k{j % 2900}@ex.ad" for j in range(n)],  # some addresses on two records, across parts
        "first_name": "Núria",
        "lat": stores.lat.to_numpy()[i] + rng.normal(0, 0.01, n),
        "lon": stores.lon.to_numpy()[i] + rng.normal(0, 0.01, n),
        "opted_in": rng.random(n) < 0.9, "unsubscribed": rng.random(n) < 0.1})
    customers.to_parquet(tmp_path / "customers.parquet", index=False)
    (tmp_path / "parts").mkdir()
    for k, rows in enumerate(np.array_split(np.arange(n), 3)):
        customers.iloc[rows].to_parquet(tmp_path / "parts" / f"p{k}.parquet", index=False)
    return tmp_path, shared_osm / "andorra.osm.pbf"


def test_assign_folder_writes_partitioned_parquet_equal_to_csv(inputs, capsys):
    d, network = inputs
    base = ["assign", "--network", network, "--stores", d / "stores.csv", "--mode", "drive",
            "--max-minutes", "10", "--cache-dir", d / "cache"]
    code, one, err = _run(base + ["--customers", d / "customers.parquet", "--out", d / "one.csv"], capsys)
    assert code == 0, err
    code, parts, err = _run(base + ["--customers", d / "parts", "--out", d / "out", "--scheduler", "none"], capsys)
    assert code == 0, err
    for key in ("customers", "reachable", "unreachable", "unreachable_by_reason", "per_store"):
        assert parts[key] == one[key], key
    assert parts["parts"] == 3 and sorted(p.name for p in (d / "out").iterdir())[0] == "part-00000.parquet"
    csv = pd.read_csv(d / "one.csv", dtype={"store_id": str})
    got = read_output(d / "out")
    assert got["customer_id"].tolist() == csv["customer_id"].tolist()
    assert np.allclose(got["travel_min"].to_numpy(float), csv["travel_min"].to_numpy(float), equal_nan=True)


def test_reach_folder_equals_one_file(inputs, capsys):
    d, network = inputs
    base = ["reach", "--network", network, "--stores", d / "stores.csv", "--mode", "drive",
            "--minutes", "5,10", "--holdout", "0.2", "--seed", "3", "--offer-start", "2026-06-01"]
    code, one, err = _run(base + ["--customers", d / "customers.parquet", "--out", d / "one.csv"], capsys)
    assert code == 0, err
    code, parts, err = _run(base + ["--customers", d / "parts", "--out", d / "parts.csv", "--scheduler", "none"],
                            capsys)
    assert code == 0, err
    assert parts["waterfall"] == one["waterfall"] and parts["stores"] == one["stores"]
    assert parts["targets"] > 100
    a = pd.read_csv(d / "one.csv", dtype=str, keep_default_na=False).drop(columns="coupon_code")
    b = pd.read_csv(d / "parts.csv", dtype=str, keep_default_na=False).drop(columns="coupon_code")
    pd.testing.assert_frame_equal(a, b)


def test_reach_folder_with_a_bad_part_names_it(inputs, capsys):
    d, network = inputs
    pd.read_parquet(d / "parts" / "p1.parquet").drop(columns="email").to_parquet(d / "parts" / "p1.parquet")
    code, _, err = _run(["reach", "--network", network, "--stores", d / "stores.csv", "--customers", d / "parts",
                         "--mode", "drive", "--out", d / "x.csv"], capsys)
    assert code == 2 and "p1.parquet" in err and "email" in err and "Traceback" not in err
