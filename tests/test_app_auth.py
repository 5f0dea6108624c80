"""Sign-in at the door: the allow-list and roles decide who sees what; without sign-in, loopback only."""

from __future__ import annotations

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from geo.access import AccessPolicy, decide, is_loopback
from geo.audit import read_audit
from geo.errors import GeoError
from geo.workspace import open_workspace
from tests.conftest import APP

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 40,
        "client_id": "geo-app", "client_secret": "not-a-real-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
ACCESS = {"allow": ["acme.test", "guest@elsewhere.test"], "default_role": "viewer",
          "roles": {"admin": ["ada@acme.test"], "marketer": ["max@acme.test"]}}
POLICY = AccessPolicy.from_settings(ACCESS)


def person(email: str, *, verified: object = True, name: str = "Someone") -> dict:
    """ID-token claims as ``st.user`` holds them after sign-in."""
    return {"is_logged_in": True, "email": email, "email_verified": verified, "name": name}


# --- the policy (pure) ----------------------------------------------------------------------------
@pytest.mark.parametrize("email, role", [("ada@acme.test", "admin"), ("MAX@Acme.test ", "marketer"),
                                         ("vera@acme.test", "viewer"),
                                         ("guest@elsewhere.test", "viewer")])
def test_allowed_people_get_their_role(email, role):
    decision = decide(POLICY, person(email))
    assert decision.allowed and decision.actor.role == role
    assert decision.actor.email == email.strip().lower() and decision.actor.signed_in


@pytest.mark.parametrize("claims, reason", [
    (person("eve@evil.test"), "not on this deployment's allow-list"),
    (person("other@elsewhere.test"), "not on this deployment's allow-list"),
    (person("ada@acme.test.evil.test"), "not on this deployment's allow-list"),
    (person("ada@acme.test", verified=False), "has not verified ada@acme.test"),
    (person("ada@acme.test", verified="true"), "has not verified"),   # a string is not a yes
    ({"is_logged_in": True, "email": "ada@acme.test"}, "has not verified"),
    ({"is_logged_in": True, "name": "No Mail", "email_verified": True}, "no e-mail address"),
])
def test_refused_people_are_told_why(claims, reason):
    decision = decide(POLICY, claims)
    assert not decision.allowed and reason in decision.reason


def test_a_role_list_lets_its_people_in_and_the_highest_role_wins():
    policy = AccessPolicy.from_settings({"roles": {"marketer": ["acme.test"],
                                                   "admin": ["@acme.test"]}})
    assert decide(policy, person("x@acme.test")).actor.role == "admin"
    assert not decide(AccessPolicy.from_settings(None), person("x@acme.test")).allowed
    lax = AccessPolicy.from_settings({**ACCESS, "require_verified_email": False})
    assert decide(lax, {"email": "vera@acme.test"}).allowed


@pytest.mark.parametrize("bad", [{"roles": {"owner": ["a@b.c"]}}, {"allow": [1, 2]},
                                 {"default_role": "root"}])
def test_unusable_access_settings_are_named(bad):
    with pytest.raises(GeoError):
        AccessPolicy.from_settings(bad)


@pytest.mark.parametrize("address, loopback", [("127.0.0.1", True), ("localhost", True),
                                               ("::1", True), ("[::1]", True), ("127.0.1.1", True),
                                               ("0.0.0.0", False), ("", False), (None, False),
                                               ("192.168.1.5", False), ("geo.example.com", False)])
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


# --- the app (AppTest) ----------------------------------------------------------------------------
@pytest.fixture()
def address():
    """Set ``server.address`` for one test, then put it back."""
    before = st_config.get_option("server.address")
    yield lambda value: st_config.set_option("server.address", value)
    st_config.set_option("server.address", before)


def app(user: dict | None, *, access: dict | None = ACCESS, auth: dict | None = AUTH,
        page: str | None = None, secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.secrets.update(secrets or {})
    if auth is not None:
        at.secrets["auth"] = auth
        if access is not None:
            at.secrets["access"] = access
    if user is not None:
        at.user = user
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def shows_workspace(at: AppTest) -> bool:
    """True when any workspace content is on screen (the picker, a map, a table, a metric)."""
    return bool(len(at.sidebar.selectbox) or len(at.get("deck_gl_json_chart"))
                or len(at.dataframe) or len(at.metric))


def test_signed_out_visitors_see_only_the_sign_in_button(demo_env):
    at = app({"is_logged_in": False})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not shows_workspace(at)
    several = {**{k: AUTH[k] for k in ("redirect_uri", "cookie_secret")},
               "google": {k: AUTH[k] for k in ("client_id", "client_secret",
                                                "server_metadata_url")},
               "okta": {k: AUTH[k] for k in ("client_id", "client_secret",
                                              "server_metadata_url")}}
    at = app({"is_logged_in": False}, auth=several)
    assert [b.label for b in at.button] == ["Sign in with Google", "Sign in with Okta"]


def test_an_allowed_user_gets_in_with_name_and_role_and_can_sign_out(demo_env):
    at = app(person("max@acme.test", name="Max Marketer"))
    assert shows_workspace(at)
    assert any("Max Marketer" in c.value and "marketer" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="auth_logout").click().run()
    assert at.user == {"is_logged_in": False}
    assert [b.label for b in at.button] == ["Sign in"] and not shows_workspace(at)


@pytest.mark.parametrize("claims", [person("eve@evil.test"),
                                    person("ada@acme.test", verified=False)])
def test_a_refused_user_sees_nothing_of_any_workspace(demo_env, claims):
    at = app(claims)
    assert [t.value for t in at.title] == ["Access refused"]
    assert not shows_workspace(at)
    assert [b.label for b in at.button] == ["Sign out"]


def test_without_access_settings_nobody_gets_in(demo_env):
    at = app(person("ada@acme.test"), access=None)
    assert [t.value for t in at.title] == ["Access refused"] and not shows_workspace(at)


def test_beyond_loopback_without_sign_in_no_data_is_shown(demo_env, address):
    address("0.0.0.0")
    at = app(None, auth=None)
    assert [t.value for t in at.title] == ["Sign-in required"]
    assert not shows_workspace(at)
    assert any("[auth]" in m.value for m in at.markdown)
    # with sign-in configured, the same address is fine: the door is the sign-in
    at = app(person("ada@acme.test"))
    assert shows_workspace(at)


def test_on_loopback_without_sign_in_the_local_user_is_admin(demo_env, address):
    address("127.0.0.1")
    at = app(None, auth=None)
    assert shows_workspace(at)
    assert any("Local user" in c.value and "admin" in c.value for c in at.sidebar.caption)


def test_a_viewer_gets_counts_but_no_downloads_or_save(scratch_demo):
    at = app(person("vera@acme.test"), page="app_pages/reach.py")
    assert len(at.metric) > 0                                  # counts are shown
    assert not at.get("download_button")
    assert not [b for b in at.button if b.key == "reach_save"]
    assert any("role (viewer)" in i.value for i in at.info)
    at = app(person("max@acme.test"), page="app_pages/reach.py")
    assert len(at.get("download_button")) >= 4
    assert [b for b in at.button if b.key == "reach_save"]
    # showing the buttons records nothing: a download is recorded when its bytes are made
    assert "download" not in read_audit(scratch_demo, "demo").events["action"].tolist()


def test_only_an_admin_gets_the_export_button(scratch_demo, monkeypatch):
    from tests.fakes.mailchimp import FakeMailchimp

    monkeypatch.delenv("MAILCHIMP_API_KEY", raising=False)
    with FakeMailchimp() as fake:
        fake.add_list("aud1", "O2O customers")
        keys = {"MAILCHIMP_API_KEY": fake.api_key, "MAILCHIMP_BASE_URL": fake.url + "/3.0"}
        for who, can in (("max@acme.test", False), ("ada@acme.test", True)):
            at = app(person(who), page="app_pages/export.py", secrets=keys)
            at.button(key="export_dry_run").click().run()
            assert not at.exception, at.exception
            assert bool([b for b in at.button if b.key == "export_run"]) is can
            assert any("role (marketer)" in i.value for i in at.info) is not can
        assert fake.writes() == []


def test_a_viewer_cannot_delete_a_workspace_even_by_calling_the_callback(scratch_demo):
    """The Data page's delete callback reaches the domain, which refuses the viewer's role."""
    from geo.workspace import create_workspace

    create_workspace("doomed", scratch_demo)
    at = app(person("vera@acme.test"), page="app_pages/data.py")
    at.selectbox(key="data_delete_which").set_value("doomed").run()
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete").click().run()
    assert open_workspace("doomed", scratch_demo).exists()
    assert any("viewer role may not delete workspace" in e.value for e in at.error)
    at = app(person("ada@acme.test"), page="app_pages/data.py")
    at.selectbox(key="data_delete_which").set_value("doomed").run()
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete").click().run()
    events = read_audit(scratch_demo, "doomed").events
    assert events[["action", "who"]].values.tolist() == [["delete_workspace", "ada@acme.test"]]
    # the Data page lists the trail of the active workspace
    assert any("Audit trail" in e.label for e in at.expander)
