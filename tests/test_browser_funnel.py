"""Browser: the funnel page renders its Altair chart and the demo campaign's numbers in real Chromium."""

from __future__ import annotations

import re

import pytest

from geo.demo.campaign import CAMPAIGN_NAME
from geo.funnel.campaign import analyse_campaign
from geo.workspace import open_workspace
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser


def test_funnel_page_shows_chart_numbers_and_png_download(demo_root, tmp_path):
    from playwright.sync_api import sync_playwright

    result = analyse_campaign(open_workspace("demo", demo_root), CAMPAIGN_NAME)
    errors: list[str] = []
    failed: list[str] = []
    with streamlit_server(demo_root) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        page.goto(f"{url}/funnel")
        wait_for_app(page)
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        chart.locator("canvas, svg").first.wait_for(state="visible", timeout=60_000)
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150
        body = page.locator("[data-testid='stMain']").inner_text()
        for stage in ("targeted", "sent", "opened", "clicked", "redeemed"):
            assert re.search(rf"{stage.capitalize()}\s+{result.stages[stage]:,}", body), stage
        lift = result.lift_like_for_like.lift_abs * 100
        assert re.search(rf"Lift\s+\+{lift:.2f} pp", body)
        assert "like-for-like" in body
        button = page.locator("[data-testid='stDownloadButton'] button",
                              has_text="Chart as PNG").first
        with page.expect_download(timeout=60_000) as info:
            button.click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.name == "funnel-stages.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        browser.close()
    # Opened by deep link, Streamlit's frontend first probes /funnel/_stcore/... (404) and then
    # the root; those probes are the only failed requests allowed.
    assert all(f"{url}/funnel/_stcore/" in u for u in failed), failed
    real = [e for e in errors if not e.startswith("Failed to load resource")]
    assert real == [] and len(errors) - len(real) == len(failed), errors
