"""Browser: the map page renders in real headless Chromium with WebGL and no console errors."""

from __future__ import annotations

import re

import pytest

from geo.views.summary import headline_counts
from geo.workspace import open_workspace
from tests.streamlit_server import (
    collect_errors,
    launch_browser,
    streamlit_server,
    wait_for_app,
    webgl2_available,
)

pytestmark = pytest.mark.browser


def test_map_page_renders_with_webgl_and_counts(demo_root):
    from playwright.sync_api import sync_playwright

    ws = open_workspace("demo", demo_root)
    counts = headline_counts(ws.load_table("customers"), ws.load_table("stores"))
    errors: list[str] = []
    static_requests: list[str] = []
    with streamlit_server(demo_root) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        collect_errors(page, errors)
        page.on("request", lambda r: static_requests.append(r.url) if "/app/static/" in r.url else None)
        page.goto(url)
        wait_for_app(page)
        assert webgl2_available(page)
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
        canvas.wait_for(state="visible", timeout=60_000)
        box = canvas.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        body = page.locator("[data-testid='stMain']").inner_text()
        assert re.search(rf"Customers\s+{counts['customers']:,}", body)
        assert re.search(rf"Opted in\s+{counts['opted_in']:,}", body)
        assert re.search(rf"Stores\s+{counts['stores']}", body)
        page.wait_for_timeout(1500)   # let deck.gl fetch the static layers
        assert any("customers-" in u for u in static_requests)
        assert any("roads-" in u for u in static_requests)
        browser.close()
    assert errors == [], errors
