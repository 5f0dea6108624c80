"""Browser: the Map and Catchments pages of the default demo (Liechtenstein, drive), screenshotted.

Each map must fill at least 60 % of the main area's width and about 600 px of
height, with its legend on screen. The screenshots go to a temporary folder; set
``SCREENSHOTS_DIR=docs/screenshots`` to refresh the ones the README shows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.streamlit_server import collect_errors, launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser



@pytest.fixture()
def li_scratch(li_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(li_root, root)
    return root


def map_share(page) -> tuple[float, float]:
    """(map width / main area width, map height in px) of the first deck.gl map."""
    main = page.locator("[data-testid='stMain'] [data-testid='stMainBlockContainer']").first
    canvas = page.locator("[data-testid='stDeckGlJsonChart']").first
    canvas.locator("canvas").first.wait_for(state="visible", timeout=90_000)
    m, c = main.bounding_box(), canvas.bounding_box()
    assert m and c
    return c["width"] / m["width"], c["height"]


def test_map_and_catchments_pages_fill_the_width(li_scratch, tmp_path):
    from playwright.sync_api import sync_playwright

    SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path / "screenshots")  # noqa: N806

    errors: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server(li_scratch) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        collect_errors(page, errors)
        page.goto(url)
        wait_for_app(page)
        page.get_by_text("Opted in").first.wait_for(timeout=90_000)
        share, height = map_share(page)
        assert share >= 0.6, share
        assert 560 <= height <= 640, height
        body = page.locator("[data-testid='stMain']").inner_text()
        assert "most customers per hexagon" in body and "OpenStreetMap contributors" in body
        page.wait_for_timeout(2500)   # let deck.gl fetch and draw the static layers
        page.screenshot(path=str(SHOTS / "map.png"), full_page=False)

        page.goto(f"{url}/catchments")
        wait_for_app(page)
        page.get_by_text("Customers within 15 min").wait_for(timeout=120_000)
        share, height = map_share(page)
        assert share >= 0.6, share
        assert 560 <= height <= 640, height
        body = page.locator("[data-testid='stMain']").inner_text()
        assert "≤ 5 min" in body and "≤ 15 min" in body          # bands named in minutes
        assert "Coop Schaan" in body                            # store colours listed by name
        page.wait_for_timeout(2500)
        page.screenshot(path=str(SHOTS / "catchments.png"), full_page=False)
        compare = page.locator("[data-testid='stDeckGlJsonChart']").nth(1)
        compare.scroll_into_view_if_needed()
        page.mouse.wheel(0, 250)      # the sentence above the map and the map in one view
        page.wait_for_timeout(2500)
        assert page.get_by_text("a radius misses these").first.is_visible()
        page.screenshot(path=str(SHOTS / "radius-versus-time.png"), full_page=False)
        browser.close()
    assert errors == [], errors
    for name in ("map.png", "catchments.png", "radius-versus-time.png"):
        assert (SHOTS / name).stat().st_size > 20_000
