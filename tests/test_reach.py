"""Audience rules, waterfall, per-store counts and the stratified holdout of `geo.targeting.reach`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.targeting.audience import AudienceFilters, prepare_audience
from geo.targeting.reach import (
    STAGES,
    band_index,
    band_labels,
    compute_reach,
    reach,
    travel_histogram,
)
from geo.targeting.suppression import parse_suppression, recently_contacted
from geo.workspace import create_workspace

STORES = pd.DataFrame({"store_id": ["S1", "S2"], "name": ["North", "South"],
                       "address": ["1 North St", "2 South St"]})


def make_customers(rows: list[dict]) -> pd.DataFrame:
    base = {"first_name": "Ann", "lat": 0.0, "lon": 0.0, "opted_in": True,
            "unsubscribed": False, "segment": "vip", "online_orders_12m": 1,
            "last_order_date": pd.Timestamp("2026-01-01"), "location_source": "address"}
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["customer_id"] = df["customer_id"].astype("string")
    df["email"] = df["email"].astype("string")
    df["opted_in"] = df["opted_in"].astype("boolean")
    df["unsubscribed"] = df["unsubscribed"].astype("boolean")
    df["online_orders_12m"] = df["online_orders_12m"].astype("Int64")
    df["segment"] = df["segment"].astype("string")
    df["location_source"] = df["location_source"].astype("string")
    return df


def make_assignment(ids, stores, minutes) -> pd.DataFrame:
    minutes = np.asarray(minutes, dtype=float)
    return pd.DataFrame({
        "customer_id": pd.array(ids, dtype="string"),
        "store_id": pd.array(stores, dtype="string"),
        "travel_min": minutes,
        "second_store_id": pd.array([None] * len(ids), dtype="string"),
        "second_travel_min": minutes + 3,
        "crow_km": minutes * 0.5,
        "reachable": pd.array([s is not None for s in stores], dtype="boolean"),
    })


@pytest.fixture()
def small():
    customers = make_customers([
        {"customer_id": "c1", "email": "a@x.com"},
        {"customer_id": "c2", "email": " A@X.COM ", "unsubscribed": True},   # same address
        {"customer_id": "c3", "email": "b@x.com", "opted_in": False},
        {"customer_id": "c4", "email": "c@x.com", "segment": "regular"},
        {"customer_id": "c5", "email": "d@x.com"},
        {"customer_id": "c6", "email": "e@x.com"},                          # out of range
        {"customer_id": "c7", "email": "f@x.com"},                          # unreachable
        {"customer_id": "c8", "email": "G@x.com"},
        {"customer_id": "c9", "email": "g@x.com "},                         # dup, farther
    ])
    assignment = make_assignment(
        ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"],
        ["S1", "S1", "S1", "S2", "S2", "S1", None, "S1", "S2"],
        [2, 3, 4, 6, 9, 25, np.nan, 7, 4])
    return customers, assignment


def test_unsubscribed_anywhere_excludes_the_address(small):
    customers, assignment = small
    r = reach(customers, assignment, STORES, bands=[5, 10, 15], holdout=0)
    # a@x.com has one clean record (c1) and one unsubscribed (c2): never targeted
    assert "a@x.com" not in set(r.targets["email_key"])
    assert "c3" not in set(r.targets["customer_id"])  # not opted in
    assert set(r.targets["customer_id"]) == {"c4", "c5", "c9"}


def test_one_target_per_address_keeps_the_nearest(small):
    customers, assignment = small
    r = reach(customers, assignment, STORES, bands=[5, 10, 15], holdout=0)
    # G@x.com (c8, 7 min) and "g@x.com " (c9, 4 min) are one address: c9 is nearer
    g = r.targets[r.targets["email_key"] == "g@x.com"]
    assert list(g["customer_id"]) == ["c9"]
    assert g["store_id"].iloc[0] == "S2"
    assert g["band"].iloc[0] == "0-5"


def test_waterfall_order_and_counts(small):
    customers, assignment = small
    r = reach(customers, assignment, STORES, bands=[5, 10, 15], holdout=0,
              suppression=["D@X.com  "], filters=AudienceFilters(segments=("VIP",)))
    w = r.waterfall.set_index("stage")["customers"]
    assert list(r.waterfall["stage"]) == list(STAGES)
    assert w["in_catchment"] == 7          # c6 beyond 15 min, c7 unreachable
    assert w["opted_in"] == 4              # c1, c2 (address), c3 out
    assert w["not_suppressed"] == 3        # d@x.com suppressed
    assert w["not_recently_contacted"] == 3
    assert w["in_segment"] == 2            # c4 is "regular"
    assert w["one_per_email"] == 1         # c8 and c9 share an address
    assert r.waterfall["removed"].sum() == len(customers) - 1
    per = r.per_store.set_index("store_id")
    assert per.loc["S1", "in_catchment"] == 4 and per.loc["S2", "in_catchment"] == 3
    assert per.loc["S2", "one_per_email"] == 1 and per.loc["S1", "one_per_email"] == 0
    assert (per[list(STAGES)].sum() == w).all()


def test_suppression_matching_is_case_and_whitespace_insensitive():
    text = "Email,Name\n  Bob@Example.COM ,Bob\n\"carl@example.com\";x\nnot-an-email\n"
    keys = parse_suppression(text)
    assert set(keys) == {"bob@example.com", "carl@example.com"}
    customers = make_customers([{"customer_id": "1", "email": "bob@example.com"},
                                {"customer_id": "2", "email": " CARL@example.com"},
                                {"customer_id": "3", "email": "dan@example.com"}])
    assignment = make_assignment(["1", "2", "3"], ["S1"] * 3, [1, 1, 1])
    r = reach(customers, assignment, STORES, bands=[5], suppression=keys, holdout=0)
    assert list(r.targets["customer_id"]) == ["3"]


def test_saved_suppression_survives_and_can_be_removed(tmp_path):
    from geo.errors import DataError
    from geo.targeting.suppression import (
        clear_suppression,
        save_suppression,
        saved_suppression,
    )
    from geo.workspace import open_workspace

    ws = create_workspace("shop", tmp_path)
    assert saved_suppression(ws)[1] is None and len(saved_suppression(ws)[0]) == 0
    info = save_suppression(ws, parse_suppression(" Bob@Example.COM ,x\nbob@example.com\na@b.c"),
                            source="optouts.csv", saved_at="2026-11-25 10:00 UTC")
    assert info == {"source": "optouts.csv", "count": 2, "saved_at": "2026-11-25 10:00 UTC"}
    keys, about = saved_suppression(open_workspace("shop", tmp_path))   # as after a restart
    assert sorted(keys) == ["a@b.c", "bob@example.com"] and about == info
    with pytest.raises(DataError, match="no e-mail address"):
        save_suppression(ws, parse_suppression("name\nBob"), source="empty.csv")
    assert len(saved_suppression(ws)[0]) == 2   # a bad file does not replace the saved list
    clear_suppression(ws)
    assert saved_suppression(ws)[1] is None
    assert len(saved_suppression(ws)[0]) == 0


def test_recency_and_other_filters():
    today = pd.Timestamp("2026-03-01")
    customers = make_customers([
        {"customer_id": "1", "email": "1@x.com", "last_order_date": today - pd.Timedelta(days=10)},
        {"customer_id": "2", "email": "2@x.com", "last_order_date": today - pd.Timedelta(days=30)},
        {"customer_id": "3", "email": "3@x.com", "last_order_date": today - pd.Timedelta(days=31)},
        {"customer_id": "4", "email": "4@x.com", "last_order_date": pd.NaT},
        {"customer_id": "5", "email": "5@x.com", "online_orders_12m": 0,
         "location_source": "ip"},
    ])
    assignment = make_assignment(list("12345"), ["S1"] * 5, [1] * 5)

    def ids(**kw):
        r = reach(customers, assignment, STORES, bands=[5], holdout=0, today=today,
                  filters=AudienceFilters(**kw))
        return sorted(r.targets["customer_id"])

    assert ids(ordered_within_days=30) == ["1", "2"]           # 4 never ordered, 5 59 days ago
    assert ids(ordered_before_days=30) == ["3", "5"]
    assert ids(min_online_orders=1) == ["1", "2", "3", "4"]
    assert ids(location_sources=("postcode", "IP")) == ["5"]
    assert ids() == ["1", "2", "3", "4", "5"]


def test_recently_contacted_from_workspace(tmp_path):
    ws = create_workspace("w", tmp_path)
    targets = pd.DataFrame({"customer_id": ["1", "2"], "email": ["Old@x.com", "hold@x.com"],
                            "group": ["treatment", "holdout"]})
    ws.save_campaign_file("spring", "targets", targets)
    ws.save_campaign_meta("spring", {"offer_start": "2026-02-20T09:00:00"})
    events = pd.DataFrame({"email": ["sent@x.com", "late@x.com", "open@x.com"],
                           "event": ["sent", "sent", "opened"],
                           "timestamp": pd.to_datetime(["2026-02-25", "2025-01-01",
                                                        "2026-02-25"])})
    ws.save_campaign_file("winter", "events", events)
    ws.save_campaign_meta("winter", {"offer_start": "2025-01-01T00:00:00"})
    recent = set(recently_contacted(ws, 30, "2026-03-01"))
    # holdout was never contacted; an open implies a send; late@ was long ago
    assert recent == {"old@x.com", "sent@x.com", "open@x.com"}
    assert set(recently_contacted(ws, 3, "2026-03-01")) == set()
    customers = make_customers([{"customer_id": "1", "email": "OLD@x.com"},
                                {"customer_id": "2", "email": "new@x.com"}])
    assignment = make_assignment(["1", "2"], ["S1", "S1"], [1, 1])
    r = reach(customers, assignment, STORES, bands=[5], holdout=0, contacted=recent,
              filters=AudienceFilters(exclude_contacted_days=30))
    assert list(r.targets["customer_id"]) == ["2"]
    assert r.waterfall.set_index("stage").loc["not_recently_contacted", "removed"] == 1


def test_bands_are_inclusive_upper_and_labelled():
    assert band_labels([10, 5, 15]) == ["0-5", "5-10", "10-15"]
    assert band_labels([0.5, 1]) == ["0-0.5", "0.5-1"]
    idx = band_index(np.array([0, 5, 5.01, 15, 15.1, np.nan, -1]), [5, 10, 15])
    assert idx.tolist() == [0, 0, 1, 2, -1, -1, -1]
    with pytest.raises(ValueError):
        band_labels([0, 5])


def _big(n=20000, seed=3):
    rng = np.random.default_rng(seed)
    ids = [f"C{i:06d}" for i in range(n)]
    customers = make_customers([{"customer_id": i, "email": f"{i}@x.com"} for i in ids])
    assignment = make_assignment(ids, rng.choice(["S1", "S2"], n), rng.random(n) * 15)
    return customers, assignment


def test_holdout_share_and_stratification():
    customers, assignment = _big()
    r = reach(customers, assignment, STORES, bands=[5, 10, 15], holdout=0.1, seed=42)
    held = (r.targets["group"] == "holdout")
    assert held.sum() == round(0.1 * len(r.targets))
    by = r.targets.groupby(["store_id", "band"], observed=True)["group"]
    share = by.apply(lambda g: (g == "holdout").mean())
    assert len(share) == 6
    sizes = by.size()
    assert ((share * sizes - 0.1 * sizes).abs() <= 1).all()   # within one member per stratum
    per = r.per_band.set_index(["store_id", "band"])
    assert int(per["holdout"].sum()) == int(held.sum())
    assert (r.per_store["treatment"] + r.per_store["holdout"]
            == r.per_store["one_per_email"]).all()


def test_holdout_is_reproducible_and_independent_of_row_order():
    customers, assignment = _big(5000)
    a = reach(customers, assignment, STORES, bands=[5, 10, 15], holdout=0.2, seed=7)
    b = reach(customers, assignment, STORES, bands=[5, 10, 15], holdout=0.2, seed=7)
    order = np.random.default_rng(0).permutation(len(customers))
    c = reach(customers.iloc[order].reset_index(drop=True),
              assignment.iloc[order[::-1]].reset_index(drop=True),  # assignment in another order
              STORES, bands=[5, 10, 15], holdout=0.2, seed=7)
    d = reach(customers, assignment, STORES, bands=[5, 10, 15], holdout=0.2, seed=8)
    held = lambda r: set(r.targets.loc[r.targets["group"] == "holdout", "customer_id"])  # noqa
    assert held(a) == held(b) == held(c)
    assert held(a) != held(d)


def test_small_strata_still_get_their_share():
    # 30 stores x 1 band with 3 targets each: 10% of 90 = 9 holdout members in total
    ids = [f"c{i}" for i in range(90)]
    stores = pd.DataFrame({"store_id": [f"S{i}" for i in range(30)], "name": "x"})
    customers = make_customers([{"customer_id": i, "email": f"{i}@x.com"} for i in ids])
    assignment = make_assignment(ids, [f"S{i // 3}" for i in range(90)], [1] * 90)
    r = reach(customers, assignment, stores, bands=[5], holdout=0.1, seed=1)
    assert (r.targets["group"] == "holdout").sum() == 9
    assert r.per_store["holdout"].max() == 1


def test_stores_not_on_the_map_and_missing_assignment_rows():
    customers = make_customers([{"customer_id": "1", "email": "1@x.com"},
                                {"customer_id": "2", "email": "2@x.com"},
                                {"customer_id": "3", "email": "3@x.com"}])
    assignment = make_assignment(["2", "1"], ["S9", "S1"], [1, 1])  # c3 missing, S9 unknown
    r = reach(customers, assignment, STORES, bands=[5], holdout=0)
    assert list(r.targets["customer_id"]) == ["1"]
    assert r.waterfall["customers"].iloc[0] == 1


def test_radius_mode_bands_by_crow_km(small):
    customers, assignment = small
    assignment = assignment.assign(travel_min=np.nan)
    r = reach(customers, assignment, STORES, bands=[1, 2, 3], mode="radius", holdout=0)
    # crow_km = minutes / 2: c4 3 km, c5 4.5 km (out), c9 2 km
    assert sorted(r.targets["customer_id"]) == ["c4", "c9"]
    assert dict(zip(r.targets["customer_id"], r.targets["band"].astype(str), strict=True)) == {
        "c4": "2-3", "c9": "1-2"}


def test_prepared_audience_is_reused_across_minutes(small):
    customers, assignment = small
    audience = prepare_audience(customers)
    counts = [compute_reach(audience, assignment, STORES, bands=[m], holdout=0)
              .waterfall["customers"].iloc[0] for m in (3, 5, 10, 30)]
    assert counts == [2, 4, 7, 8]


def test_summary_and_histogram(small):
    customers, assignment = small
    r = reach(customers, assignment, STORES, bands=[5, 10], holdout=0)
    s = r.summary()
    assert s["targets"] == len(r.targets) and s["holdout"] == 0
    assert [st["store_id"] for st in s["stores"]] == ["S1", "S2"]
    h = travel_histogram(r.targets, bin_width=5)
    assert h["treatment"].sum() == len(r.targets)


def test_bad_holdout_share(small):
    customers, assignment = small
    with pytest.raises(ValueError, match="holdout"):
        reach(customers, assignment, STORES, bands=[5], holdout=1.0)


# --- the command line on a real extract (last: needs the travel-time engine) -------------------

def _andorra_inputs(folder, shared_osm, n=1500):
    rng = np.random.default_rng(5)
    stores = pd.read_csv(shared_osm / "andorra-stores-50.csv").head(4)
    stores["address"] = ["=HYPERLINK(1)", "Carrer 2", "Carrer 3", "Carrer 4"]
    stores.to_csv(folder / "stores.csv", index=False)
    i = rng.integers(0, len(stores), n)
    customers = pd.DataFrame({
        "customer_id": [f"K{j:05d}" for j in range(n)],
        "email": [f"k{j}@ex.ad" for j in range(n)], "first_name": "Núria",
        "lat": stores.lat.to_numpy()[i] + rng.normal(0, 0.008, n),
        "lon": stores.lon.to_numpy()[i] + rng.normal(0, 0.008, n),
        "opted_in": rng.random(n) < 0.9, "unsubscribed": rng.random(n) < 0.1,
        "segment": rng.choice(["vip", "regular"], n)})
    customers.to_csv(folder / "customers.csv", index=False)
    return customers


def _run_cli(argv, capsys):
    import json

    from geo.cli import main
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_cli_reach_on_andorra(tmp_path, shared_osm, capsys, monkeypatch):
    from geo.targeting.codes import validate
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path / "data"))
    customers = _andorra_inputs(tmp_path, shared_osm)
    base = ["reach", "--network", shared_osm / "andorra.osm.pbf", "--stores",
            tmp_path / "stores.csv", "--customers", tmp_path / "customers.csv",
            "--mode", "drive", "--minutes", "5,10", "--holdout", "0.2", "--seed", "3"]
    code, summary, err = _run_cli(base + ["--campaign", "First", "--offer-start", "2026-06-01",
                                          "--offer-end", "2026-06-03",
                                          "--out", tmp_path / "first.csv"], capsys)
    assert code == 0, err
    out = pd.read_csv(tmp_path / "first.csv", dtype=str, keep_default_na=False)
    assert list(out.columns[:9]) == ["customer_id", "email", "first_name", "store_id",
                                     "store_name", "travel_min", "mode", "coupon_code", "group"]
    assert len(out) == summary["targets"] > 100
    bad = customers[~customers["opted_in"] | customers["unsubscribed"]]["customer_id"]
    assert not set(out["customer_id"]) & set(bad)                 # consent always holds
    assert out["travel_min"].astype(int).max() <= 10
    treat, hold = out[out["group"] == "treatment"], out[out["group"] == "holdout"]
    assert treat["coupon_code"].map(validate).all() and (hold["coupon_code"] == "").all()
    assert abs(len(hold) - 0.2 * len(out)) <= 1
    assert (out["store_address"] == "'=HYPERLINK(1)").any()       # neutralised in the file
    stores = {s["store_id"]: s for s in summary["stores"]}
    assert set(stores) == {"A01", "A02", "A03", "A04"}
    assert sum(s["treatment"] + s["holdout"] for s in stores.values()) == len(out)
    assert summary["waterfall"]["in_catchment"] >= summary["waterfall"]["opted_in"] \
        >= summary["targets"]
    assert summary["campaign"] == "First"

    # a second campaign skips everyone the first one contacts and never reuses a code
    code, second, err = _run_cli(base + ["--workspace", "default", "--campaign", "Second",
                                         "--exclude-contacted-days", "30",
                                         "--today", "2026-06-10", "--out",
                                         tmp_path / "second.csv"], capsys)
    assert code == 0, err
    assert second["waterfall"]["not_recently_contacted"] == \
        second["waterfall"]["not_suppressed"] - len(treat)
    again = pd.read_csv(tmp_path / "second.csv", dtype=str, keep_default_na=False)
    assert not set(again["customer_id"]) & set(treat["customer_id"])
    assert set(again["customer_id"]) >= set(hold["customer_id"])  # holdout was not contacted


def test_cli_reach_radius_and_errors(tmp_path, shared_osm, capsys, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path / "data"))
    _andorra_inputs(tmp_path, shared_osm, n=400)
    (tmp_path / "suppress.txt").write_text("K0@EX.AD\n k1@ex.ad \n", encoding="utf-8")
    args = ["reach", "--stores", tmp_path / "stores.csv", "--customers",
            tmp_path / "customers.csv", "--mode", "radius", "--km", "0.5,1",
            "--suppression", tmp_path / "suppress.txt", "--layout", "mailchimp",
            "--out", tmp_path / "mc.csv"]
    code, summary, err = _run_cli(args, capsys)
    assert code == 0, err
    mc = pd.read_csv(tmp_path / "mc.csv", dtype=str)
    assert mc.columns[0] == "Email Address" and "Distance km" in mc.columns
    assert len(mc) == summary["treatment"]                     # holdout never in a provider file
    assert not {"k0@ex.ad", "k1@ex.ad"} & set(mc["Email Address"])
    assert summary["unit"] == "km"
    code, _, err = _run_cli(args[:-2] + ["--mode", "drive", "--out", tmp_path / "x.csv"], capsys)
    assert code == 2 and "--network" in err
    code, _, err = _run_cli(args[:-2] + ["--km", "0,1", "--out", tmp_path / "x.csv"], capsys)
    assert code == 2 and "positive" in err
