"""The house plan holds: geo never imports Streamlit or the UI, and each stage imports only earlier ones.

Stages, in the order data flows: foundation (errors, keys, workspace, modes,
money, text, stats, campaign settings) ← data in ← road network ← catchments ←
targeting ← export | funnel (neither imports the other) ← views | scale (Parquet parts, which
write export layouts) ← demo ← the
command line. Nothing in ``geo`` imports the views but the views themselves.
Function-level imports count as much as module-level ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GEO = ROOT / "geo"
RANK = {"foundation": 0, "data": 1, "network": 2, "catchments": 3, "targeting": 4,
        "export": 5, "funnel": 5, "ads": 5, "scale": 6, "automation": 6, "brief": 6, "views": 6, "demo": 7,
        "commands": 8}
FORBIDDEN = ("streamlit", "ui", "app_pages", "app")


def stage(module: str) -> str:
    """The stage of a ``geo`` module name (``geo.targeting.reach`` → ``targeting``)."""
    parts = module.split(".")
    if len(parts) < 2:
        return "foundation"
    head = parts[1]
    if head in RANK:
        return head
    return "commands" if head in ("cli", "__main__") else "foundation"


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute names), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "geo":  # `from geo import x` names a module of geo
                found += [(node.lineno, f"geo.{a.name}") for a in node.names]
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def violations(paths: list[Path]) -> list[str]:
    """What breaks the plan in ``paths`` (files under ``geo``), one line each."""
    out = []
    for path in paths:
        me = module_name(path)
        mine = stage(me)
        for line, name in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {name}"
            if name.split(".")[0] in FORBIDDEN:
                out.append(f"{where}: geo never imports Streamlit, ui or the pages")
                continue
            if not name.startswith("geo.") or name == "geo":
                continue
            theirs = stage(name)
            if theirs == "views" and mine != "views":
                out.append(f"{where}: nothing in geo imports the views")
            elif RANK[theirs] > RANK[mine]:
                out.append(f"{where}: {mine} comes before {theirs} in the data flow")
            elif RANK[theirs] == RANK[mine] and theirs != mine:
                out.append(f"{where}: {mine} and {theirs} do not import each other")
    return out


def geo_files() -> list[Path]:
    return sorted(GEO.rglob("*.py"))


def test_geo_follows_the_house_plan():
    assert violations(geo_files()) == []


@pytest.mark.parametrize("source, module, broken", [
    ("import streamlit as st\n", "geo/data/x.py", "never imports Streamlit"),
    ("from ui.cache import table\n", "geo/targeting/x.py", "never imports Streamlit, ui"),
    ("def f():\n    from geo.targeting.reach import reach\n", "geo/network/x.py",
     "network comes before targeting"),
    ("from geo.funnel.lift import Lift\n", "geo/export/x.py", "export and funnel do not"),
    ("from geo.views.maps import OSM_ATTRIBUTION\n", "geo/demo/x.py", "nothing in geo imports the views"),
    ("from geo import demo\n", "geo/catchments/x.py", "catchments comes before demo"),
    ("from geo.data.schema import STORES\n", "geo/targeting/x.py", None),
])
def test_the_plan_check_catches_a_broken_rule(tmp_path, monkeypatch, source, module, broken):
    fake_root = tmp_path
    path = fake_root / module
    path.parent.mkdir(parents=True)
    path.write_text(source)
    monkeypatch.setattr(f"{__name__}.ROOT", fake_root)
    found = violations([path])
    assert (found == []) if broken is None else any(broken in v for v in found), found
