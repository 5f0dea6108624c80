"""Server-side cell layers: counts per H3 cell add up, coarsen under a cap, and name the dominant store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from geo.cells import count_by_cell
from geo.data.consent import contactable
from geo.views.aggregate import aggregated, assigned_cells, cells_json, cells_layer, customer_cells, grid


def people(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)], "email": [f"c{i % (n - 3)}@x.org" for i in range(n)],
        "lat": 42.5 + rng.normal(0, 0.03, n), "lon": 1.55 + rng.normal(0, 0.03, n),
        "opted_in": rng.random(n) < 0.8, "unsubscribed": rng.random(n) < 0.1,
        "segment": rng.choice(["vip", "regular", "new"], n)})


def test_cells_count_every_customer_once_and_agree_with_the_grid():
    df = people(20_000)
    cells = customer_cells(df, max_cells=1_000_000)
    assert cells["n"].sum() == len(df) and cells.attrs["resolution"] == 9
    ref = count_by_cell(df["lat"].to_numpy(), df["lon"].to_numpy(), 9)
    from geo.cells import cell_hex
    assert dict(zip(cells["h"], cells["n"], strict=True)) == dict(zip(cell_hex(ref.index), ref.astype(int),
                                                                     strict=True))
    assert cells["opted_in"].sum() == int(contactable(df).sum())
    assert cells["unsubscribed"].sum() == int(df["unsubscribed"].sum())


def test_cells_coarsen_under_the_cap():
    df = people(20_000)
    fine = customer_cells(df, max_cells=1_000_000)
    capped = customer_cells(df, max_cells=300)
    assert len(capped) <= 300 < len(fine)
    assert capped.attrs["resolution"] < 9 and capped["n"].sum() == len(df)
    cells, index, res = grid(df["lat"].to_numpy(), df["lon"].to_numpy(), max_cells=300)
    assert res == capped.attrs["resolution"] and index.max() == len(cells) - 1


def test_assigned_cells_name_the_store_most_customers_go_to():
    lat = np.array([42.5, 42.5, 42.5, 42.5, 43.0, 43.0])
    lon = np.array([1.5, 1.5, 1.5, 1.5, 1.0, 1.0])
    df = pd.DataFrame({"customer_id": list("abcdef"), "lat": lat, "lon": lon})
    store = pd.Categorical(["S2", "S1", "S2", None, None, None], categories=["S1", "S2"])
    assigned = pd.DataFrame({"customer_id": list("abcdef"), "store_id": store})
    palette = {"S1": [1, 2, 3], "S2": [4, 5, 6]}
    cells = assigned_cells(df, assigned, palette).set_index("n")
    assert cells.loc[4, "store_id"] == "S2" and cells.loc[4, "reachable"] == 3
    assert cells.loc[4, "share"] == 0.5 and cells.loc[4, "c"][:3] == [4, 5, 6]
    assert "1 unreachable" in cells.loc[4, "tooltip"]
    assert cells.loc[2, "store_id"] == "" and cells.loc[2, "c"][:3] == [20, 20, 20]
    assert "none reaches a store" in cells.loc[2, "tooltip"]


def test_payload_is_bounded_by_cells_not_customers():
    small, large = people(5_000, 2), people(200_000, 3)
    a = cells_json(customer_cells(small, max_cells=2_000))
    b = cells_json(customer_cells(large, max_cells=2_000))
    rows = json.loads(b)
    assert len(rows) <= 2_000 and set(rows[0]) == {"h", "n", "cc", "sc", "tooltip"}
    assert len(b) < 2_000 * 200 and len(b) < 3 * len(a) + 100_000
    assert "@" not in b.decode()  # no e-mail leaves the server
    layer = cells_layer("/static/x.json", colour="cc")
    assert layer.type == "H3HexagonLayer" and layer.id == "customers"


def test_threshold():
    assert not aggregated(99_999) and aggregated(100_000) and aggregated(5, threshold=5)


def test_kind_cells_count_each_kind_and_leave_out_customers_of_none():
    from geo.views.aggregate import kind_cells
    from geo.views.maps import COMPARE_COLOURS

    rng = np.random.default_rng(3)
    n = 2_000
    customers = pd.DataFrame({"lat": 42.5 + rng.random(n) * 0.05, "lon": 1.5 + rng.random(n) * 0.05})
    draw = rng.integers(0, 4, n)                   # 3: in neither set
    kinds = {k: draw == i for i, k in enumerate(COMPARE_COLOURS)}
    cells = kind_cells(customers, kinds, max_cells=50)
    assert len(cells) <= 50
    assert int(cells["n"].sum()) == int((draw < 3).sum())
    for kind, mask in kinds.items():
        assert int(cells[kind].sum()) == int(mask.sum())
    top = cells[list(COMPARE_COLOURS)].to_numpy().argmax(axis=1)
    assert cells["kind"].tolist() == [list(COMPARE_COLOURS)[t] for t in top]
    assert all(c[:3] == COMPARE_COLOURS[k] for c, k in zip(cells["c"], cells["kind"], strict=True))
