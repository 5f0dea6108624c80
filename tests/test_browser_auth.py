"""Browser: the real st.login flow against the loopback OIDC provider (in, refused, sign-out)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.fakes.oidc import FakeOIDC
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser


def secrets_home(idp: FakeOIDC) -> str:
    """A HOME whose ``.streamlit/secrets.toml`` turns sign-in on against ``idp``."""
    home = Path(tempfile.mkdtemp(prefix="st-home-auth-"))
    (home / ".streamlit").mkdir()
    (home / ".streamlit" / "secrets.toml").write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"
cookie_secret = "a-long-random-cookie-secret-for-the-test-only"
client_id = "{idp.client_id}"
client_secret = "{idp.client_secret}"
server_metadata_url = "{idp.metadata_url}"

[access]
allow = ["acme.test"]
[access.roles]
admin = ["ada@acme.test"]
""", encoding="utf-8")
    return str(home)


def sidebar_text(page) -> str:
    return page.locator("[data-testid='stSidebar']").inner_text()


def sign_in(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/**", timeout=60_000)
    wait_for_app(page)


def test_sign_in_refusal_and_sign_out_through_the_identity_provider(demo_root):
    from playwright.sync_api import sync_playwright

    with FakeOIDC() as idp, \
            streamlit_server(demo_root, extra_env={"HOME": secrets_home(idp)}) as url, \
            sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            # signed out: only the sign-in page
            ada = browser.new_context(viewport={"width": 1300, "height": 900})
            page = ada.new_page()
            page.goto(url)
            wait_for_app(page)
            assert page.get_by_role("button", name="Sign in").is_visible()
            assert page.get_by_text("Workspace").count() == 0

            # an allowed admin signs in through the provider (code flow, RS256 ID token)
            idp.sign_in_as("ada@acme.test", name="Ada Admin")
            sign_in(page, url)
            page.get_by_text("Ada Admin").first.wait_for(timeout=60_000)
            assert "role: admin" in sidebar_text(page)
            assert idp.calls("authorize") == ["ada@acme.test"]
            assert idp.calls("token") == ["ada@acme.test"]
            # a second tab of the same browser is signed in too (the cookie)
            second = ada.new_page()
            second.goto(url)
            wait_for_app(second)
            assert "Ada Admin" in sidebar_text(second)
            second.close()

            # someone outside the allow-list gets in at the provider but not into the app
            eve_ctx = browser.new_context()
            eve = eve_ctx.new_page()
            idp.sign_in_as("eve@evil.test", name="Eve")
            sign_in(eve, url)
            eve.get_by_text("Access refused").wait_for(timeout=60_000)
            wait_for_app(eve)                  # the reason is written after the heading
            assert "not on this deployment's allow-list" in eve.inner_text("body")
            assert eve.locator("[data-testid='stSidebar']").count() == 0 or \
                "Workspace" not in sidebar_text(eve)

            # an unverified address of an allowed domain is refused too
            vic_ctx = browser.new_context()
            vic = vic_ctx.new_page()
            idp.sign_in_as("vic@acme.test", name="Vic", verified=False)
            sign_in(vic, url)
            vic.get_by_text("Access refused").wait_for(timeout=60_000)
            wait_for_app(vic)
            assert "has not verified vic@acme.test" in vic.inner_text("body")

            # sign-out: back to the sign-in page, through the provider's end-session endpoint
            page.locator("[data-testid='stSidebar']").get_by_role("button", name="Sign out").click()
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            assert page.get_by_text("Ada Admin").count() == 0
            assert len(idp.calls("logout")) == 1
            page.reload()
            wait_for_app(page)
            assert page.get_by_role("button", name="Sign in").is_visible()
        finally:
            browser.close()
