"""Browser: two sessions of one server on different workspaces never see each other's data."""

from __future__ import annotations

import re
import shutil

import pytest

from geo.audit import read_audit, record
from geo.text import plural
from geo.views.summary import headline_counts
from geo.workspace import create_workspace, open_workspace
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

OTHER = "Second shop"


@pytest.fixture()
def two_workspaces(demo_root, tmp_path):
    """The demo, and a second workspace with 500 of its customers, 3 stores and its own trail."""
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    demo = open_workspace("demo", root)
    other = create_workspace(OTHER, root)
    other.save_table("customers", demo.load_table("customers").head(500))
    other.save_table("stores", demo.load_table("stores").head(3))
    for _ in range(2):
        record(demo, "download", 11, layout="targets")
    for _ in range(5):
        record(other, "download", 7, layout="targets")
    return root


def expected_metrics(ws) -> str:
    c = headline_counts(ws.load_table("customers"), ws.load_table("stores"))
    return f"Customers {c['customers']:,} · Stores {c['stores']:,}"


def shown_metrics(page) -> str:
    text = page.locator("[data-testid='stMain']").inner_text()
    customers = re.search(r"Customers\s+([\d,]+)", text)
    stores = re.search(r"Stores\s+([\d,]+)", text)
    assert customers and stores, text[:500]
    return f"Customers {customers.group(1)} · Stores {stores.group(1)}"


def audit_label(page) -> str:
    return page.get_by_text(re.compile(r"^Audit trail of")).first.inner_text()


def open_at(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)


def test_two_sessions_on_different_workspaces_stay_apart(two_workspaces):
    from playwright.sync_api import sync_playwright

    demo, other = open_workspace("demo", two_workspaces), open_workspace(OTHER, two_workspaces)
    want = {"demo": expected_metrics(demo), OTHER: expected_metrics(other)}
    assert want["demo"] != want[OTHER]
    trail = {name: f"Audit trail of “{name}” "
                   f"({plural(len(read_audit(two_workspaces, name).events), 'event')})"
             for name in ("demo", OTHER)}
    assert trail["demo"] != trail[OTHER]
    with streamlit_server(two_workspaces) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            a = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            b = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            open_at(a, f"{url}/map")
            open_at(b, f"{url}/map?workspace={OTHER.replace(' ', '+')}")
            # interleaved: each session reruns after the other has filled the caches
            for _ in range(2):
                a.reload()
                wait_for_app(a)
                assert shown_metrics(a) == want["demo"]
                b.reload()
                wait_for_app(b)
                assert shown_metrics(b) == want[OTHER]

            open_at(a, f"{url}/data")
            open_at(b, f"{url}/data?workspace={OTHER.replace(' ', '+')}")
            assert audit_label(a) == trail["demo"]
            assert audit_label(b) == trail[OTHER]

            # B switches to the demo and back; A, in its own session, never moves
            box = b.locator("[data-testid='stSidebar']").get_by_role("combobox", name="Workspace")
            box.click()
            b.get_by_role("option", name="demo", exact=True).click()
            wait_for_app(b)
            assert audit_label(b) == trail["demo"]
            a.get_by_role("link", name="Map").click()
            wait_for_app(a)
            assert shown_metrics(a) == want["demo"]
            open_at(b, f"{url}/map?workspace={OTHER.replace(' ', '+')}")
            assert shown_metrics(b) == want[OTHER]
            open_at(a, f"{url}/map")
            assert shown_metrics(a) == want["demo"]
        finally:
            browser.close()
