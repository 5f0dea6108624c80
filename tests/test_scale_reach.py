"""Reach over customers in Parquet parts (`geo.scale.reach`) equals the in-memory `geo.targeting.reach.reach`.

200,000 synthetic customers in 5 parts share addresses across parts (some
unsubscribed or not opted in on one record only, in another part), with a
suppression list, recent contacts, a segment filter, ties in minutes, a few
customer ids repeated across parts and a holdout: waterfall, per store, per
band, treatment and holdout members are the same in process and on a
LocalCluster. Also: an address with one unsubscribed record in another part is
never written, provider layouts never carry the holdout, coupon codes are
unique across parts, a bad part is refused by name and leaves no worker.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from geo.errors import DataError
from geo.keys import email_keys
from geo.scale.reach import reach_parts
from geo.targeting.audience import AudienceFilters
from geo.targeting.reach import reach
from tests.test_scale_assign import own_workers

N = 200_000
PARTS = 5
BANDS = (5.0, 10.0)
STORES = pd.DataFrame({"store_id": [f"S{i:02d}" for i in range(12)], "name": [f"Store {i}" for i in range(12)],
                       "address": [f"{i} High St" for i in range(12)], "lat": 42.5 + np.arange(12) * 0.01,
                       "lon": 1.5 + np.arange(12) * 0.01})
FILTERS = AudienceFilters(segments=("vip", "regular"), exclude_contacted_days=30)
TODAY = "2026-11-01"
OFFER = ("2026-11-02", "2026-11-04")


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers (schema columns) and their assignment: addresses shared across the whole file."""
    rng = np.random.default_rng(seed)
    addresses = rng.integers(0, int(n * 0.7), n)
    emails = pd.Series([f"person{a}@example.com" for a in addresses], dtype="string")
    shout = rng.random(n) < 0.2  # the same address written differently
    emails[shout] = " " + emails[shout].str.upper() + " "
    ids = [f"C{i:07d}" for i in range(n)]
    for i in rng.choice(n, 30, replace=False):  # an id repeated (in another part, far away)
        ids[i] = ids[(i + n // 2) % n]
    customers = pd.DataFrame({
        "customer_id": pd.array(ids, dtype="string"), "email": emails,
        "first_name": pd.array(rng.choice(["Ann", "Bo", "Cy"], n), dtype="string"),
        "lat": 42.5 + rng.random(n) * 0.1, "lon": 1.5 + rng.random(n) * 0.1,
        "opted_in": pd.array(rng.random(n) < 0.9, dtype="boolean"),
        "unsubscribed": pd.array(rng.random(n) < 0.05, dtype="boolean"),
        "segment": pd.array(rng.choice(["vip", "regular", "lapsed"], n), dtype="string"),
        "online_orders_12m": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "last_order_date": pd.Timestamp("2026-10-01") - pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
    })
    store = rng.integers(0, len(STORES) + 1, n)  # one past the end: unreachable
    reachable = store < len(STORES)
    minutes = np.round(rng.random(n) * 14, 1)  # ties in minutes within an address
    assignment = pd.DataFrame({
        "customer_id": customers["customer_id"],
        "store_id": pd.Series(STORES["store_id"].to_numpy()[np.minimum(store, len(STORES) - 1)],
                              dtype="string").where(reachable),
        "travel_min": np.where(reachable, minutes, np.nan), "crow_km": np.where(reachable, minutes * 0.4, np.nan),
        "reachable": pd.array(reachable, dtype="boolean"),
    })
    return customers, assignment


def write_parts(customers: pd.DataFrame, assignment: pd.DataFrame, folder: Path, k: int) -> list[Path]:
    (folder / "in").mkdir(parents=True, exist_ok=True)
    (folder / "assigned").mkdir(parents=True, exist_ok=True)
    assigned = []
    for i, rows in enumerate(np.array_split(np.arange(len(customers)), k)):
        customers.iloc[rows].to_parquet(folder / "in" / f"customers-{i:02d}.parquet", index=False)
        assigned.append(folder / "assigned" / f"part-{i:05d}.parquet")
        assignment.iloc[rows].to_parquet(assigned[-1], index=False)
    return assigned


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from geo.scale.reach import read_customer_part  # the parts as the strict loader reads them

    customers, assignment = synthetic(N, 7)
    folder = tmp_path_factory.mktemp("reach-parts")
    assigned = write_parts(customers, assignment, folder, PARTS)
    parts = sorted((folder / "in").glob("*.parquet"))
    loaded = pd.concat([read_customer_part(p, p.name) for p in parts], ignore_index=True)
    rng = np.random.default_rng(3)
    suppression = [f" PERSON{a}@example.com" for a in rng.integers(0, int(N * 0.7), 2000)]
    contacted = [f"person{a}@example.com" for a in rng.integers(0, int(N * 0.7), 3000)]
    expected = reach(loaded, assignment, STORES, bands=BANDS, mode="drive", filters=FILTERS,
                     suppression=suppression, contacted=contacted, today=TODAY, holdout=0.1, seed=5)
    return folder, assigned, suppression, contacted, expected


def run(big, scheduler: str, **kw):
    folder, assigned, suppression, contacted, _ = big
    return reach_parts(folder / "in", assigned, STORES, bands=BANDS, mode="drive", filters=FILTERS,
                       suppression=suppression, contacted=contacted, today=TODAY, holdout=0.1, seed=5,
                       offer_start=OFFER[0], offer_end=OFFER[1], scheduler=scheduler, workers=2,
                       processes=False, **kw)


def members(targets: pd.DataFrame, group: str) -> list[str]:
    return targets.loc[targets["group"].astype(str) == group, "customer_id"].astype(str).tolist()


@pytest.mark.parametrize("scheduler", ["none", "local"])
def test_parts_equal_in_memory_reach_on_200k_customers(big, tmp_path, scheduler):
    expected = big[-1]
    got = run(big, scheduler, out_dir=tmp_path / "targets", keep=True)
    pd.testing.assert_frame_equal(got.waterfall, expected.waterfall)
    pd.testing.assert_frame_equal(got.per_store, expected.per_store)
    pd.testing.assert_frame_equal(got.per_band, expected.per_band)
    assert got.summary() == expected.summary()
    wf = expected.waterfall.set_index("stage")["removed"]
    assert (wf.drop("in_catchment") > 0).all()  # every rule removes someone: the test exercises them all
    assert got.unreachable > 0 and got.customers == N
    # the same members in the same order, the same holdout
    assert got.keys["customer_id"].tolist() == expected.targets["customer_id"].astype(str).tolist()
    assert members(got.targets, "holdout") == members(expected.targets, "holdout")
    assert members(got.targets, "treatment") == members(expected.targets, "treatment")
    # the kept list is the one written: one part per input part, all rows once
    written = pd.concat([pd.read_parquet(p) for p in got.outputs], ignore_index=True)
    assert len(got.outputs) == PARTS and len(written) == len(expected.targets)
    assert sorted(written["customer_id"]) == sorted(expected.targets["customer_id"].astype(str))
    for col in ("customer_id", "email", "store_id", "band", "group"):
        assert got.targets[col].astype(str).tolist() == expected.targets[col].astype(str).tolist(), col
    assert np.array_equal(got.targets["travel_min"].to_numpy(float),
                          expected.targets["travel_min"].to_numpy(float))


def test_codes_are_unique_across_parts_and_only_for_treatment(big, tmp_path):
    got = run(big, "none", out_dir=tmp_path / "t", existing_codes=["ABCD2345X"])
    written = pd.concat([pd.read_parquet(p) for p in got.outputs], ignore_index=True)
    treat = written["group"] == "treatment"
    codes = written.loc[treat, "coupon_code"]
    assert codes.notna().all() and codes.is_unique and "ABCD2345X" not in set(codes)
    assert written.loc[~treat, "coupon_code"].isna().all() and (~treat).sum() == got.summary()["holdout"]
    assert list(written.columns)[:3] == ["customer_id", "email", "first_name"]


@pytest.mark.parametrize("layout", ["mailchimp", "klaviyo"])
def test_provider_layout_parts_never_hold_the_holdout(big, tmp_path, layout):
    got = run(big, "none", out_dir=tmp_path / layout, layout=layout)
    written = pd.concat([pd.read_parquet(p) for p in got.outputs], ignore_index=True)
    held = got.keys.loc[got.keys["held"], "email_key"]
    email_col = written.columns[0]
    sent = set(email_keys(written[email_col].astype("string")))
    assert len(written) == got.summary()["treatment"]
    assert not sent & set(held)


def test_address_unsubscribed_in_another_part_is_never_written(tmp_path):
    customers, assignment = synthetic(3000, 11)
    customers["opted_in"] = pd.array([True] * len(customers), dtype="boolean")
    customers["unsubscribed"] = pd.array([False] * len(customers), dtype="boolean")
    # one address: a consented record near a store in part 0, an unsubscribed record far off in part 2
    customers.loc[5, "email"] = "shared@example.com"
    customers.loc[2500, "email"] = " Shared@Example.com"
    customers.loc[2500, "unsubscribed"] = True
    assignment.loc[5, ["store_id", "travel_min", "reachable"]] = ["S01", 1.0, True]
    assignment.loc[2500, ["store_id", "travel_min", "reachable"]] = [pd.NA, np.nan, False]
    assigned = write_parts(customers, assignment, tmp_path, 3)
    got = reach_parts(tmp_path / "in", assigned, STORES, bands=BANDS, holdout=0.0, out_dir=tmp_path / "out",
                      offer_start=OFFER[0], offer_end=OFFER[1], scheduler="none")
    written = pd.concat([pd.read_parquet(p) for p in got.outputs], ignore_index=True)
    assert "shared@example.com" not in set(email_keys(written["email"]))
    assert str(customers.loc[5, "customer_id"]) not in set(written["customer_id"])
    assert len(written) > 100  # the others are written
    # the in-memory rule agrees
    expected = reach(customers, assignment, STORES, bands=BANDS, holdout=0.0)
    assert got.summary() == expected.summary()


@pytest.mark.parametrize("layout", ["targets", "mailchimp"])
def test_a_part_without_targets_is_written_with_the_same_columns(tmp_path, layout):
    import pyarrow.parquet as pq

    customers, assignment = synthetic(3000, 1)
    assignment.loc[:999, "reachable"] = False  # the first part reaches nobody
    assigned = write_parts(customers, assignment, tmp_path, 3)
    got = reach_parts(tmp_path / "in", assigned, STORES, bands=BANDS, out_dir=tmp_path / "out", layout=layout,
                      offer_start=OFFER[0], offer_end=OFFER[1], scheduler="none")
    assert [pq.read_metadata(p).num_rows == 0 for p in got.outputs] == [True, False, False]
    schemas = [pq.read_schema(p).remove_metadata() for p in got.outputs]
    assert all(s.equals(schemas[0]) for s in schemas)
    if layout == "mailchimp":
        assert "Drive Minutes" in schemas[0].names


def test_bad_part_is_refused_by_name_and_nothing_written(tmp_path):
    customers, assignment = synthetic(2000, 2)
    assigned = write_parts(customers, assignment, tmp_path, 3)
    bad = customers.iloc[:10].copy()
    bad["opted_in"] = pd.array(["yes", "maybe"] * 5, dtype="string")
    bad.to_parquet(tmp_path / "in" / "customers-01.parquet", index=False)
    with pytest.raises(DataError, match="customers-01.parquet") as info:
        reach_parts(tmp_path / "in", assigned, STORES, bands=BANDS, out_dir=tmp_path / "out",
                    offer_start=OFFER[0], offer_end=OFFER[1], scheduler="none")
    assert info.value.column == "opted_in"
    assert not (tmp_path / "out").exists()


def test_bad_part_on_a_local_cluster_names_the_part_and_leaves_no_worker(tmp_path):
    customers, assignment = synthetic(2000, 3)
    assigned = write_parts(customers, assignment, tmp_path, 2)
    customers.iloc[:5].drop(columns="email").to_parquet(tmp_path / "in" / "customers-00.parquet", index=False)
    before = own_workers()
    with pytest.raises(DataError, match="customers-00.parquet.*email"):
        reach_parts(tmp_path / "in", assigned, STORES, bands=BANDS, out_dir=tmp_path / "out",
                    offer_start=OFFER[0], offer_end=OFFER[1], scheduler="local", workers=2, processes=True)
    leftover = [psutil.Process(p) for p in own_workers() - before if psutil.pid_exists(p)]
    assert [p for p in leftover if "resource_tracker" not in " ".join(p.cmdline())] == []
    assert not (tmp_path / "out").exists()


def test_radius_mode_assigns_each_part_as_it_is_read(tmp_path):
    from geo.catchments.assign import radius_assign

    customers, _ = synthetic(5000, 4)
    write_parts(customers, customers[["customer_id"]].assign(store_id=pd.NA, reachable=False), tmp_path, 2)
    got = reach_parts(tmp_path / "in", None, STORES, bands=(0.5, 1.0), mode="radius", holdout=0.2, seed=1,
                      scheduler="none")
    expected = reach(customers, radius_assign(STORES, customers, km=1.0), STORES, bands=(0.5, 1.0),
                     mode="radius", holdout=0.2, seed=1)
    assert got.summary() == expected.summary() and got.summary()["targets"] > 100


# --- the command line ---------------------------------------------------------------------------

def _cli(argv, capsys):
    import json

    from geo.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


@pytest.fixture()
def cli_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path / "data"))
    customers, _ = synthetic(6000, 21)
    customers["customer_id"] = pd.array([f"K{i:05d}" for i in range(len(customers))], dtype="string")
    customers.to_parquet(tmp_path / "customers.parquet", index=False)
    (tmp_path / "parts").mkdir()
    for k, rows in enumerate(np.array_split(np.arange(len(customers)), 3)):
        customers.iloc[rows].to_parquet(tmp_path / "parts" / f"p{k}.parquet", index=False)
    STORES.to_csv(tmp_path / "stores.csv", index=False)
    (tmp_path / "suppress.csv").write_text("email\n" + "\n".join(customers["email"].iloc[::50].str.strip()))
    base = ["reach", "--stores", tmp_path / "stores.csv", "--mode", "radius", "--km", "0.5,1", "--holdout", "0.2",
            "--seed", "4", "--segment", "vip,regular", "--suppression", tmp_path / "suppress.csv",
            "--offer-start", "2026-06-01", "--today", TODAY]
    return tmp_path, base


def test_reach_command_writes_parquet_parts_with_the_one_file_summary(cli_inputs, capsys):
    d, base = cli_inputs
    code, one, err = _cli(base + ["--customers", d / "customers.parquet", "--out", d / "one.csv"], capsys)
    assert code == 0, err
    code, parts, err = _cli(base + ["--customers", d / "parts", "--out", d / "out", "--scheduler", "none",
                                    "--campaign", "spring"], capsys)
    assert code == 0, err
    assert set(parts) == set(one)
    assert {k: v for k, v in parts.items() if k not in ("out", "campaign", "workspace")} == \
        {k: v for k, v in one.items() if k not in ("out", "campaign", "workspace")}
    assert parts["targets"] > 100 and parts["holdout"] > 10 and parts["campaign"] == "spring"
    files = sorted((d / "out").iterdir())
    assert [f.name for f in files] == [f"targets-{i:05d}.parquet" for i in range(3)]
    written = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    csv = pd.read_csv(d / "one.csv", dtype=str, keep_default_na=False)
    assert sorted(written["customer_id"]) == sorted(csv["customer_id"])
    assert sorted(written.loc[written["group"] == "holdout", "customer_id"]) == \
        sorted(csv.loc[csv["group"] == "holdout", "customer_id"])
    # the saved campaign holds the very codes written to the parts
    from geo.targeting.targets import load_campaign
    from geo.workspace import open_workspace
    saved = load_campaign(open_workspace("default"), "spring").targets
    assert dict(zip(saved["customer_id"], saved["coupon_code"], strict=True)) == \
        dict(zip(written["customer_id"], written["coupon_code"], strict=True))


def test_reach_command_provider_parts_hold_treatment_only(cli_inputs, capsys):
    d, base = cli_inputs
    code, got, err = _cli(base + ["--customers", d / "parts", "--out", d / "mc", "--layout", "mailchimp",
                                  "--scheduler", "none"], capsys)
    assert code == 0, err
    written = pd.concat([pd.read_parquet(f) for f in sorted((d / "mc").iterdir())], ignore_index=True)
    assert len(written) == got["treatment"] and "group" not in written.columns


def test_reach_command_refuses_a_bad_part_by_name(cli_inputs, capsys):
    d, base = cli_inputs
    pd.read_parquet(d / "parts" / "p2.parquet").drop(columns="opted_in").to_parquet(d / "parts" / "p2.parquet")
    code, _, err = _cli(base + ["--customers", d / "parts", "--out", d / "out", "--scheduler", "none"], capsys)
    assert code == 2 and "p2.parquet" in err and "opted_in" in err and "Traceback" not in err
    assert not (d / "out").exists()
