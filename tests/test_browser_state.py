"""Browser: what the marketer set stays set (the workspace survives a reload and a shared link)."""

from __future__ import annotations

import re
import shutil

import pytest

from geo.workspace import create_workspace, open_workspace
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

OTHER = "Second shop"


@pytest.fixture()
def two_workspaces(demo_root, tmp_path):
    """The demo plus a second workspace with 500 of its customers and its stores."""
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    demo = open_workspace("demo", root)
    other = create_workspace(OTHER, root)
    other.save_table("customers", demo.load_table("customers").head(500))
    other.save_table("stores", demo.load_table("stores"))
    return root


def sidebar_workspace(page) -> str:
    return page.locator("[data-testid='stSidebar']").get_by_role(
        "combobox", name="Workspace").input_value()


def test_reload_and_a_shared_link_keep_the_workspace(two_workspaces):
    from playwright.sync_api import sync_playwright

    with streamlit_server(two_workspaces) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        wait_for_app(page)
        box = page.locator("[data-testid='stSidebar']").get_by_role("combobox", name="Workspace")
        box.click()
        page.get_by_role("option", name=OTHER, exact=True).click()
        wait_for_app(page)
        main = page.locator("[data-testid='stMain']")
        page.wait_for_function("() => location.search.includes('workspace=')", timeout=30_000)
        assert re.search(r"Customers\s+500\b", main.inner_text())

        page.get_by_role("link", name="Catchments").click()
        page.wait_for_url(re.compile(r"/catchments"), timeout=60_000)
        wait_for_app(page)
        assert "workspace=Second" in page.url
        page.reload()
        wait_for_app(page)
        assert sidebar_workspace(page) == OTHER

        shared = browser.new_page()                      # a colleague opens the same link
        shared.goto(page.url.replace("/catchments", "/map"))
        wait_for_app(shared)
        assert sidebar_workspace(shared) == OTHER
        assert re.search(r"Customers\s+500\b",
                         shared.locator("[data-testid='stMain']").inner_text())

        gone = browser.new_page()                        # a link to a deleted workspace
        gone.goto(f"{url}/map?workspace=Gone")
        wait_for_app(gone)
        assert sidebar_workspace(gone) == "demo"
        assert "names workspace “Gone”, which does not exist" in gone.locator(
            "[data-testid='stSidebar']").inner_text()
        browser.close()
