"""Browser: on the reach page a minutes-slider move changes the counts, and the CSV download is right."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil

import pandas as pd
import pytest

from geo.assign import assign_customers
from geo.codes import validate_codes
from geo.network import load_network
from geo.reach import reach
from geo.reach_live import bands_up_to
from geo.routing import Router
from geo.targets import CLI_COLUMNS, TARGET_COLUMNS
from geo.workspace import open_workspace
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    return page.locator("[data-testid='stMetric']", has_text=label).locator(
        "[data-testid='stMetricValue']").inner_text()


def test_slider_move_changes_counts_and_csv_download(demo_root, tmp_path):
    from playwright.sync_api import sync_playwright

    root = tmp_path / "data"
    shutil.copytree(demo_root, root)   # the page remembers slider values in the workspace
    ws = open_workspace("demo", root)
    ws.update_settings(reach={})   # start from the defaults, whatever earlier tests remembered
    customers, stores = ws.load_table("customers"), ws.load_table("stores")
    router = Router.from_graph(load_network("demo", "walk", cache_dir=root / "cache" / "networks"))
    assigned = assign_customers(router, stores, customers, mode="walk")
    errors: list[str] = []
    with streamlit_server(root) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        wait_for_app(page)
        page.get_by_role("link", name="Reach & targets").click()
        wait_for_app(page)
        page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for(state="visible")
        caption = page.locator("[data-testid='stCaptionContainer']", has_text="Map:")
        start = int(re.search(r"within (\d+) min", caption.inner_text()).group(1))
        before = metric(page, "Targets")

        slider = page.locator("[data-testid='stSlider']", has_text="Travel time").get_by_role(
            "slider")
        minutes = start
        for _ in range(3):   # one step at a time, each confirmed, so no key press is lost
            minutes -= 1
            for _attempt in range(3):
                slider.focus()
                page.keyboard.press("ArrowLeft")
                try:
                    page.wait_for_function(
                        """(m) => [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
                            .some(e => e.innerText.includes(`within ${m} min`))""", arg=minutes,
                        timeout=30_000)
                    break
                except Exception:  # noqa: BLE001 - the press was lost while the app reran
                    continue
        wait_for_app(page)
        after = metric(page, "Targets")
        assert after != before
        r = reach(customers, assigned, stores, mode="walk", today=dt.date.today().isoformat(),
                  bands=bands_up_to(ws.settings()["minutes"], minutes), holdout=0.1, seed=0)
        assert after == f"{len(r.targets):,}"
        assert metric(page, "Holdout") == f"{int((r.targets['group'] == 'holdout').sum()):,}"

        with page.expect_download(timeout=120_000) as info:
            page.locator("[data-testid='stDownloadButton']", has_text="Target list (CSV)").locator(
                "button").click()
        download = info.value
        assert download.suggested_filename == "targets.csv"
        data = open(download.path(), "rb").read()
        browser.close()
    assert errors == [], errors

    assert not data.startswith(b"\xef\xbb\xbf")   # plain UTF-8 unless the Excel option is on
    csv = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert list(csv.columns) == list(CLI_COLUMNS) + [c for c in TARGET_COLUMNS
                                                     if c not in CLI_COLUMNS]
    assert len(csv) == len(r.targets)
    assert set(csv["customer_id"]) == set(r.targets["customer_id"])
    assert (csv["mode"] == "walk").all()
    held = csv["group"] == "holdout"
    assert held.sum() == int((r.targets["group"] == "holdout").sum())
    assert (csv.loc[held, "coupon_code"] == "").all()
    codes = csv.loc[~held, "coupon_code"]
    assert codes.is_unique and validate_codes(codes).all()
    assert pd.to_numeric(csv["travel_min"]).max() <= minutes
