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
import os
from dataclasses import dataclass

from geo.errors import GeoError

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
                         "settings ([auth.roles] in .streamlit/secrets.toml)")


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
