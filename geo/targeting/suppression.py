"""E-mail keys, suppression lists and recent contacts: the addresses a campaign must not e-mail.

Matching is on the e-mail key (`geo.keys.email_key`: the address trimmed and
lower-cased), so ``" Ann@X.com"`` and ``"ann@x.com"`` are one person.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from geo.data.sniff import decode_text
from geo.errors import DataError
from geo.keys import email_keys
from geo.workspace import Workspace

_EMAIL_TOKEN = re.compile(r"[^\s,;\"'<>]+@[^\s,;\"'<>]+")


def parse_suppression(text: str) -> pd.Index:
    """Read a suppression list in any simple layout and return its e-mail keys.

    Every token that contains ``@`` counts, whether the file is one address per
    line, a CSV with an ``email`` column among others, or a pasted list separated
    by commas or semicolons. Matching is case- and whitespace-insensitive.

    Parameters
    ----------
    text
        The file's contents, decoded.

    Returns
    -------
    pandas.Index of unique, lower-cased addresses.
    """
    tokens = _EMAIL_TOKEN.findall(text or "")
    return pd.Index(pd.unique(email_keys(pd.Series(tokens, dtype="string")).dropna()),
                    dtype="string")


def suppression_from_bytes(data: bytes, name: str) -> pd.Index:
    """The e-mail keys of an uploaded suppression file (CSV or text, UTF-8 or Latin-1).

    Raises
    ------
    DataError
        "not a text file" for binary data; "no e-mail address" when none is found.
    """
    keys = parse_suppression(decode_text(data, name))
    if len(keys) == 0:
        raise DataError(name, "no e-mail address found in the suppression list")
    return keys


def read_suppression(path: str | Path) -> pd.Index:
    """Read a suppression file (CSV or text, UTF-8 or Latin-1) and return its e-mail keys."""
    path = Path(path)
    if not path.exists():
        raise DataError(path.name, f"suppression file not found: {path}")
    return suppression_from_bytes(path.read_bytes(), path.name)


SUPPRESSION_TABLE = "suppression"
"""Workspace table holding the saved suppression list (one ``email_key`` per row)."""


def save_suppression(workspace: Workspace, addresses: pd.Index, *, source: str,
                     saved_at: str | None = None) -> dict[str, Any]:
    """Keep a suppression list in ``workspace`` so it survives a page switch or a restart.

    Parameters
    ----------
    workspace
        A `geo.workspace.Workspace`.
    addresses
        E-mail keys (`parse_suppression` output); replaces any saved list.
    source
        Where the list came from (the uploaded file's name), shown to the user.
    saved_at
        ISO time stamp of the save (default: now, UTC).

    Returns
    -------
    dict ``source, saved_at, count``, also stored in the workspace settings
    under ``suppression``.
    """
    keys = pd.Index(email_keys(pd.Series(list(addresses), dtype="string")).dropna().unique(),
                    dtype="string")
    if len(keys) == 0:
        raise DataError(source, "no e-mail address found in the suppression list")
    workspace.save_table(SUPPRESSION_TABLE, pd.DataFrame({"email_key": keys}))
    info: dict[str, Any] = {"source": str(source), "count": int(len(keys)),
            "saved_at": saved_at or pd.Timestamp.now("UTC").strftime("%Y-%m-%d %H:%M UTC")}
    workspace.update_settings(suppression=info)
    return info


def saved_suppression(workspace: Workspace) -> tuple[pd.Index, dict[str, Any] | None]:
    """The workspace's saved suppression list (e-mail keys) and its description, or empty and None."""
    table = workspace.load_table(SUPPRESSION_TABLE)
    if table is None or "email_key" not in table:
        return pd.Index([], dtype="string"), None
    return pd.Index(table["email_key"], dtype="string"), workspace.settings().get("suppression")


def clear_suppression(workspace: Workspace) -> None:
    """Forget the workspace's saved suppression list."""
    workspace.delete_table(SUPPRESSION_TABLE)
    workspace.update_settings(suppression=None)


def _contact_date(meta: dict[str, Any]) -> pd.Timestamp | None:
    for key in ("sent_at", "offer_start", "created"):
        value = meta.get(key) or meta.get("params", {}).get(key)
        if value:
            ts = pd.Timestamp(value)
            return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
    return None


def recently_contacted(workspace: Workspace, days: int, today: pd.Timestamp | str) -> pd.Index:
    """E-mail keys contacted by any campaign of ``workspace`` in the ``days`` days before ``today``.

    A customer counts as contacted when a campaign's ``events`` table holds an
    event for the address (any event implies a send: ``sent``, ``delivered``,
    ``opened``...) timestamped on or after ``today - days``, or
    when the address is a treatment target of a campaign whose contact date
    (``sent_at``, else ``offer_start``, else ``created`` in its metadata) is on or
    after ``today - days``; campaigns scheduled for later count as contacts, so
    one audience is never booked twice. Holdout members were not contacted.

    Parameters
    ----------
    workspace
        A `geo.workspace.Workspace`.
    days
        Look-back window in days (>= 0).
    today
        Reference date (naive timestamps are UTC).
    """
    since = pd.Timestamp(today) - pd.Timedelta(days=int(days))
    since = since.tz_convert("UTC").tz_localize(None) if since.tzinfo else since
    keys = []
    for name in workspace.list_campaigns():
        events = workspace.load_campaign_file(name, "events")
        if events is not None and len(events):
            ts = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None)
            keys.append(email_keys(events.loc[(ts >= since).fillna(False).to_numpy(bool),
                                              "email"]))
        targets = workspace.load_campaign_file(name, "targets")
        when = _contact_date(workspace.campaign_meta(name))
        if targets is not None and when is not None and when >= since:
            treated = targets["group"].astype("string") == "treatment"
            keys.append(email_keys(targets.loc[treated.fillna(False), "email"]))
    if not keys:
        return pd.Index([], dtype="string")
    return pd.Index(pd.unique(pd.concat(keys, ignore_index=True).dropna()), dtype="string")
