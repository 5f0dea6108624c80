"""Sign-in at the door of every page: OIDC through ``st.login`` when the secrets have ``[auth]``.

- With ``[auth]`` in ``.streamlit/secrets.toml``: nobody sees a page before
  signing in with the identity provider; the ``[access]`` section (allow-list,
  roles) decides who gets in and with which role (`geo.access.decide`); anyone
  else sees a refusal that shows nothing of any workspace.
- Without ``[auth]``: the operating-system user, as admin, as long as the server
  listens on loopback only; listening beyond it without sign-in shows no
  customer data, only how to configure sign-in.

`gate` runs in ``app.py`` before anything else; pages read the person acting
with `current_actor` and pass it to the domain functions, which check the role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from geo.access import AccessPolicy, Actor, decide, is_loopback, local_actor
from geo.errors import GeoError

ACTOR_KEY = "_geo_actor"
"""Session key of the `Actor` that `gate` let in on this run."""

SETUP_HELP = """\
Add to `.streamlit/secrets.toml` (git-ignored) — one OIDC provider, or several as `[auth.NAME]`:

```toml
[auth]
redirect_uri = "https://geo.example.com/oauth2callback"
cookie_secret = "<a long random string>"
client_id = "<from your identity provider>"
client_secret = "<from your identity provider>"
server_metadata_url = "https://login.example.com/.well-known/openid-configuration"

[access]
allow = ["example.com", "freelancer@gmail.com"]   # addresses or whole domains
default_role = "viewer"                            # viewer, marketer or admin
[access.roles]
admin = ["ana@example.com"]
marketer = ["max@example.com"]
```
"""


def _section(name: str) -> Mapping[str, Any] | None:
    """A top-level section of the secrets as a plain dict (None when absent or no secrets file)."""
    try:
        value = st.secrets.get(name)
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return None
    if value is None:
        return None
    return value.to_dict() if hasattr(value, "to_dict") else dict(value)


def auth_configured() -> bool:
    """True when the secrets have an ``[auth]`` section (sign-in is then required)."""
    return bool(_section("auth"))


def providers(auth: Mapping[str, Any]) -> list[str]:
    """Named providers (``[auth.NAME]`` with a ``client_id``), or ``[]`` for the single default one."""
    return [k for k, v in auth.items() if isinstance(v, Mapping) and "client_id" in v]


def _sign_in_page(auth: Mapping[str, Any]) -> None:
    st.title("O2O geo-targeting")
    st.write("Sign in with your company account to continue.")
    named = providers(auth)
    if not named:
        st.button("Sign in", type="primary", key="auth_login", on_click=st.login)
    for name in named:
        st.button(f"Sign in with {name.title()}", type="primary", key=f"auth_login_{name}",
                  on_click=st.login, args=(name,))


def _refusal_page(reason: str) -> None:
    st.title("Access refused")
    st.error(f"You are signed in, but {reason}. Ask an admin of this deployment to add you, "
             "or sign out and use another account.", icon="🚫")
    st.button("Sign out", key="auth_logout_refused", on_click=st.logout)


def _unprotected_page(address: str) -> None:
    st.title("Sign-in required")
    st.error(f"This server listens on {address or 'every network interface'}, beyond this "
             "machine, and no sign-in is configured: no customer data is shown. Either set "
             "`server.address = \"127.0.0.1\"` in `.streamlit/config.toml`, or configure "
             "sign-in.", icon="🔒")
    st.markdown(SETUP_HELP)


def gate() -> Actor:
    """Let the visitor in and return who they are, or show why not and stop the run.

    Returns
    -------
    Actor
        The signed-in person with their role, or (without ``[auth]``, on
        loopback) the operating-system user as admin. Also kept in the session
        for `current_actor`.
    """
    st.session_state.pop(ACTOR_KEY, None)
    auth = _section("auth")
    if not auth:
        address = str(st.get_option("server.address") or "")
        if not is_loopback(address):
            _unprotected_page(address)
            st.stop()
        actor = local_actor()
    else:
        if not st.user.is_logged_in:
            _sign_in_page(auth)
            st.stop()
        try:
            policy = AccessPolicy.from_settings(_section("access"))
        except GeoError as exc:
            st.error(f"The sign-in settings are unusable: {exc}", icon="⚠️")
            st.stop()
        decision = decide(policy, st.user.to_dict())
        if decision.actor is None:
            _refusal_page(decision.reason)
            st.stop()
        actor = decision.actor
    st.session_state[ACTOR_KEY] = actor
    return actor


def current_actor() -> Actor:
    """The person `gate` let in on this run (pass it to the functions that write or export).

    Without a gate on this run (a page run on its own, as some tests do), the
    local OS user when sign-in is off; with sign-in on, the run stops.
    """
    actor = st.session_state.get(ACTOR_KEY)
    if isinstance(actor, Actor):
        return actor
    if auth_configured():
        st.error("Sign in first.", icon="🔒")
        st.stop()
    return local_actor()


def sidebar_user(actor: Actor) -> None:
    """The user's name and role in the sidebar, with a sign-out button when signed in."""
    if actor.signed_in:
        st.caption(f"Signed in as **{actor.name}** ({actor.email}) · role: **{actor.role}**")
        st.button("Sign out", key="auth_logout", on_click=st.logout)
    else:
        st.caption(f"Local user **{actor.name}** · role: **{actor.role}** · sign-in off "
                   "(this machine only)")


def role_note(actor: Actor, what: str) -> str:
    """A line saying that ``actor``'s role does not allow ``what``, and who can change it."""
    return (f"Your role ({actor.role}) can see maps, counts and the funnel but not {what}; "
            "ask an admin of this deployment for another role.")
