"""Browser: the server is killed (SIGKILL) in the middle of an export; a new server resumes it and
nobody is sent twice."""

from __future__ import annotations

import re
import shutil
import signal
import threading
from collections import Counter

import psutil
import pytest

from geo.audit import read_audit
from geo.export.recipients import prepare_targets, with_current_consent
from geo.targeting.targets import load_campaign
from geo.workspace import open_workspace
from tests.fakes.klaviyo import FakeKlaviyo
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

CAMPAIGN = "Autumn weekend 2026"
POLL = r"/profile-bulk-import-jobs/[^/]+$"
SUBMIT = r"/profile-bulk-import-jobs$"


class HeldKlaviyo(FakeKlaviyo):
    """Klaviyo that holds every poll once its second job was submitted, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.held = threading.Event()
        self.release = threading.Event()

    def before(self, req):
        if (req.method == "GET" and re.search(POLL, req.path) and not self.release.is_set()
                and len(self.requests("POST", SUBMIT)) >= 2):
            self.held.set()
            self.release.wait(120)
        return super().before(req)


def server_process(url: str) -> psutil.Process:
    """The `streamlit run` child of this test serving ``url``."""
    port = url.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        try:
            cmd = child.cmdline()
        except psutil.Error:
            continue
        if "streamlit" in cmd and port in cmd:
            return child
    raise AssertionError(f"no streamlit process serves {url}")


def start_export(page, url: str, *, resume: bool) -> None:
    page.goto(f"{url}/export")
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_role("combobox", name="Provider").click()
    page.get_by_role("option", name="Klaviyo", exact=True).click()
    wait_for_app(page)
    main.get_by_role("button", name="Dry run").click()
    wait_for_app(page)
    if resume:
        main.get_by_text("still to send").wait_for(timeout=60_000)
    main.get_by_text("I confirm").click()
    wait_for_app(page)
    main.get_by_role("button", name="Resume export" if resume else "Export now").click()


def test_a_killed_server_resumes_the_export_without_sending_anyone_twice(demo_root, tmp_path):
    from playwright.sync_api import sync_playwright

    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    ws = open_workspace("demo", root)
    eligible = prepare_targets(with_current_consent(load_campaign(ws, CAMPAIGN).targets,
                                                    ws.load_table("customers"))).eligible
    with HeldKlaviyo() as fake, sync_playwright() as pw:
        fake.add_list("Xy12", "O2O customers")
        env = {"KLAVIYO_API_KEY": fake.api_key, "KLAVIYO_BASE_URL": fake.url,
               "EXPORT_POLL_SECONDS": "0.05"}
        browser = launch_browser(pw)
        try:
            with streamlit_server(root, extra_env=env) as url:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                start_export(page, url, resume=False)
                assert fake.held.wait(180), "the export never reached its second job"
                killed = server_process(url)
                killed.send_signal(signal.SIGKILL)                   # mid-export, no clean-up
                killed.wait(30)
            fake.release.set()
            jobs_before = len(fake.requests("POST", SUBMIT))
            assert 2 <= jobs_before and len(fake.profiles) < len(eligible)

            with streamlit_server(root, extra_env=env) as url:          # a new server
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                start_export(page, url, resume=True)
                page.get_by_text("Finished").or_(page.get_by_text("Accepted")).first.wait_for(
                    timeout=300_000)
                wait_for_app(page)
        finally:
            browser.close()
    sent = Counter(p["attributes"]["email"] for j in fake.jobs.values() for p in j["profiles"])
    assert set(sent) == set(eligible["email"])          # everyone eligible, once
    assert set(sent.values()) == {1}
    trail = read_audit(root, "demo").events
    assert trail["action"].tolist()[-1] == "export"
    assert trail["count"].iloc[-1] == len(eligible)
