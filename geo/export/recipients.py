"""Select the recipients an export may upload: treatment members with consent and a valid email."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.data.validate import EMAIL_RE, TRUE_WORDS
from geo.errors import DataError
from geo.keys import email_keys

REQUIRED = ("customer_id", "email", "group")
FIELD_COLUMNS = ["first_name", "store_id", "store_name", "store_address", "travel_min", "mode",
                 "coupon_code", "offer_start", "offer_end", "tags"]
RECIPIENT_COLUMNS = ["customer_id", "email", *FIELD_COLUMNS]
#: also in `PreparedTargets.eligible`: the crow-flies km that import files and adapters send in
#: radius mode only (in place of the minutes); part of the export `fingerprint` only then
FILE_COLUMNS = ["crow_km"]
SKIPPED_COLUMNS = ["customer_id", "email", "state", "reason", "rule"]
#: the note `with_current_consent` adds where today's customers table withholds consent
CONSENT_NOW = "consent_now"


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
        Rows that are never uploaded, with ``state`` ``excluded`` (holdout, or
        an address in the holdout), ``refused`` (no consent on any record of
        the address, second record of an address) or ``failed`` (invalid
        email), the ``reason`` (naming the customer concerned) and the
        ``rule`` (the reason without row details, for counting).
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


def _first_record(key: pd.Series, ids: pd.Series, mask: pd.Series) -> pd.Series:
    """Per row: the customer id of the first row with the same address where ``mask`` holds.

    ``<NA>`` where no row of the address qualifies (or the address is blank).
    """
    hit = pd.DataFrame({"key": key, "id": ids})[mask.to_numpy(bool) & key.notna().to_numpy(bool)]
    return key.map(hit.drop_duplicates("key").set_index("key")["id"]).astype("string")


def prepare_targets(targets: pd.DataFrame, *, file: str = "targets") -> PreparedTargets:
    """Split a target list into eligible recipients and skipped rows with reasons.

    Consent is decided per address (`geo.keys.email_key`), never per row: an
    address is exported only when every row of it in the list is consented
    (``opted_in`` true, ``unsubscribed`` not true, when those columns exist; no
    `CONSENT_NOW` note from `with_current_consent`) and none is in the holdout.
    Holdout members are never exported, and neither is any other record of
    their address. Addresses that are not syntactically valid fail before
    anything is sent. One recipient per address: the first eligible row
    represents it, later rows are refused as its second records.

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

    state, rule, reason = (pd.Series("", index=df.index, dtype="string") for _ in range(3))

    def flag(mask: pd.Series, st: str, why: str, detail: pd.Series | None = None) -> None:
        new = (mask & (state == "")).to_numpy(bool)
        state[new], rule[new] = st, why
        reason[new] = why if detail is None else detail[new]

    key, ids = out["email"], out["customer_id"].fillna("(blank id)")
    group = _text(df, "group").str.lower().fillna("")
    held = group == "holdout"
    opted = _flag(df, "opted_in") if "opted_in" in df.columns else pd.Series(True, index=df.index)
    unsub = (_flag(df, "unsubscribed") if "unsubscribed" in df.columns
             else pd.Series(False, index=df.index))
    now = _text(df, CONSENT_NOW)
    flag(held, "excluded", "holdout group: never exported")
    flag(group != "treatment", "refused", "group is neither treatment nor holdout",
         "group is '" + group + "', expected treatment or holdout")
    flag(now.notna(), "refused", "no consent in today's customers table", "no consent now: " + now)
    flag(~opted, "refused", "no consent: opted_in is not true")
    flag(unsub, "refused", "no consent: unsubscribed")
    # every record of an address decides for all of them
    holder = _first_record(key, ids, held)
    flag(holder.notna(), "excluded", "address in the holdout: never exported",
         "address in the holdout: customer " + holder + " with the same address is held out")
    objector = _first_record(key, ids, ~opted | unsub | now.notna())
    flag(objector.notna(), "refused", "no consent: another record of the address has none",
         "no consent: another record of the address (customer " + objector + ") has none")
    valid = key.str.match(EMAIL_RE).fillna(False).astype(bool)
    flag(~valid, "failed", "invalid email address",
         "invalid email address '" + key.fillna("") + "'")
    live = state == ""
    representative = _first_record(key, ids, live)
    flag(live & key.where(live).duplicated(keep="first"), "refused", "second record of an address",
         "second record of an address: customer " + representative + " represents it")

    keep = (state == "").to_numpy(bool)
    skipped = out.loc[~keep, ["customer_id", "email"]].assign(
        state=state[~keep], reason=reason[~keep], rule=rule[~keep])
    eligible = out.loc[keep, RECIPIENT_COLUMNS + FILE_COLUMNS].reset_index(drop=True)
    return PreparedTargets(eligible, skipped[SKIPPED_COLUMNS].reset_index(drop=True))


def with_current_consent(targets: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """The target list with consent as it stands now in the customers table, per address.

    A saved campaign may be exported days after it was built; anyone who has
    withdrawn consent since must not be uploaded, under any of their records.
    A row keeps consent only when the list says so and, in the customers table
    now, its own customer record and every record with the same address
    (`geo.keys.email_key`, any ``customer_id``) are opted in and not
    unsubscribed. A customer or an address no longer in the table counts as
    not opted in, since its consent cannot be confirmed. Such rows get
    ``opted_in`` false and a `CONSENT_NOW` note saying why, which
    `prepare_targets` reports.

    Parameters
    ----------
    targets
        Target list with ``customer_id`` and ``email``.
    customers
        The workspace's customers (``customer_id``, ``email`` and ``opted_in``
        and/or ``unsubscribed``; a missing ``opted_in`` means nobody is opted
        in); None or a table without either consent column leaves ``targets``
        unchanged.

    Raises
    ------
    DataError
        When the customers table has consent columns but no ``customer_id`` or
        ``email`` column to match the list on.
    """
    if customers is None:
        return targets
    have = [c for c in ("opted_in", "unsubscribed") if c in customers]
    if not have or "customer_id" not in targets.columns:
        return targets
    missing = [c for c in ("customer_id", "email") if c not in customers.columns]
    if missing:
        raise DataError("customers", f"missing column(s) {', '.join(missing)}: consent is "
                        "checked for every customer record of an address", column=missing[0])
    index = customers.index
    opted = _flag(customers, "opted_in") if "opted_in" in have else pd.Series(False, index=index)
    unsub = (_flag(customers, "unsubscribed") if "unsubscribed" in have
             else pd.Series(False, index=index))
    why = pd.Series(pd.NA, index=index, dtype="string")
    why[~opted.to_numpy(bool)] = "is not opted in"
    why[unsub.to_numpy(bool)] = "has unsubscribed"
    records = pd.DataFrame({"id": customers["customer_id"].astype("string").str.strip(),
                            "key": email_keys(customers["email"]), "why": why})
    refusing = records.dropna(subset=["why"])
    by_id = refusing.drop_duplicates("id").set_index("id")["why"]
    by_key = refusing.dropna(subset=["key"]).drop_duplicates("key").set_index("key")

    ids = targets["customer_id"].astype("string").str.strip()
    keys = (email_keys(targets["email"]) if "email" in targets.columns
            else pd.Series(pd.NA, index=targets.index, dtype="string"))
    shown = ids.fillna("(blank id)")
    note = pd.Series(pd.NA, index=targets.index, dtype="string")

    def explain(mask: pd.Series, text: pd.Series | str) -> None:
        new = (mask.fillna(False) & note.isna()).to_numpy(bool)
        note[new] = text[new] if isinstance(text, pd.Series) else text

    explain(~ids.isin(records["id"]), "customer " + shown + " is no longer in the customers table")
    explain(ids.isin(by_id.index), "customer " + shown + " " + ids.map(by_id).astype("string"))
    explain(keys.notna() & ~keys.isin(records["key"].dropna()),
            "the address is no longer in the customers table")
    explain(keys.isin(by_key.index), "customer " + keys.map(by_key["id"]).astype("string")
            + ", same address, " + keys.map(by_key["why"]).astype("string"))

    def saved(column: str, missing: bool) -> pd.Series:
        return _flag(targets, column) if column in targets else pd.Series(missing, index=ids.index)

    listed = saved("opted_in", True) & ~saved("unsubscribed", False)
    out = targets.copy()
    out["opted_in"] = (saved("opted_in", True) & note.isna()).to_numpy(bool)
    out[CONSENT_NOW] = note.where(listed)
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


def records(batch: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts without the empty values (what a payload should carry)."""
    rows = batch.astype(object).where(batch.notna(), None).to_dict("records")
    return [{k: v for k, v in r.items() if v is not None and v != ""} for r in rows]


def tag_list(tags: object) -> list[str]:
    """Split a comma-separated tag string into tag names."""
    if tags is None or tags is pd.NA or (isinstance(tags, float) and np.isnan(tags)):
        return []
    return [t.strip() for t in str(tags).split(",") if t.strip()]
