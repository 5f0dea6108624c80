"""Record each recipient's export state in SQLite so an interrupted export resumes exactly once."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

STATES = ("pending", "sent", "accepted", "failed")
FINAL = ("accepted", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exports (
    export_id TEXT, provider TEXT, list_id TEXT, created_at TEXT, finished_at TEXT,
    PRIMARY KEY (export_id, provider, list_id));
CREATE TABLE IF NOT EXISTS recipients (
    export_id TEXT, provider TEXT, list_id TEXT, email TEXT, customer_id TEXT,
    state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL DEFAULT '',
    job_id TEXT, updated_at TEXT,
    PRIMARY KEY (export_id, provider, list_id, email));
CREATE TABLE IF NOT EXISTS jobs (
    export_id TEXT, provider TEXT, list_id TEXT, job_id TEXT, kind TEXT, parent_id TEXT,
    status TEXT NOT NULL, submitted_at TEXT, finished_at TEXT,
    PRIMARY KEY (export_id, provider, list_id, job_id));
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ExportJournal:
    """The state of every recipient of every export, in one SQLite file.

    A recipient is ``pending`` (recorded, not yet sent), ``sent`` (in a request
    or a submitted job, ``job_id`` set once the provider answered), ``accepted``
    or ``failed`` (with a ``reason``). Jobs are recorded as soon as the provider
    returns their id, so a resumed export polls them instead of resubmitting.
    The file holds addresses and states only, never credentials.

    Parameters
    ----------
    path
        SQLite file (created with its folder when missing), e.g.
        ``<workspace.path>/exports/journal.sqlite``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: survives a crashed process
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"ExportJournal({str(self.path)!r})"

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> ExportJournal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # exports -----------------------------------------------------------------
    def start(self, key: tuple[str, str, str], recipients: pd.DataFrame) -> int:
        """Record an export and its recipients as pending; return how many were new.

        Parameters
        ----------
        key
            ``(export_id, provider, list_id)``.
        recipients
            Frame with ``email`` and ``customer_id``; rows already journaled keep
            their state (this is what makes a re-run resume).
        """
        now = _now()
        rows = [(*key, e, c, "pending", now) for e, c in
                zip(recipients["email"].astype(str), recipients["customer_id"].astype(str))]
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR IGNORE INTO exports VALUES (?,?,?,?,NULL)", (*key, now))
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO recipients (export_id, provider, list_id, email, customer_id,"
                " state, updated_at) VALUES (?,?,?,?,?,?,?)", rows)
            return self._db.total_changes - before

    def exists(self, key: tuple[str, str, str]) -> bool:
        """True when this export has been started before."""
        return self._db.execute("SELECT 1 FROM exports WHERE export_id=? AND provider=? AND "
                                "list_id=?", key).fetchone() is not None

    def finish(self, key: tuple[str, str, str]) -> None:
        """Mark the export finished (every recipient accepted or failed)."""
        self._db.execute("UPDATE exports SET finished_at=? WHERE export_id=? AND provider=? AND "
                         "list_id=?", (_now(), *key))

    def exports(self) -> pd.DataFrame:
        """Every export recorded, with recipient counts per state."""
        return pd.read_sql_query(
            "SELECT e.export_id, e.provider, e.list_id, e.created_at, e.finished_at, "
            "SUM(r.state='accepted') AS accepted, SUM(r.state='failed') AS failed, "
            "SUM(r.state IN ('pending','sent')) AS open FROM exports e LEFT JOIN recipients r "
            "USING (export_id, provider, list_id) GROUP BY 1,2,3 ORDER BY e.created_at", self._db)

    # recipients --------------------------------------------------------------
    def recipients(self, key: tuple[str, str, str]) -> pd.DataFrame:
        """Every recipient of an export: email, customer_id, state, reason, outcome, job_id."""
        return pd.read_sql_query(
            "SELECT email, customer_id, state, reason, outcome, job_id FROM recipients "
            "WHERE export_id=? AND provider=? AND list_id=? ORDER BY rowid", self._db, params=key)

    def mark_sent(self, key: tuple[str, str, str], emails: list[str],
                  job_id: str | None = None) -> None:
        """Mark recipients as sent, optionally in job ``job_id``."""
        now = _now()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE recipients SET state='sent', job_id=?, updated_at=? WHERE export_id=? AND "
                "provider=? AND list_id=? AND email=?", [(job_id, now, *key, e) for e in emails])

    def mark_outcomes(self, key: tuple[str, str, str], outcomes: pd.DataFrame) -> None:
        """Store final states from an outcomes frame (``email, state, reason, outcome``)."""
        bad = set(outcomes["state"]) - set(FINAL)
        if bad:
            raise ValueError(f"final states must be {FINAL}, got {sorted(bad)}")
        now = _now()
        rows = [(s, r, o, now, *key, e) for e, s, r, o in
                outcomes[["email", "state", "reason", "outcome"]].itertuples(index=False)]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE recipients SET state=?, reason=?, outcome=?, updated_at=? WHERE "
                "export_id=? AND provider=? AND list_id=? AND email=?", rows)

    def reset_sent(self, key: tuple[str, str, str], job_id: str | None) -> None:
        """Put recipients sent without a known job (or in a lost job) back to pending."""
        cond = "job_id IS NULL" if job_id is None else "job_id=?"
        params = (*key,) if job_id is None else (*key, job_id)
        self._db.execute(f"UPDATE recipients SET state='pending', job_id=NULL WHERE export_id=? "
                         f"AND provider=? AND list_id=? AND state='sent' AND {cond}", params)

    # jobs ----------------------------------------------------------------------
    def add_job(self, key: tuple[str, str, str], job_id: str, kind: str,
                parent_id: str | None = None) -> None:
        """Record a job the provider accepted (status ``submitted``)."""
        self._db.execute("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,'submitted',?,NULL)",
                         (*key, job_id, kind, parent_id, _now()))

    def finish_job(self, key: tuple[str, str, str], job_id: str, status: str) -> None:
        """Record that a job finished (``done``) or was lost (``lost``)."""
        self._db.execute("UPDATE jobs SET status=?, finished_at=? WHERE export_id=? AND "
                         "provider=? AND list_id=? AND job_id=?", (status, _now(), *key, job_id))

    def jobs(self, key: tuple[str, str, str]) -> pd.DataFrame:
        """Every job of an export: job_id, kind, parent_id, status, submitted_at, finished_at."""
        return pd.read_sql_query(
            "SELECT job_id, kind, parent_id, status, submitted_at, finished_at FROM jobs "
            "WHERE export_id=? AND provider=? AND list_id=? ORDER BY rowid", self._db, params=key)

    def child_job(self, key: tuple[str, str, str], parent_id: str) -> str | None:
        """The follow-up job already submitted for ``parent_id``, if any."""
        row = self._db.execute("SELECT job_id FROM jobs WHERE export_id=? AND provider=? AND "
                               "list_id=? AND parent_id=? ORDER BY rowid DESC LIMIT 1",
                               (*key, parent_id)).fetchone()
        return row[0] if row else None
