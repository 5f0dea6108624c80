"""Who may do what: the roles (viewer, marketer, admin), the actions they allow, and the person acting.

Three roles, each allowing everything the one before it allows:

- ``viewer``: maps, counts, funnel (reads only);
- ``marketer``: also imports data, saves campaigns and downloads target lists;
- ``admin``: also exports to providers, runs automation rules and deletes
  workspaces or campaigns.

The functions that write, download or export take the `Actor` doing it and
call `require` before they act, so hiding a button is never the only guard.
Without sign-in the actor is the operating-system user with the admin role
(`local_actor`): one person on their own machine, as before sign-in existed.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geo.errors import GeoError
from geo.keys import email_key

ROLES = ("viewer", "marketer", "admin")
"""The roles, from the least to the most allowed."""

ACTIONS: dict[str, str] = {
    "view": "viewer",
    "import": "marketer",
    "undo_import": "marketer",
    "create_workspace": "marketer",
    "save_campaign": "marketer",
    "download": "marketer",
    "export": "admin",
    "automation": "admin",
    "delete_workspace": "admin",
    "delete_campaign": "admin",
}
"""Each action and the least role that may do it."""


class AccessDenied(GeoError, PermissionError):
    """The actor's role does not allow the action (names both, and the role it needs)."""

    def __init__(self, role: str, action: str, needed: str) -> None:
        self.role, self.action, self.needed = role, action, needed
        super().__init__(f"the {role} role may not {action.replace('_', ' ')}: it needs the "
                         f"{needed} role; ask an admin to change your role in the sign-in "
                         "settings ([access.roles] in .streamlit/secrets.toml)")


def check_role(role: str) -> str:
    """Return ``role`` if it is one of `ROLES`, else raise `GeoError` naming the known roles."""
    if role not in ROLES:
        raise GeoError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def allows(role: str, action: str) -> bool:
    """True when ``role`` may do ``action`` (an unknown action is never allowed)."""
    needed = ACTIONS.get(action)
    if needed is None or role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def require(role: str, action: str) -> None:
    """Raise `AccessDenied` unless ``role`` may do ``action``.

    Raises
    ------
    GeoError
        When ``action`` is not one of `ACTIONS` (a programming error, named).
    AccessDenied
        When the role does not allow it.
    """
    if action not in ACTIONS:
        raise GeoError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    if not allows(role, action):
        raise AccessDenied(role, action, ACTIONS[action])


@dataclass(frozen=True)
class Actor:
    """The person acting: recorded in the audit trail, and their role checked.

    Parameters
    ----------
    name
        Display name (the provider's ``name`` claim, or the OS user name).
    role
        One of `ROLES`.
    email
        The verified e-mail address when signed in, else None.
    signed_in
        True when the identity comes from the identity provider.
    """

    name: str
    role: str
    email: str | None = None
    signed_in: bool = False

    @property
    def who(self) -> str:
        """The identity written to the audit trail: the e-mail when signed in, else the name."""
        return self.email or self.name

    def require(self, action: str) -> None:
        """`require` this actor's role for ``action``."""
        require(self.role, action)


def os_user() -> str:
    """The operating-system user running this process (``unknown`` when it cannot be told)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def local_actor() -> Actor:
    """The actor without sign-in: the OS user, admin (the single-user, loopback-only case)."""
    return Actor(name=os_user(), role="admin")


def actor_or_local(actor: Actor | None) -> Actor:
    """``actor``, or `local_actor` when None (the default of every guarded function)."""
    return actor if actor is not None else local_actor()


# --- who gets in: the allow-list and the roles (the ``[access]`` section of the secrets) ----------


@dataclass(frozen=True)
class AccessPolicy:
    """Who may sign in and with which role, read from the ``[access]`` section of the secrets.

    Entries are e-mail addresses (``ana@acme.com``) or whole domains (``acme.com``
    or ``@acme.com``), compared without case or surrounding blanks (`geo.keys.email_key`).

    Parameters
    ----------
    allow
        Who may sign in (besides everyone named in ``roles``).
    roles
        ``{role: entries}``: the role of the people an entry names; a person named
        under several roles gets the highest.
    default_role
        The role of an allowed person no ``roles`` entry names.
    require_verified_email
        Refuse an identity whose ``email_verified`` claim is not true (keep it
        true unless the provider never sends the claim and vouches for addresses).
    """

    allow: tuple[str, ...] = ()
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_role: str = "viewer"
    require_verified_email: bool = True

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> AccessPolicy:
        """Build the policy from the ``[access]`` mapping (None or empty: nobody gets in).

        Raises
        ------
        GeoError
            When a role is unknown or a list is not a list of strings (names the key).
        """
        settings = dict(settings or {})
        roles_in = dict(settings.get("roles") or {})
        for role in roles_in:
            check_role(str(role))
        return cls(allow=_entries(settings.get("allow"), "access.allow"),
                   roles={str(r): _entries(v, f"access.roles.{r}") for r, v in roles_in.items()},
                   default_role=check_role(str(settings.get("default_role", "viewer"))),
                   require_verified_email=bool(settings.get("require_verified_email", True)))


def _entries(value: object, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise GeoError(f"{key} in .streamlit/secrets.toml must be a list of e-mail addresses or "
                       "domains, e.g. [\"ana@acme.com\", \"acme.com\"]")
    return tuple(e for e in (str(v).strip().lower().lstrip("@") for v in value) if e)


def _names(entries: tuple[str, ...], email: str) -> bool:
    domain = email.rpartition("@")[2]
    return any(e == email if "@" in e else e == domain for e in entries)


@dataclass(frozen=True)
class Decision:
    """The outcome of `decide`: the `Actor` let in, or the reason for refusing."""

    actor: Actor | None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        """True when the person gets in."""
        return self.actor is not None


def decide(policy: AccessPolicy, claims: Mapping[str, Any]) -> Decision:
    """Let a signed-in identity in with its role, or say why not.

    Parameters
    ----------
    policy
        The allow-list and roles.
    claims
        The identity provider's ID-token claims (``email``, ``email_verified``,
        ``name``...), as ``st.user`` holds them.
    """
    email = email_key(claims.get("email"))
    if not email or "@" not in email:
        return Decision(None, "the identity provider sent no e-mail address")
    if policy.require_verified_email and claims.get("email_verified") is not True:
        return Decision(None, f"the identity provider has not verified {email}")
    named = [role for role in ROLES if _names(policy.roles.get(role, ()), email)]
    if not named and not _names(policy.allow, email):
        return Decision(None, f"{email} is not on this deployment's allow-list")
    role = named[-1] if named else policy.default_role
    name = str(claims.get("name") or claims.get("preferred_username") or email)
    return Decision(Actor(name=name, role=role, email=email, signed_in=True))


def is_loopback(address: str | None) -> bool:
    """True when a server listening on ``address`` is reachable from this machine only.

    An empty address (Streamlit's default) listens on every interface, so it is
    not loopback; ``localhost`` is.
    """
    if not address:
        return False
    host = address.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
