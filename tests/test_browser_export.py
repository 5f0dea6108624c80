"""Browser: a dry run and a confirmed export on the Export page against a loopback Brevo fake."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from geo.export import dry_run, make_adapter, prepare_targets
from geo.export.recipients import with_current_consent
from geo.targeting.targets import load_campaign
from geo.workspace import open_workspace
from tests.fakes.brevo import FakeBrevo
from tests.streamlit_server import (
    collect_errors,
    launch_browser,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser

CAMPAIGN = "Autumn weekend 2026"


def test_dry_run_and_export_to_a_fake_brevo(demo_root, tmp_path):
    from playwright.sync_api import sync_playwright

    root = tmp_path / "data"                      # own copy: its own export journal
    shutil.copytree(demo_root, root)
    ws = open_workspace("demo", root)
    targets = with_current_consent(load_campaign(ws, CAMPAIGN).targets, ws.load_table("customers"))
    eligible = prepare_targets(targets).eligible
    errors: list[str] = []
    with FakeBrevo() as fake:
        lid = fake.add_list("O2O customers")
        plan = dry_run(targets, make_adapter("brevo"), str(lid)).summary
        env = {"BREVO_API_KEY": fake.api_key, "BREVO_BASE_URL": fake.url + "/v3",
               "EXPORT_POLL_SECONDS": "0.05"}
        with streamlit_server(root, extra_env=env) as url, sync_playwright() as pw:
            browser = launch_browser(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                    accept_downloads=True)
            collect_errors(page, errors)
            page.goto(f"{url}/export")
            wait_for_app(page)
            main = page.locator("[data-testid='stMain']")

            main.locator("[data-testid='stSelectbox']").filter(has_text="Provider").click()
            page.get_by_role("option", name="Brevo").click()
            wait_for_app(page)
            main.get_by_text("Brevo list").wait_for(timeout=30_000)

            main.get_by_role("button", name="Dry run").click()
            wait_for_app(page)
            body = main.inner_text()
            assert re.search(rf"Recipients to upload\s+{plan['recipients']:,}", body)
            assert re.search(r"Held out \(never exported\)\s+1,621", body)
            assert fake.writes() == []

            main.get_by_text("I confirm: upload").click()
            wait_for_app(page)
            main.get_by_role("button", name="Export now").click()
            main.get_by_text("Export complete").wait_for(timeout=120_000)
            wait_for_app(page)
            body = main.inner_text()
            assert re.search(rf"Accepted\s+{len(eligible):,}", body)
            assert re.search(r"Still open\s+0", body)

            with page.expect_download() as info:
                main.get_by_role("button", name="Download the report (CSV)").click()
            report = pd.read_csv(info.value.path())
            browser.close()
    assert report["status"].value_counts().to_dict() == {"accepted": len(eligible),
                                                         "excluded": 1621}
    assert set(fake.contacts) == set(eligible["email"])
    assert all(c["listIds"] == {lid} and not c["emailBlacklisted"] for c in fake.contacts.values())
    assert len(fake.processes) == plan["batches"]
    assert errors == [], errors
