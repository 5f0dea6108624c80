"""Customers in Parquet parts: the Dask path (in process, LocalCluster) equals the in-memory assignment.

Also: a folder with a bad part is refused with the part's name before anything
is written, bad rows name their part, row and column, and no worker process
outlives a run that failed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
import pytest

from geo.catchments.assign import assign_customers
from geo.errors import DataError, GeoError, NetworkWarning
from geo.network.load import load_network
from geo.network.routing import Router
from geo.scale.assign import assign_parts, choose_scheduler, read_output
from geo.scale.cluster import check_scheduler, check_workers, dask_client
from geo.scale.parts import list_parts
from tests.conftest import SHARED_OSM

N_CUSTOMERS = 200_000
MAX_MIN = 12.0


@pytest.fixture(scope="module")
def andorra(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(SHARED_OSM / "andorra.osm.pbf", "drive",
                         cache_dir=tmp_path_factory.getbasetemp() / "scale-netcache")
    stores = pd.read_csv(SHARED_OSM / "andorra-stores-50.csv", dtype={"store_id": str})
    return Router.from_graph(G), stores


def customers_near(router: Router, n: int, seed: int) -> pd.DataFrame:
    """``n`` customers scattered around the network's nodes, a few far off it (unreachable)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(router.node_ids), n)
    lat = router.lat[pick] + rng.normal(0, 0.002, n)
    lon = router.lon[pick] + rng.normal(0, 0.002, n)
    far = rng.random(n) < 0.01
    lat[far] += 0.3
    return pd.DataFrame({"customer_id": [f"C{i:07d}" for i in range(n)], "lat": lat, "lon": lon})


def write_parts(df: pd.DataFrame, folder: Path, k: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(np.arange(len(df)), k)):
        df.iloc[part].to_parquet(folder / f"customers-{i:02d}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def big(andorra, tmp_path_factory):
    router, stores = andorra
    customers = customers_near(router, N_CUSTOMERS, 18)
    folder = write_parts(customers, tmp_path_factory.mktemp("parts"), 4)
    expected = assign_customers(router, stores, customers, mode="drive", max_minutes=MAX_MIN)
    return customers, folder, expected


def same_assignment(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(got) == len(expected)
    for col in expected.columns:
        a, b = got[col], expected[col]
        if isinstance(b.dtype, pd.CategoricalDtype):
            assert list(a.astype(str)) == list(b.astype(str)), col
        else:
            assert np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=a.dtype.kind == "f"), col


@pytest.mark.parametrize("scheduler", ["none", "local"])
def test_parts_equal_in_memory_on_200k_customers(andorra, big, tmp_path, scheduler):
    router, stores = andorra
    customers, folder, expected = big
    counts = assign_parts(router, stores, folder, tmp_path / "out", max_minutes=MAX_MIN, scheduler=scheduler,
                          workers=2, processes=False)
    got = read_output(tmp_path / "out")
    same_assignment(got, expected)
    assert counts.customers == N_CUSTOMERS and counts.reachable == int(expected["reachable"].sum())
    per_store = expected["store_id"].astype(str).value_counts()
    assert counts.per_store == {str(k): int(v) for k, v in per_store.items()}
    reasons = expected.loc[~expected["reachable"], "unreachable_reason"].astype(str).value_counts()
    assert counts.reasons == {str(k): int(v) for k, v in reasons.items()} and counts.reasons
    assert len(counts.outputs) == 4


def test_geoparquet_part_reads_point_geometry(andorra, tmp_path):
    router, stores = andorra
    customers = customers_near(router, 2000, 4)
    gdf = gpd.GeoDataFrame(customers[["customer_id"]],
                           geometry=gpd.points_from_xy(customers["lon"], customers["lat"]), crs="EPSG:4326")
    gdf.to_parquet(tmp_path / "customers.parquet")
    assign_parts(router, stores, tmp_path / "customers.parquet", tmp_path / "out", max_minutes=MAX_MIN,
                 scheduler="none")
    expected = assign_customers(router, stores, customers, mode="drive", max_minutes=MAX_MIN)
    same_assignment(read_output(tmp_path / "out"), expected)


def test_unreadable_part_is_refused_by_name_before_any_work(andorra, tmp_path):
    router, stores = andorra
    folder = write_parts(customers_near(router, 1000, 1), tmp_path / "in", 3)
    (folder / "customers-01.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="customers-01.parquet.*not a readable Parquet"):
        assign_parts(router, stores, folder, tmp_path / "out", scheduler="none")
    assert not (tmp_path / "out").exists()


def test_part_without_coordinates_is_refused_by_name(andorra, tmp_path):
    router, stores = andorra
    folder = write_parts(customers_near(router, 1000, 1), tmp_path / "in", 2)
    (folder / "sub").mkdir()
    pd.DataFrame({"customer_id": ["x"], "lat": [42.5]}).to_parquet(folder / "sub" / "late.parquet")
    with pytest.raises(DataError, match=r"sub/late.parquet: the part lacks column\(s\) lon"):
        assign_parts(router, stores, folder, tmp_path / "out", scheduler="none")


def own_workers() -> set[int]:
    """Processes started by this test process (and their children)."""
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_bad_row_on_a_local_cluster_names_the_part_and_leaves_no_worker(andorra, tmp_path):
    router, stores = andorra
    customers = customers_near(router, 3000, 2)
    customers.loc[1500 + 7, "lat"] = 95.0  # the second part's 8th row
    folder = write_parts(customers, tmp_path / "in", 2)
    before = own_workers()
    with pytest.raises(DataError, match=r"customers-01.parquet, row 9, column 'lat': lat 95.0 is missing or outside"):
        assign_parts(router, stores, folder, tmp_path / "out", scheduler="local", workers=2, processes=True)
    leftover = [psutil.Process(p) for p in own_workers() - before if psutil.pid_exists(p)]
    workers = [p for p in leftover if "resource_tracker" not in " ".join(p.cmdline())]
    assert workers == []


def test_scheduler_choice():
    assert choose_scheduler("auto", 10) == "none"
    assert choose_scheduler("auto", 5_000_000) == "local"
    assert choose_scheduler("tcp://10.0.0.5:8786", 1) == "tcp://10.0.0.5:8786"
    with pytest.raises(GeoError, match="--scheduler must be"):
        check_scheduler("yarn")


def test_unreachable_scheduler_is_a_clear_error(andorra, tmp_path):
    router, stores = andorra
    folder = write_parts(customers_near(router, 100, 3), tmp_path / "in", 1)
    with pytest.raises(GeoError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        assign_parts(router, stores, folder, tmp_path / "out", scheduler="tcp://127.0.0.1:9")


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="holds no Parquet part"):
        list_parts(tmp_path)


def test_cluster_that_cannot_import_geo_is_refused_with_advice():
    class Future:
        def result(self, timeout):
            raise Exception("ModuleNotFoundError(\"No module named 'geo'\")")  # as distributed re-raises it

    class Client:
        def submit(self, fn, pure):
            return Future()

    with pytest.raises(GeoError, match=r"tcp://h:8786 cannot run .*No module named 'geo'.*PYTHONPATH"):
        check_workers(Client(), "tcp://h:8786")
    with dask_client("local", workers=1, processes=False) as client:
        check_workers(client, "local")  # a cluster that imports geo passes
