"""Merge an imported table into the stored one: add and update (the default) or replace.

Matching a file's record to a stored one
    Customers match on ``customer_id``, else on the e-mail address
    (`geo.keys.email_key`) when exactly one stored customer has it: that
    customer keeps their stored ``customer_id``, so campaigns that name them
    still do. Stores match on ``store_id``. Tables without a key (events,
    redemptions) only append rows, leaving out rows already stored unchanged.

Add and update (``mode="add"``)
    Matched records take the file's values **for the columns the file has**
    (a file without ``segment`` leaves every stored segment alone); the other
    records of the file are added; nothing is removed.

Replace (``mode="replace"``)
    The table becomes the file's records. The counts still say how many were
    new, changed, the same, and how many stored records are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionDtype

from geo.data.schema import Schema
from geo.errors import DataError
from geo.keys import email_keys

IMPORT_MODES = ("add", "replace")
"""``add``: add and update (default); ``replace``: the file becomes the table."""


@dataclass(frozen=True)
class ImportChanges:
    """What an import does to a stored table, counted before anything is written.

    Attributes
    ----------
    new, updated, unchanged
        Records of the file that are added, that change a stored record, and
        that equal a stored record.
    removed
        Stored records that the import removes (only ``mode="replace"``).
    mode
        ``"add"`` or ``"replace"``.
    before, after
        Number of records stored before and after the import.
    """

    new: int
    updated: int
    unchanged: int
    removed: int
    mode: str
    before: int
    after: int

    def as_dict(self) -> dict[str, int | str]:
        """The counts in the command line's JSON shape."""
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "mode": self.mode}


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of `IMPORT_MODES`, else raise `DataError`."""
    if mode not in IMPORT_MODES:
        raise DataError("import", f"unknown import mode {mode!r}: use one of {', '.join(IMPORT_MODES)}")
    return mode


def _as_key_text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip()


def match_records(stored: pd.DataFrame, incoming: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Position in ``stored`` of the record each incoming row updates, -1 for a new record.

    See the module notes for the rules. Each stored record is matched at most
    once (the first incoming row that names it).
    """
    key = schema.key
    stored = stored.reset_index(drop=True)
    pos = pd.Index(_as_key_text(stored[key])).get_indexer(_as_key_text(incoming[key]))
    if "email" in schema.names and "email" in stored and "email" in incoming:
        stored_keys = email_keys(stored["email"]).dropna()
        unique = stored_keys[~stored_keys.duplicated(keep=False)]
        found = pd.Index(unique.to_numpy()).get_indexer(email_keys(incoming["email"]))
        rows = np.append(unique.index.to_numpy(), -1)  # -1: not found
        pos = np.where(pos >= 0, pos, rows[found])
    taken = pd.Series(pos).duplicated(keep="first").to_numpy() & (pos >= 0)
    return np.where(taken, -1, pos)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Row-wise equality of two aligned frames (missing equals missing)."""
    if a.empty:
        return np.ones(len(a), dtype=bool)
    eq = np.ones(len(a), dtype=bool)
    for col in a.columns:
        x = a[col].astype("string").reset_index(drop=True)
        y = b[col].astype("string").reset_index(drop=True)
        both_na = (x.isna() & y.isna()).to_numpy(dtype=bool)
        eq &= ((x == y).fillna(False).to_numpy(dtype=bool)) | both_na
    return eq


def merge_table(stored: pd.DataFrame | None, incoming: pd.DataFrame, schema: Schema,
                mode: str = "add") -> tuple[pd.DataFrame, ImportChanges]:
    """Merge an imported table into the stored one and count what changes.

    Parameters
    ----------
    stored
        The workspace's table (None when there is none yet).
    incoming
        The file's good rows, typed, with only the columns the file has
        (``ValidationReport.valid`` without ``_row``).
    schema
        The table's layout (its ``key`` decides matching).
    mode
        ``"add"`` (add and update, default) or ``"replace"``.

    Returns
    -------
    table, changes
        The table to store (stored column order, then any new columns) and
        the counts (`ImportChanges`).
    """
    check_mode(mode)
    incoming = incoming.reset_index(drop=True)
    if stored is None or stored.empty:
        return incoming, ImportChanges(len(incoming), 0, 0, 0, mode, 0, len(incoming))
    if schema.key is None or schema.key not in stored or schema.key not in incoming:
        return _append(stored, incoming, mode)
    pos = match_records(stored, incoming, schema)
    matched = pos >= 0
    stored = stored.reset_index(drop=True).copy()
    for col in incoming.columns:
        if col not in stored:  # a column the stored table lacks: missing for its records
            stored[col] = pd.Series(pd.NA, index=stored.index, dtype=incoming[col].dtype)
    cols = [c for c in incoming.columns if c != schema.key]
    same = _same(stored.iloc[pos[matched]][cols], incoming.loc[matched, cols])
    n_same, n_new = int(same.sum()), int((~matched).sum())
    n_updated = int(matched.sum()) - n_same
    if mode == "replace":
        kept = np.zeros(len(stored), dtype=bool)
        kept[pos[matched]] = True
        table = incoming.copy()
        # a record matched by e-mail keeps its stored id
        table.loc[matched, schema.key] = stored[schema.key].to_numpy()[pos[matched]]
        removed = int((~kept).sum())
    else:
        table = stored
        rows = pos[matched]
        for col in cols:
            values = table[col].astype(object).to_numpy(copy=True)
            values[rows] = incoming.loc[matched, col].astype(object).to_numpy()
            table[col] = pd.Series(values, index=table.index).astype(_dtype(stored[col],
                                                                            incoming[col]))
        table = pd.concat([table, incoming.loc[~matched]], ignore_index=True)
        removed = 0
    changes = ImportChanges(n_new, n_updated, n_same, removed, mode, len(stored), len(table))
    return table, changes


def _dtype(stored: pd.Series, incoming: pd.Series) -> np.dtype[Any] | ExtensionDtype:
    """The dtype for a column that mixes stored and imported values."""
    return incoming.dtype if stored.dtype == object else stored.dtype


def _append(stored: pd.DataFrame, incoming: pd.DataFrame,
            mode: str) -> tuple[pd.DataFrame, ImportChanges]:
    """Tables without a key: replace, or append the rows not already stored."""
    if mode == "replace":
        return incoming, ImportChanges(len(incoming), 0, 0, len(stored), mode, len(stored),
                                       len(incoming))
    cols = [c for c in incoming.columns if c in stored.columns]
    seen = pd.MultiIndex.from_frame(stored[cols].astype("string").fillna("\x00"))
    mine = pd.MultiIndex.from_frame(incoming[cols].astype("string").fillna("\x00"))
    dup = mine.isin(seen)
    table = pd.concat([stored, incoming.loc[~dup]], ignore_index=True)
    changes = ImportChanges(int((~dup).sum()), 0, int(dup.sum()), 0, mode, len(stored),
                            len(table))
    return table, changes
