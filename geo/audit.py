"""The audit trail: who made personal data leave the app, or changed or deleted it, when, and how much.

One append-only JSON-lines file per workspace, ``<root>/audit/<workspace>.jsonl``,
kept beside the workspaces rather than inside one, so deleting a workspace keeps
the record of that deletion and of everything before it. Each line is one
event: time (UTC, ISO 8601), who (the signed-in e-mail, or the operating-system
user), their role, the action (target list download, provider export,
automation run, import, undo, deletion...), how many records, and details
(provider, list, file, layout). Nothing in this module rewrites or removes a
line; a line cut short by a crash is skipped when reading and counted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from geo.access import Actor, actor_or_local
from geo.errors import GeoError
from geo.workspace import Workspace, check_name

COLUMNS = ("at", "who", "role", "signed_in", "action", "count", "details")
"""Columns of `read_audit`, in order."""


def audit_path(root: Path, workspace: str) -> Path:
    """The audit file of workspace ``workspace`` under data root ``root``."""
    return Path(root) / "audit" / f"{check_name(workspace)}.jsonl"


def _path_of(workspace: Workspace) -> Path:
    return audit_path(workspace.root, workspace.name)


def record(workspace: Workspace, action: str, count: int, *, actor: Actor | None = None,
           **details: Any) -> dict[str, Any]:
    """Append one event to the workspace's audit trail and return it.

    Parameters
    ----------
    workspace
        The workspace the data belongs to (it need not exist any more).
    action
        What happened: ``download``, ``export``, ``automation``, ``import``,
        ``undo_import``, ``save_campaign``, ``delete_workspace``...
    count
        How many records (customers, recipients, rows) it concerned.
    actor
        Who did it; None is the operating-system user (`geo.access.local_actor`).
    details
        Anything else worth keeping (provider, list, file, layout...); values
        must be JSON-serialisable or are written as text.

    The line is written with one ``write`` on a file opened for appending, so
    concurrent writers (several sessions of one server) never interleave; a
    line left unfinished by a crash is closed first, so it damages only itself.
    """
    who = actor_or_local(actor)
    event = {"at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
             "who": who.who, "name": who.name, "role": who.role, "signed_in": who.signed_in,
             "workspace": workspace.name, "action": str(action), "count": int(count),
             "details": details}
    line = (json.dumps(event, default=str, ensure_ascii=False) + "\n").encode("utf-8")
    path = _path_of(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # a line torn by a crash: end it first
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return event


@dataclass(frozen=True)
class AuditTrail:
    """The events of one workspace, oldest first, and the lines that could not be read."""

    workspace: str
    events: pd.DataFrame
    damaged: int

    def as_dict(self) -> dict[str, Any]:
        """The trail as plain data (what ``python -m geo audit --json`` prints)."""
        return {"workspace": self.workspace, "events": len(self.events),
                "damaged_lines": self.damaged,
                "trail": self.events.to_dict("records")}


def read_audit(root: Path, workspace: str) -> AuditTrail:
    """Read the audit trail of ``workspace`` under ``root`` (empty when nothing was recorded).

    Raises
    ------
    GeoError
        When the file exists but cannot be read (permissions, not a file).
    """
    path = audit_path(root, workspace)
    rows: list[dict[str, Any]] = []
    damaged = 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    except OSError as exc:
        raise GeoError(f"cannot read the audit trail {path}: {exc}") from None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            damaged += 1
            continue
        if not isinstance(event, dict):
            damaged += 1
            continue
        rows.append({c: event.get(c) for c in COLUMNS})
    events = pd.DataFrame(rows, columns=list(COLUMNS))
    return AuditTrail(workspace=workspace, events=events, damaged=damaged)


def audit_table(trail: AuditTrail) -> pd.DataFrame:
    """The trail for display, newest first: when, who, role, what, how many, details as text."""
    ev = trail.events.iloc[::-1].reset_index(drop=True)
    details = ev["details"].map(
        lambda d: ", ".join(f"{k}: {v}" for k, v in d.items() if v not in (None, ""))
        if isinstance(d, dict) else "")
    return pd.DataFrame({"when (UTC)": ev["at"].astype("string").str.slice(0, 19)
                         .str.replace("T", " "),
                         "who": ev["who"], "role": ev["role"], "what": ev["action"],
                         "how many": ev["count"].astype("Int64"), "details": details})
