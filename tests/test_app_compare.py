"""AppTest: radius versus travel time on the Catchments and Reach pages of the default (Liechtenstein) demo."""

from __future__ import annotations

import json
import shutil

import pytest

from geo.catchments.compare import compare_counts, distances, sentence
from geo.network.load import load_network
from geo.network.routing import Router
from geo.workspace import open_workspace
from tests.conftest import run_app


@pytest.fixture()
def li_env(li_root, tmp_path, monkeypatch):
    root = tmp_path / "data"
    shutil.copytree(li_root, root)
    monkeypatch.setenv("GEO_DATA_DIR", str(root))
    return root


def test_catchments_page_compares_a_radius_with_drive_minutes(li_env):
    """Counts, sentence and best radius on the page equal `compare_counts` (5 min band by default)."""
    at = run_app("app_pages/catchments.py")
    assert not at.exception, at.exception
    at.slider(key="cmp_km").set_value(3.0).run()
    assert not at.exception, at.exception
    ws = open_workspace("demo", li_env)
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    network = ws.settings()["network"]
    router = Router.from_graph(load_network(network, "drive", cache_dir=li_env / "cache" / "networks"))
    want = compare_counts(distances(router, stores, customers, mode="drive"), customers, 3.0, 5.0)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["In both"] == f"{want['overall']['both']:,}"
    assert metrics["Radius only: wasted mails"] == f"{want['overall']['radius_only']:,}"
    assert metrics["Travel time only: missed"] == f"{want['overall']['time_only']:,}"
    first = str(stores["store_id"].iloc[0])
    name = str(stores["name"].iloc[0])
    at.selectbox(key="cmp_store").set_value(first).run()
    assert sentence(name, want["by_store"][first], 3.0, 5.0, "drive") in [i.value for i in at.info]
    at.select_slider(key="cmp_minutes").set_value(15.0).run()     # another band: other counts
    wide = compare_counts(distances(router, stores, customers, mode="drive"), customers, 3.0, 15.0)
    assert {m.label: m.value for m in at.metric}["Travel time only: missed"] == \
        f"{wide['overall']['time_only']:,}"
    at.select_slider(key="cmp_minutes").set_value(5.0).run()
    table = next(df.value for df in at.dataframe if "best_km" in df.value.columns)
    assert table.set_index("store_id")["best_km"].to_dict() == {
        sid: c["best_km"] for sid, c in want["by_store"].items()}
    decks = [json.loads(d.proto.json) for d in at.get("deck_gl_json_chart")]
    compare = next(d for d in decks if any(layer["id"] == "radius" for layer in d["layers"]))
    radius = next(layer for layer in compare["layers"] if layer["id"] == "radius")
    assert radius["getRadius"] == 3000.0
    assert [layer["id"] for layer in compare["layers"]] == [
        "roads", "catchments", "customers", "radius", "stores"]


def test_reach_page_has_the_radius_line(li_env):
    at = run_app("app_pages/reach.py")
    assert not at.exception, at.exception
    lines = [c.value for c in at.caption if "Against a" in c.value]
    assert len(lines) == 1 and "wasted mails" in lines[0] and "missed" in lines[0]
