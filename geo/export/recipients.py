"""Select the recipients an export may upload: treatment members with consent and a valid email."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import DataError
from geo.keys import email_keys
from geo.validate import EMAIL_RE, TRUE_WORDS

REQUIRED = ("customer_id", "email", "group")
FIELD_COLUMNS = ["first_name", "store_id", "store_name", "store_address", "travel_min", "mode",
                 "coupon_code", "offer_start", "offer_end", "tags"]
RECIPIENT_COLUMNS = ["customer_id", "email", *FIELD_COLUMNS]
#: also in `PreparedTargets.eligible`: the crow-flies km that import files and adapters send in
#: radius mode only (in place of the minutes); part of the export `fingerprint` only then
FILE_COLUMNS = ["crow_km"]
SKIPPED_COLUMNS = ["customer_id", "email", "state", "reason"]


@dataclass
class PreparedTargets:
    """A target list split into what may be exported and what may not.

    Attributes
    ----------
    eligible
        One row per recipient to upload (``RECIPIENT_COLUMNS`` + ``FILE_COLUMNS``):
        email trimmed and lower-cased, ``travel_min`` rounded to whole minutes
        (Int64), ``crow_km`` in km (Float64), offer bounds as ISO text
        (``YYYY-MM-DD``, or ``YYYY-MM-DD HH:MM`` when a bound is not a whole
        day), ``tags`` as comma-separated text.
    skipped
        Rows that are never uploaded, with ``state`` ``excluded`` (holdout),
        ``refused`` (no consent, duplicate email) or ``failed`` (invalid email) and
        the ``reason``.
    """

    eligible: pd.DataFrame
    skipped: pd.DataFrame


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    s = df[column].astype("string").str.strip()
    return s.mask(s == "")


def _flag(df: pd.DataFrame, column: str) -> pd.Series:
    """True where the column holds a true value (bool or text like yes/1/true)."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean").fillna(False).astype(bool)
    return s.astype("string").str.strip().str.lower().isin(TRUE_WORDS).fillna(False).astype(bool)


def _offer_bound(s: pd.Series) -> pd.Series:
    """ISO text of offer bounds: ``YYYY-MM-DD HH:MM``, or ``YYYY-MM-DD`` for a whole-day bound.

    A bound at 00:00 or 23:59 is a whole day. Unreadable values pass through.
    """
    parsed = pd.to_datetime(s, errors="coerce", format="mixed")
    minute = parsed.dt.hour * 60 + parsed.dt.minute
    whole_day = minute.isin([0, 23 * 60 + 59])
    out = parsed.dt.strftime("%Y-%m-%d").where(whole_day, parsed.dt.strftime("%Y-%m-%d %H:%M"))
    return out.astype("string").where(parsed.notna(), s)


def _tags(s: pd.Series) -> pd.Series:
    """Normalise comma-separated tags: no blanks around commas, no empty tags."""
    s = s.str.replace(r"\s*,[\s,]*", ",", regex=True).str.strip(", ")
    return s.mask(s == "")


def prepare_targets(targets: pd.DataFrame, *, file: str = "targets") -> PreparedTargets:
    """Split a target list into eligible recipients and skipped rows with reasons.

    Holdout members are never exported. Rows without consent (``opted_in`` false
    or blank, or ``unsubscribed`` true, when those columns exist) are refused.
    Addresses that are not syntactically valid fail before anything is sent, and a
    repeated address is refused after its first occurrence.

    Parameters
    ----------
    targets
        Target list with at least ``customer_id``, ``email`` and ``group``
        (``treatment``/``holdout``); see `RECIPIENT_COLUMNS` for the fields used.
    file
        Name used in error messages.

    Raises
    ------
    DataError
        When a required column is missing.
    """
    missing = [c for c in REQUIRED if c not in targets.columns]
    if missing:
        raise DataError(file, f"missing column(s) {', '.join(missing)}; a target list needs "
                        f"{', '.join(REQUIRED)}", column=missing[0])
    df = targets.reset_index(drop=True)
    out = pd.DataFrame({"customer_id": _text(df, "customer_id"),
                        "email": email_keys(df["email"])})
    for col in FIELD_COLUMNS:
        out[col] = _text(df, col)
    minutes = pd.to_numeric(df["travel_min"], errors="coerce") if "travel_min" in df else np.nan
    out["travel_min"] = pd.Series(np.rint(minutes), index=df.index, dtype="Float64").astype("Int64")
    km = pd.to_numeric(df["crow_km"], errors="coerce") if "crow_km" in df else np.nan
    out["crow_km"] = pd.Series(km, index=df.index, dtype="Float64")
    for col in ("offer_start", "offer_end"):
        if col in df.columns:
            out[col] = _offer_bound(out[col])
    out["tags"] = _tags(out["tags"])

    reason = pd.Series("", index=df.index, dtype="string")
    state = pd.Series("", index=df.index, dtype="string")

    def flag(mask: pd.Series, st: str, why: str | pd.Series) -> None:
        new = mask & (state == "")
        state[new] = st
        reason[new] = why[new] if isinstance(why, pd.Series) else why

    group = _text(df, "group").str.lower().fillna("")
    flag(group == "holdout", "excluded", "holdout group: never exported")
    flag(group != "treatment", "refused", "group is '" + group + "', expected treatment or holdout")
    if "opted_in" in df.columns:
        flag(~_flag(df, "opted_in"), "refused", "no consent: opted_in is not true")
    if "unsubscribed" in df.columns:
        flag(_flag(df, "unsubscribed"), "refused", "no consent: unsubscribed")
    valid = out["email"].str.match(EMAIL_RE).fillna(False).astype(bool)
    flag(~valid, "failed", "invalid email address '" + out["email"].fillna("") + "'")
    live = state == ""
    first_id = out.loc[live].drop_duplicates("email").set_index("email")["customer_id"]
    first = out["email"].where(live).map(first_id).astype("string")
    dup = live & out["email"].where(live).duplicated(keep="first")
    flag(dup, "refused", "duplicate email (first row: customer " + first.fillna("?") + ")")

    keep = state == ""
    skipped = out.loc[~keep, ["customer_id", "email"]].assign(state=state[~keep],
                                                               reason=reason[~keep])
    eligible = out.loc[keep, RECIPIENT_COLUMNS + FILE_COLUMNS].reset_index(drop=True)
    return PreparedTargets(eligible, skipped[SKIPPED_COLUMNS].reset_index(drop=True))


def with_current_consent(targets: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """The target list with consent as it stands now in the customers table.

    A saved campaign may be exported days after it was built; anyone who has
    withdrawn consent since must not be uploaded. A row keeps consent only when
    both the list and the customers table say so: ``opted_in`` becomes the AND of
    the two, ``unsubscribed`` the OR. Customers no longer in the table count as
    not opted in, since their consent cannot be confirmed. `prepare_targets` then
    refuses those rows with the reason.

    Parameters
    ----------
    targets
        Target list with ``customer_id``.
    customers
        The workspace's customers (``customer_id`` and ``opted_in`` and/or
        ``unsubscribed``); None or a table without either column leaves
        ``targets`` unchanged.
    """
    have = [c for c in ("opted_in", "unsubscribed") if customers is not None and c in customers]
    if not have or "customer_id" not in targets.columns:
        return targets
    ids = customers["customer_id"].astype("string").str.strip()
    current = pd.DataFrame({c: _flag(customers, c) for c in have}).set_index(ids)
    current = current[~current.index.duplicated(keep="first")]
    key = targets["customer_id"].astype("string").str.strip()
    known = key.isin(current.index).to_numpy()
    out = targets.copy()

    def now(column: str, missing: bool) -> np.ndarray | bool:
        if column not in have:
            return missing
        return key.map(current[column]).astype("boolean").fillna(missing).to_numpy(bool)

    def saved(column: str, missing: bool) -> np.ndarray | bool:
        return _flag(targets, column).to_numpy() if column in targets else missing

    out["opted_in"] = now("opted_in", False) & saved("opted_in", True) & known
    out["unsubscribed"] = now("unsubscribed", False) | saved("unsubscribed", False)
    return out


def fingerprint(eligible: pd.DataFrame, provider: str, list_id: str, *,
                distance_km: pd.Series | None = None) -> str:
    """A stable export id for these recipients, provider and list (16 hex digits).

    Re-running the same export (same rows and values) gives the same id, so the
    journal recognises it; any changed value (a new coupon code) gives a new one.

    Parameters
    ----------
    distance_km
        The crow-flies km a radius-mode upload sends (aligned with
        ``eligible``); hashed with the rest when given. Travel-mode exports
        pass None and keep the id they had before distances were uploaded, so
        an interrupted run still resumes.
    """
    sent = eligible[RECIPIENT_COLUMNS]
    if distance_km is not None:
        sent = sent.assign(distance_km=distance_km)
    text = sent.sort_values("email").to_csv(index=False)
    return hashlib.sha256(f"{provider}\n{list_id}\n{text}".encode()).hexdigest()[:16]


def records(batch: pd.DataFrame) -> list[dict]:
    """Rows as dicts without the empty values (what a payload should carry)."""
    rows = batch.astype(object).where(batch.notna(), None).to_dict("records")
    return [{k: v for k, v in r.items() if v is not None and v != ""} for r in rows]


def tag_list(tags: object) -> list[str]:
    """Split a comma-separated tag string into tag names."""
    if tags is None or tags is pd.NA or (isinstance(tags, float) and np.isnan(tags)):
        return []
    return [t.strip() for t in str(tags).split(",") if t.strip()]
