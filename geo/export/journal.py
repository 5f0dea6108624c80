"""Record each recipient's export state in SQLite so an interrupted export resumes exactly once.

An export is journaled under its `ExportKey`: the export id (a fingerprint of the
recipients) and the `Destination`, which is the provider, the API root (base URL or
data centre), the account (a one-way fingerprint of the API key, never the key) and
the list. The same campaign sent to a list with the same id on another server or
under another account is therefore another export, not a finished one.

Journals written before destinations were recorded (schema 1, keyed by export id,
provider and list only) are migrated when opened: their rows are kept, readable in
`ExportJournal.exports`, under `LEGACY` as API root and account. They are left aside:
no run matches them, so re-running such an export uploads it again (every adapter
upserts, so the provider's end state is the same) and journals it under its real
destination.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from geo.errors import GeoError

STATES = ("pending", "sent", "accepted", "failed")
FINAL = ("accepted", "failed")
SCHEMA_VERSION = 2
#: API root and account of the rows migrated from a schema-1 journal (no run matches them)
LEGACY = "unknown (journaled before destinations)"

_KEY_COLUMNS = "export_id, provider, api_root, account, list_id"
_KEY = "export_id=? AND provider=? AND api_root=? AND account=? AND list_id=?"
_TABLES = {
    "exports": f"""(
        export_id TEXT, provider TEXT, api_root TEXT, account TEXT, list_id TEXT,
        created_at TEXT, finished_at TEXT,
        PRIMARY KEY ({_KEY_COLUMNS}))""",
    "recipients": f"""(
        export_id TEXT, provider TEXT, api_root TEXT, account TEXT, list_id TEXT, email TEXT,
        customer_id TEXT, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL DEFAULT '', job_id TEXT, updated_at TEXT,
        PRIMARY KEY ({_KEY_COLUMNS}, email))""",
    "jobs": f"""(
        export_id TEXT, provider TEXT, api_root TEXT, account TEXT, list_id TEXT, job_id TEXT,
        kind TEXT, parent_id TEXT, status TEXT NOT NULL, submitted_at TEXT, finished_at TEXT,
        PRIMARY KEY ({_KEY_COLUMNS}, job_id))""",
}
#: schema-1 columns of each table after its key (export_id, provider, list_id)
_V1_REST = {"exports": "created_at, finished_at",
            "recipients": "email, customer_id, state, reason, outcome, job_id, updated_at",
            "jobs": "job_id, kind, parent_id, status, submitted_at, finished_at"}


class JournalError(GeoError):
    """A journal file cannot be used (written by a newer version of the app)."""


class Destination(NamedTuple):
    """Where an export goes: one list of one account at one API root of a provider.

    Attributes
    ----------
    provider
        ``mailchimp``, ``klaviyo``, ``sendgrid`` or ``brevo``.
    api_root
        The API base URL requests go to (for Mailchimp it names the data centre).
    account
        The account as the adapter knows it: ``key:`` and a one-way fingerprint
        of the API key (see `geo.export.client.Secret.fingerprint`), never the key.
    list_id
        The provider's audience/list id.
    """

    provider: str
    api_root: str
    account: str
    list_id: str

    def slug(self) -> str:
        """Eight hex digits that tell destinations apart in file names."""
        return hashlib.sha256("\n".join(self).encode()).hexdigest()[:8]


class ExportKey(NamedTuple):
    """The journal's key of one export: its id and its `Destination`'s fields, in that order."""

    export_id: str
    provider: str
    api_root: str
    account: str
    list_id: str

    @classmethod
    def of(cls, export_id: str, destination: Destination) -> ExportKey:
        """The key of export ``export_id`` to ``destination``."""
        return cls(str(export_id), *destination)

    @property
    def destination(self) -> Destination:
        """Where this export goes."""
        return Destination(self.provider, self.api_root, self.account, self.list_id)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ExportJournal:
    """The state of every recipient of every export, in one SQLite file.

    A recipient is ``pending`` (recorded, not yet sent), ``sent`` (in a request
    or a submitted job, ``job_id`` set once the provider answered), ``accepted``
    or ``failed`` (with a ``reason``). Jobs are recorded as soon as the provider
    returns their id, so a resumed export polls them instead of resubmitting.
    Every method takes the `ExportKey` of one export. The file holds addresses,
    states and key fingerprints only, never credentials.

    Parameters
    ----------
    path
        SQLite file (created with its folder when missing), e.g.
        ``<workspace.path>/exports/journal.sqlite``. A schema-1 file is migrated
        (see the module docstring).

    Raises
    ------
    JournalError
        When the file was written by a newer version of the app.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: survives a crashed process
            self._upgrade()
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"ExportJournal({str(self.path)!r})"

    def _upgrade(self) -> None:
        """Create the tables, or migrate a schema-1 journal, in one transaction."""
        db = self._db
        if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return                                    # the usual case: no write lock taken
        with db:
            db.execute("BEGIN IMMEDIATE")             # one process migrates, the others wait
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(f"export journal {self.path} has schema {version}, newer than "
                                   f"this app's {SCHEMA_VERSION}: update the app to use it")
            if version == SCHEMA_VERSION:
                return
            old = {r[1] for r in db.execute("PRAGMA table_info(exports)")}
            legacy = bool(old) and "api_root" not in old
            for table, columns in _TABLES.items():
                if legacy:
                    db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
                db.execute(f"CREATE TABLE IF NOT EXISTS {table} {columns}")
                if legacy:
                    db.execute(f"INSERT INTO {table} ({_KEY_COLUMNS}, {_V1_REST[table]}) "
                               f"SELECT export_id, provider, ?, ?, list_id, {_V1_REST[table]} "
                               f"FROM {table}_v1", (LEGACY, LEGACY))
                    db.execute(f"DROP TABLE {table}_v1")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> ExportJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # exports -----------------------------------------------------------------
    def start(self, key: ExportKey, recipients: pd.DataFrame) -> int:
        """Record an export and its recipients as pending; return how many were new.

        Parameters
        ----------
        key
            The export's id and destination.
        recipients
            Frame with ``email`` and ``customer_id``; rows already journaled keep
            their state (this is what makes a re-run resume).
        """
        now = _now()
        rows = [(*key, e, c, "pending", now) for e, c in
                zip(recipients["email"].astype(str), recipients["customer_id"].astype(str), strict=True)]
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(f"INSERT OR IGNORE INTO exports ({_KEY_COLUMNS}, created_at) "
                             "VALUES (?,?,?,?,?,?)", (*key, now))
            before = self._db.total_changes
            self._db.executemany(
                f"INSERT OR IGNORE INTO recipients ({_KEY_COLUMNS}, email, customer_id, state, "
                "updated_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
            return self._db.total_changes - before

    def exists(self, key: ExportKey) -> bool:
        """True when this export has been started before."""
        return self._db.execute(f"SELECT 1 FROM exports WHERE {_KEY}", key).fetchone() is not None

    def finish(self, key: ExportKey) -> None:
        """Mark the export finished (every recipient accepted or failed)."""
        self._db.execute(f"UPDATE exports SET finished_at=? WHERE {_KEY}", (_now(), *key))

    def exports(self) -> pd.DataFrame:
        """Every export recorded (its key, when it started and finished), with recipient counts per state."""
        return pd.read_sql_query(
            f"SELECT e.export_id, e.provider, e.api_root, e.account, e.list_id, e.created_at, "
            "e.finished_at, SUM(r.state='accepted') AS accepted, SUM(r.state='failed') AS failed, "
            "SUM(r.state IN ('pending','sent')) AS open FROM exports e LEFT JOIN recipients r "
            f"USING ({_KEY_COLUMNS}) GROUP BY 1,2,3,4,5 ORDER BY e.created_at", self._db)

    # recipients --------------------------------------------------------------
    def recipients(self, key: ExportKey) -> pd.DataFrame:
        """Every recipient of an export: email, customer_id, state, reason, outcome, job_id."""
        return pd.read_sql_query(
            "SELECT email, customer_id, state, reason, outcome, job_id FROM recipients "
            f"WHERE {_KEY} ORDER BY rowid", self._db, params=key)

    def mark_sent(self, key: ExportKey, emails: list[str], job_id: str | None = None) -> None:
        """Mark recipients as sent, optionally in job ``job_id``."""
        now = _now()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                f"UPDATE recipients SET state='sent', job_id=?, updated_at=? WHERE {_KEY} "
                "AND email=?", [(job_id, now, *key, e) for e in emails])

    def mark_outcomes(self, key: ExportKey, outcomes: pd.DataFrame) -> None:
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
                f"UPDATE recipients SET state=?, reason=?, outcome=?, updated_at=? WHERE {_KEY} "
                "AND email=?", rows)

    def reset_sent(self, key: ExportKey, job_id: str | None) -> None:
        """Put recipients sent without a known job (or in a lost job) back to pending."""
        cond = "job_id IS NULL" if job_id is None else "job_id=?"
        params = (*key,) if job_id is None else (*key, job_id)
        self._db.execute(f"UPDATE recipients SET state='pending', job_id=NULL WHERE {_KEY} "
                         f"AND state='sent' AND {cond}", params)

    # jobs ----------------------------------------------------------------------
    def add_job(self, key: ExportKey, job_id: str, kind: str,
                parent_id: str | None = None) -> None:
        """Record a job the provider accepted (status ``submitted``)."""
        self._db.execute(f"INSERT OR REPLACE INTO jobs ({_KEY_COLUMNS}, job_id, kind, parent_id, "
                         "status, submitted_at) VALUES (?,?,?,?,?,?,?,?,'submitted',?)",
                         (*key, job_id, kind, parent_id, _now()))

    def finish_job(self, key: ExportKey, job_id: str, status: str) -> None:
        """Record that a job finished (``done``) or was lost (``lost``)."""
        self._db.execute(f"UPDATE jobs SET status=?, finished_at=? WHERE {_KEY} AND job_id=?",
                         (status, _now(), *key, job_id))

    def jobs(self, key: ExportKey) -> pd.DataFrame:
        """Every job of an export: job_id, kind, parent_id, status, submitted_at, finished_at."""
        return pd.read_sql_query(
            "SELECT job_id, kind, parent_id, status, submitted_at, finished_at FROM jobs "
            f"WHERE {_KEY} ORDER BY rowid", self._db, params=key)

    def child_job(self, key: ExportKey, parent_id: str) -> str | None:
        """The follow-up job already submitted for ``parent_id``, if any."""
        row = self._db.execute(f"SELECT job_id FROM jobs WHERE {_KEY} AND parent_id=? "
                               "ORDER BY rowid DESC LIMIT 1", (*key, parent_id)).fetchone()
        return row[0] if row else None
