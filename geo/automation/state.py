"""Record each rule's runs and the addresses it has seen, in one SQLite file per workspace.

``seen`` holds, per rule, every address (`geo.keys.email_key`) the rule has
looked at and whether it was contactable then. A lead is *new* to a rule
when its address is not seen yet, or was seen without consent and is
contactable now. ``runs`` holds one row per run: when, its counts and its
status (``prepared``: the batch is drawn and saved; ``sending``: the upload
started; ``interrupted``: it stopped, the next run resumes it; ``done``).
The provider-side state of each recipient is in the export journal
(`geo.export.journal`), under the run's export id.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from geo.workspace import Workspace

OPEN = ("prepared", "sending", "interrupted")
COUNTS = ("new", "eligible", "treatment", "holdout", "sent", "failed", "withdrawn")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    rule TEXT, run_id TEXT PRIMARY KEY, number INTEGER, started_at TEXT, finished_at TEXT,
    status TEXT NOT NULL, new INTEGER DEFAULT 0, eligible INTEGER DEFAULT 0,
    treatment INTEGER DEFAULT 0, holdout INTEGER DEFAULT 0, sent INTEGER DEFAULT 0,
    failed INTEGER DEFAULT 0, withdrawn INTEGER DEFAULT 0, note TEXT DEFAULT '',
    error TEXT DEFAULT '');
CREATE TABLE IF NOT EXISTS seen (
    rule TEXT, email_key TEXT, consented INTEGER NOT NULL, run_id TEXT,
    PRIMARY KEY (rule, email_key));
"""


def state_path(workspace: Workspace) -> Path:
    """The sync state of a workspace: ``<path>/automation/sync.sqlite``."""
    return Path(workspace.path) / "automation" / "sync.sqlite"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SyncState:
    """Runs and seen addresses of every rule of a workspace (see the module notes).

    Parameters
    ----------
    path
        The SQLite file (created with its folder when missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> SyncState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_number(self, rule: str) -> int:
        """The number the rule's next run gets (1 for the first)."""
        row = self._db.execute("SELECT MAX(number) FROM runs WHERE rule=?", (rule,)).fetchone()
        return int(row[0] or 0) + 1

    def seen(self, rule: str) -> pd.DataFrame:
        """Addresses the rule has seen: ``email_key``, ``consented`` (bool), ``run_id``."""
        df = pd.read_sql_query("SELECT email_key, consented, run_id FROM seen WHERE rule=?",
                               self._db, params=(rule,))
        return df.astype({"email_key": "string", "consented": bool})

    def add_run(self, rule: str, run_id: str, number: int, counts: dict[str, int],
                seen: pd.DataFrame, *, status: str = "prepared", note: str = "") -> None:
        """Record a run and the addresses it saw, in one transaction.

        Parameters
        ----------
        seen
            ``email_key`` and ``consented`` of every address looked at; an
            address seen before gets its consent flag updated.
        """
        cols = ", ".join(COUNTS)
        marks = ", ".join("?" for _ in COUNTS)
        rows = [(rule, str(k), int(bool(c)), run_id)
                for k, c in zip(seen["email_key"], seen["consented"], strict=True)]
        finished = _now() if status == "done" else None
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                f"INSERT INTO runs (rule, run_id, number, started_at, finished_at, status, note, "
                f"{cols}) VALUES (?, ?, ?, ?, ?, ?, ?, {marks})",
                (rule, run_id, number, _now(), finished, status, note,
                 *(int(counts.get(c, 0)) for c in COUNTS)))
            self._db.executemany(
                "INSERT INTO seen (rule, email_key, consented, run_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (rule, email_key) DO UPDATE SET consented=excluded.consented",
                rows)

    def update_run(self, run_id: str, *, status: str | None = None, error: str | None = None,
                   **counts: int) -> None:
        """Change a run's status, error text and counts (``finished_at`` is set on ``done``)."""
        sets: list[str] = []
        values: list[object] = []
        for name, value in counts.items():
            if name not in COUNTS:
                raise KeyError(name)
            sets.append(f"{name}=?")
            values.append(int(value))
        if status is not None:
            sets.append("status=?")
            values.append(status)
            if status == "done":
                sets.append("finished_at=?")
                values.append(_now())
        if error is not None:
            sets.append("error=?")
            values.append(error)
        if sets:
            self._db.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id=?",
                             (*values, run_id))

    def open_runs(self, rule: str) -> list[str]:
        """Ids of the rule's runs that have not finished sending, oldest first."""
        marks = ", ".join("?" for _ in OPEN)
        rows = self._db.execute(f"SELECT run_id FROM runs WHERE rule=? AND status IN ({marks}) "
                                "ORDER BY number", (rule, *OPEN)).fetchall()
        return [r[0] for r in rows]

    def run(self, run_id: str) -> dict[str, object]:
        """One run as a dict (see `runs` for the keys)."""
        df = self.runs(run_id=run_id)
        if df.empty:
            raise KeyError(run_id)
        row: dict[str, object] = df.iloc[0].to_dict()
        return row

    def runs(self, rule: str | None = None, *, run_id: str | None = None) -> pd.DataFrame:
        """Runs, newest first: rule, run_id, number, started_at, finished_at, status, counts, note, error."""
        where, params = [], []
        if rule is not None:
            where.append("rule=?")
            params.append(rule)
        if run_id is not None:
            where.append("run_id=?")
            params.append(run_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return pd.read_sql_query(
            "SELECT rule, run_id, number, started_at, finished_at, status, "
            f"{', '.join(COUNTS)}, note, error FROM runs {clause} ORDER BY started_at DESC, "
            "number DESC", self._db, params=params)
