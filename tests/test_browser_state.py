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


def set_slider(page, slider, target: int) -> None:
    """Press arrow keys on a focused slider until it shows ``target`` (keys can be lost under load)."""
    for _ in range(30):
        now = int(float(slider.input_value()))
        if now == target:
            return
        slider.focus()
        page.keyboard.press("ArrowLeft" if now > target else "ArrowRight")
        page.wait_for_timeout(150)
    raise AssertionError(f"the slider did not reach {target}")


def metric_text(page) -> str:
    return " | ".join(page.locator("[data-testid='stMetric']").all_inner_texts())


def test_bands_set_on_catchments_reach_the_saved_campaign(two_workspaces):
    from playwright.sync_api import sync_playwright

    from geo.campaign_settings import load_settings

    with streamlit_server(two_workspaces) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        wait_for_app(page)
        page.get_by_role("link", name="Catchments").click()
        wait_for_app(page)
        slider = page.locator("[data-testid='stSlider']", has_text="Longest band").get_by_role(
            "slider")
        set_slider(page, slider, 12)                         # 15 → 12 minutes
        page.get_by_text("Bands: 4, 8, 12 min").wait_for(timeout=120_000)
        wait_for_app(page)
        ws = open_workspace("demo", two_workspaces)
        assert load_settings(ws).minutes == (4.0, 8.0, 12.0)

        page.get_by_role("link", name="Reach & targets").click()
        wait_for_app(page)
        page.get_by_role("textbox", name="Campaign name").fill("Twelve minutes")
        page.get_by_role("textbox", name="Campaign name").press("Enter")
        wait_for_app(page)
        page.get_by_role("button", name="Save campaign").click()
        page.get_by_text("Saved campaign 'Twelve minutes'").wait_for(timeout=120_000)
        browser.close()
    targets = open_workspace("demo", two_workspaces).load_campaign_file("Twelve minutes",
                                                                       "targets")
    assert set(targets["band"].astype(str)) == {"0-4", "4-8", "8-12"}
    params = open_workspace("demo", two_workspaces).campaign_meta("Twelve minutes")["params"]
    assert params["bands"] == [4.0, 8.0, 12.0] and params["currency"] == "EUR"


def test_a_corrupt_network_upload_leaves_the_selection_and_results(two_workspaces):
    from playwright.sync_api import sync_playwright

    with streamlit_server(two_workspaces) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        wait_for_app(page)
        page.get_by_role("link", name="Catchments").click()
        wait_for_app(page)
        main = page.locator("[data-testid='stMain']")
        main.locator("[data-testid='stRadio']").get_by_text("Drive", exact=True).click()
        wait_for_app(page, timeout_ms=240_000)               # the drive network is built once
        page.get_by_text("Customers within 15 min").wait_for(timeout=120_000)
        chosen = main.locator("[data-testid='stMultiSelect'] [aria-label='Selected values'] [data-tag]")
        n_chosen, before = chosen.count(), metric_text(page)
        assert n_chosen == 8

        page.get_by_text("Road network", exact=True).click()
        main.locator("[data-testid='stRadio']").get_by_text("Upload an OSM file").click()
        wait_for_app(page)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(files=[{
            "name": "broken.osm.pbf", "mimeType": "application/octet-stream",
            "buffer": b"\x00\x01 definitely not a pbf file" * 20}])
        wait_for_app(page)
        page.get_by_role("button", name="Use this file").click()
        page.get_by_text("Could not use broken.osm.pbf").wait_for(timeout=60_000)
        wait_for_app(page)
        assert chosen.count() == n_chosen
        drive = main.locator("[data-testid='stRadio'] label", has_text="Drive")
        assert drive.locator("input").is_checked()
        assert metric_text(page) == before
        browser.close()


def test_an_import_shows_its_changes_first_and_can_be_undone(two_workspaces):
    from playwright.sync_api import sync_playwright

    ws = open_workspace(OTHER, two_workspaces)
    small = ws.load_table("customers").head(30).copy()
    small.loc[0, "first_name"] = "Renamed"
    payload = small.to_csv(index=False).encode()
    with streamlit_server(two_workspaces) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1500, "height": 1200})
        page.goto(f"{url}/data?workspace=Second+shop")
        wait_for_app(page)
        page.goto(f"{url}/data?workspace=Second+shop")
        page.get_by_text(f"Import a file into “{OTHER}”").wait_for(timeout=60_000)
        main = page.locator("[data-testid='stMain']")
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
            files=[{"name": "small.csv", "mimeType": "text/csv", "buffer": payload}])
        page.get_by_text("First rows of small.csv").wait_for(timeout=60_000)
        wait_for_app(page)
        main.locator("[data-testid='stRadio']").get_by_text("Replace all customers").click()
        wait_for_app(page)
        assert page.get_by_role("button", name=re.compile("^Import into")).is_disabled()
        page.get_by_role("button", name="Check only").click()
        page.get_by_text("Checked only: nothing was stored").wait_for(timeout=60_000)
        assert "0 new, 1 updated, 29 unchanged, 470 removed" in main.inner_text()
        assert len(ws.load_table("customers")) == 500
        page.get_by_text("Yes, replace: every stored customer that").click()
        wait_for_app(page)
        page.get_by_role("button", name=re.compile("^Import into")).click()
        page.get_by_text("Stored 30 customers").wait_for(timeout=60_000)
        wait_for_app(page)
        assert len(ws.load_table("customers")) == 30
        page.get_by_role("button", name=re.compile("^Undo the last import of customers")).click()
        page.get_by_text("Undid the import of small.csv").wait_for(timeout=60_000)
        browser.close()
    assert len(ws.load_table("customers")) == 500
