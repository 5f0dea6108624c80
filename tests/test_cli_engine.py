"""End-to-end tests of ``python -m geo catchments`` and ``python -m geo assign``."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.cli import main
from geo.errors import NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from tests.conftest import SHARED_OSM

KREMS = SHARED_OSM / "krems.osm.gz"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def net_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "engine-netcache"


@pytest.fixture(scope="module")
def files(tmp_path_factory, net_cache) -> dict[str, Path]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        R = Router.from_graph(load_network(KREMS, "drive", cache_dir=net_cache))
    d = tmp_path_factory.mktemp("cli")
    idx = [30, 900, 1700]
    pd.DataFrame({"store_id": ["K1", "K2", "K3"], "name": ["A", "B", "C"], "lat": R.lat[idx],
                  "lon": R.lon[idx]}).to_csv(d / "stores.csv", index=False)
    pd.DataFrame({"store_id": ["K1", "X"], "name": ["A", "Far"], "lat": [R.lat[30], R.lat[0] + 1.0],
                  "lon": [R.lon[30], R.lon[0]]}).to_csv(d / "one_far.csv", index=False)
    rng = np.random.default_rng(2)
    pick = rng.integers(0, len(R.lat), 200)
    lat, lon = R.lat[pick], R.lon[pick]
    lat[0] += 0.5  # far away: unreachable
    pd.DataFrame({"customer_id": [f"C{i}" for i in range(200)], "email": [f"c{i}@example.com" for i in range(200)],
                  "first_name": "Ann", "lat": lat, "lon": lon, "opted_in": "yes"}).to_csv(d / "customers.csv",
                                                                                        index=False)
    far = pd.DataFrame({"store_id": ["X"], "name": ["Far"], "lat": [R.lat[0] + 1.0], "lon": [R.lon[0]]})
    far.to_csv(d / "far.csv", index=False)
    return {"dir": d, "stores": d / "stores.csv", "customers": d / "customers.csv", "far": d / "far.csv",
            "one_far": d / "one_far.csv", "cache": net_cache}


def _run(argv: list[str], capsys) -> tuple[int, dict | None, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        rc = main(argv)
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if out.strip() else None), err


def test_catchments_command(files, capsys):
    out = files["dir"] / "c.geojson"
    rc, summary, _ = _run(["catchments", "--network", str(KREMS), "--stores", str(files["stores"]), "--mode",
                           "drive", "--minutes", "2,4", "--traffic", "0.8", "--out", str(out),
                           "--cache-dir", str(files["cache"])], capsys)
    assert rc == 0
    assert summary["polygons"] == 6 and summary["bands"] == [2.0, 4.0] and summary["stores"] == 3
    data = json.loads(out.read_text())
    assert len(data["features"]) == 6
    assert {f["properties"]["store_id"] for f in data["features"]} == {"K1", "K2", "K3"}


def test_catchments_radius_mode(files, capsys):
    out = files["dir"] / "r.geojson"
    rc, summary, _ = _run(["catchments", "--stores", str(files["stores"]), "--mode", "radius", "--km", "1,2",
                           "--out", str(out)], capsys)
    assert rc == 0 and summary["polygons"] == 6 and summary["mode"] == "radius"


def test_assign_command(files, capsys):
    out = files["dir"] / "assigned.csv"
    rc, summary, _ = _run(["assign", "--network", str(KREMS), "--stores", str(files["stores"]), "--customers",
                           str(files["customers"]), "--mode", "drive", "--out", str(out),
                           "--cache-dir", str(files["cache"])], capsys)
    assert rc == 0
    df = pd.read_csv(out)
    assert list(df.columns[:7]) == ["customer_id", "store_id", "travel_min", "second_store_id",
                                    "second_travel_min", "crow_km", "reachable"]
    assert len(df) == 200 == summary["customers"]
    assert summary["unreachable"] >= 1 and summary["unreachable_by_reason"]["outside_area"] >= 1
    assert summary["unplaced_stores"] == []
    assert sum(summary["per_store"].values()) == summary["reachable"]
    assert not bool(df.loc[0, "reachable"]) and pd.isna(df.loc[0, "travel_min"])


def test_a_store_off_the_network_is_named_and_the_others_drawn(files, capsys):
    out = files["dir"] / "one.geojson"
    rc, summary, _ = _run(["catchments", "--network", str(KREMS), "--stores", str(files["one_far"]), "--mode",
                           "drive", "--minutes", "2", "--out", str(out), "--cache-dir", str(files["cache"])], capsys)
    assert rc == 0 and summary["polygons"] == 1
    assert [(u["store_id"], u["reason"]) for u in summary["unplaced_stores"]] == [("X", "outside_area")]
    assert summary["unplaced_stores"][0]["dist_m"] > 100_000
    assert [f["properties"]["store_id"] for f in json.loads(out.read_text())["features"]] == ["K1"]


def test_errors_exit_2_with_one_line(files, capsys):
    rc, summary, err = _run(["catchments", "--network", str(KREMS), "--stores", str(files["far"]), "--mode",
                             "drive", "--out", str(files["dir"] / "x.geojson"), "--cache-dir", str(files["cache"])],
                            capsys)
    assert rc == 2 and summary is None
    assert err.startswith("error: no store can be placed on the drive network: X (outside the extract's bounds")
    assert err.count("\n") == 1
    rc, _, err = _run(["assign", "--network", str(files["dir"] / "missing.osm.pbf"), "--stores",
                       str(files["stores"]), "--customers", str(files["customers"]), "--mode", "drive",
                       "--out", str(files["dir"] / "a.csv")], capsys)
    assert rc == 2 and "network file not found" in err
    rc, _, err = _run(["catchments", "--stores", str(files["stores"]), "--mode", "radius", "--km", "a,b",
                       "--out", str(files["dir"] / "x.geojson")], capsys)
    assert rc == 2 and "--km must be comma-separated numbers" in err


def test_module_entry_point(files):
    out = files["dir"] / "m.geojson"
    proc = subprocess.run([sys.executable, "-m", "geo", "catchments", "--network", str(KREMS), "--stores",
                           str(files["stores"]), "--mode", "drive", "--minutes", "3", "--out", str(out),
                           "--cache-dir", str(files["cache"])], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["polygons"] == 3
