"""Browser: on the reach page a slider move redraws the preview, the details follow, the CSV is right."""

from __future__ import annotations

import datetime as dt
import io
import shutil

import pandas as pd
import pytest

from geo.campaign_settings import load_settings
from geo.catchments.assign import assign_customers
from geo.export.downloads import CLI_COLUMNS
from geo.network.load import load_network
from geo.network.routing import Router
from geo.targeting.codes import validate_codes
from geo.targeting.live import bands_up_to
from geo.targeting.reach import reach
from geo.targeting.targets import TARGET_COLUMNS
from geo.workspace import open_workspace
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser


def stat(page, key: str) -> str:
    """A count of the live preview as shown (e.g. ``"12,345"``)."""
    return page.locator(f".rp-stat[data-stat='{key}'] .rp-stat-value").inner_text()


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
        canvas = page.locator("canvas.rp-map")
        page.wait_for_function(
            "() => Number(document.querySelector('canvas.rp-map')?.dataset.targetsDrawn) > 0",
            timeout=60_000)
        start = int(canvas.get_attribute("data-drawn"))
        before = stat(page, "targets")
        assert canvas.get_attribute("data-targets-drawn") == before.replace(",", "")

        slider = page.get_by_role("slider", name="Travel time (minutes)")
        slider.focus()
        minutes = start
        for _ in range(3):   # the preview redraws in the browser at once, step by step
            minutes -= 1
            page.keyboard.press("ArrowLeft")
            page.wait_for_function(
                "(m) => document.querySelector('canvas.rp-map').dataset.drawn === String(m)",
                arg=minutes, timeout=10_000)
        after = stat(page, "targets")
        assert after != before
        # the map draws exactly the targets counted
        assert canvas.get_attribute("data-targets-drawn") == after.replace(",", "")
        # once the slider rests, the details below follow and the value is remembered
        page.wait_for_function(
            """(m) => [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
                .some(e => e.innerText.includes(`catchment within ${m} min`))""", arg=minutes,
            timeout=60_000)
        wait_for_app(page)
        assert ws.settings()["reach"]["minutes"] == minutes
        r = reach(customers, assigned, stores, mode="walk", today=dt.date.today().isoformat(),
                  bands=bands_up_to(load_settings(ws).minutes, minutes), holdout=0.1, seed=0)
        assert after == f"{len(r.targets):,}"
        assert stat(page, "holdout") == f"{int((r.targets['group'] == 'holdout').sum()):,}"
        removed = r.waterfall.set_index("stage")["removed"]
        rules = page.locator(".rp-rules").inner_text()
        assert f"{removed['opted_in']:,} without consent" in rules
        assert f"{removed['one_per_email']:,} second records of an address" in rules
        assert f"{len(r.targets):,} targets" in page.locator(
            "[data-testid='stCaptionContainer']", has_text="catchment within").inner_text()

        with page.expect_download(timeout=120_000) as info:
            page.locator("[data-testid='stDownloadButton']", has_text="Target list (CSV)").locator(
                "button").click()
        download = info.value
        assert download.suggested_filename == "targets.csv"
        data = open(download.path(), "rb").read()

        # presses around the moment the slider settles (250 ms at rest): the server's answer
        # to an earlier value, arriving after a newer press, never pulls the slider back
        slider.focus()
        for i in range(4):
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(320 if i % 2 == 0 else 30)
        final = minutes + 4
        page.wait_for_function(
            """(m) => [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
                .some(e => e.innerText.includes(`catchment within ${m} min`))""", arg=final,
            timeout=60_000)
        wait_for_app(page)
        page.wait_for_timeout(500)
        assert slider.input_value() == str(final)
        assert canvas.get_attribute("data-drawn") == str(final)
        assert ws.settings()["reach"]["minutes"] == final
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
