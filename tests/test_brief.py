"""The campaign brief: renders on the demo (PDF to PNG with pdftoppm), names every store, 1-2 pages."""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest

from geo.brief.content import campaign_brief, map_shapes
from geo.brief.render import brief_html, brief_pdf
from geo.cli import main
from geo.targeting.targets import save_campaign
from geo.workspace import create_workspace, open_workspace

DEMO = "Autumn weekend 2026"


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: install Debian poppler-utils (make test does)")
    return path


def pdf_text(path) -> str:
    return subprocess.run([poppler("pdftotext"), "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_brief_renders_on_the_demo(demo_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(demo_root))
    out, page = tmp_path / "brief.pdf", tmp_path / "brief.html"
    assert main(["brief", "--workspace", "demo", "--campaign", DEMO, "--out", str(out),
                 "--html", str(page)]) == 0
    summary = json.loads(capsys.readouterr().out)
    subprocess.run([poppler("pdftoppm"), "-r", "40", "-png", str(out), str(tmp_path / "page")],
                   check=True)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert 1 <= len(pngs) <= 2
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in pngs)
    text = " ".join(pdf_text(out).split())
    stores = open_workspace("demo", demo_root).load_table("stores")
    for name in stores["name"]:
        assert " ".join(str(name).split()) in text
    assert "How to take a code at the till" in text and "WEEKEND" in text
    assert len(pngs) == 2 and "Each store's targets" in text          # 8 stores: their own maps
    assert summary["stores"] == len(stores) and summary["has_forecast"] is True
    brief = campaign_brief(open_workspace("demo", demo_root), DEMO)
    assert summary["treatment"] == brief.totals["treatment"] > 0
    per_day = brief.stores.set_index("store_id")["expected_per_day"]
    assert (per_day * brief.days).round(6).equals(brief.stores.set_index("store_id")["expected"]
                                                  .round(6))
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html and all(str(n) in html for n in stores["name"])


def test_brief_without_history_or_locations_still_renders(tmp_path):
    ws = create_workspace("small", tmp_path)
    ws.save_table("stores", pd.DataFrame({"store_id": ["S1"], "name": ["Café Ärrä"],
                                          "lat": [60.17], "lon": [24.94]}))
    targets = pd.DataFrame({"customer_id": ["A", "B"], "email": ["a@example.com", "b@example.com"],
                            "store_id": ["S1", "S1"], "coupon_code": ["ABCD-EFGH-J", pd.NA],
                            "group": ["treatment", "holdout"], "band": ["0-5", "0-5"],
                            "offer_start": ["2026-11-01"] * 2, "offer_end": ["2026-11-07"] * 2})
    save_campaign(ws, "tiny", targets, {"mode": "walk", "bands": [5.0]})
    brief = campaign_brief(ws, "tiny")
    assert brief.days == 7 and not brief.has_forecast and brief.code_length == 9
    assert map_shapes(brief, 100, 60).stores[0][2] == "S1"        # no customer table: stores only
    pdf = brief_pdf(brief)
    path = tmp_path / "tiny.pdf"
    path.write_bytes(pdf)
    assert "Café Ärrä" in pdf_text(path)
    assert "No past campaign" in brief_html(brief)
