"""Attribute in-store redemptions to campaign recipients by coupon code or till customer id, and flag anomalies.

Rules
-----
* Codes and e-mails are compared by their identity keys (`geo.keys.code_key`:
  blanks and dashes dropped, upper case; `geo.keys.email_key`: trimmed, lower
  case), so ``mu7d-qtwxv`` typed at the till is the code ``MU7DQTWXV``.
* A redemption whose code is a recipient's unique code is attributed to that
  recipient (``match="code"``).
* Store-wide codes (a list of generic codes such as ``"WELCOME10"``) can be used
  by anyone, holdout members included: they are counted separately
  (``kind="store_wide"``) and attributed to a recipient only through the till's
  ``customer_id``.
* Where the till records a ``customer_id`` (a loyalty card) that is in the
  target list, the redemption is attributed to that customer
  (``match="customer_id"``), whatever the code. This is how the holdout's
  store visits are observed, since holdout members get no unique code.

Anomalies (one boolean column each, several may hold for one redemption)
------------------------------------------------------------------------
``unknown_code``
    The code is neither a recipient's unique code nor a store-wide code
    (a likely typo that the user accepted is no longer unknown).
``likely_typo``
    An unknown code one substitution or one swap of two adjacent characters
    away from exactly one issued code of the campaign (``intended_code``). The
    check character makes this safe: no two issued codes are one such slip
    apart, and an issued code is reached from a slip only one way. It counts
    as that code only when the caller accepts typos (``accept_typos=True``).
``double_redemption``
    A unique code redeemed again after its first redemption (the first one,
    by timestamp, is not flagged; the repeats are).
``cross_store``
    Attributed to a recipient but redeemed at another store than the
    recipient's nearest store (the target list's ``store_id``).
``outside_window``
    Redeemed before the offer window's start or after its end (only when a
    window is given).
``holdout_redemption``
    Attributed to a holdout member.

A redemption *counts* for the funnel (``counted``) when it is attributed to a
recipient, falls inside the window (when one is given) and is not a repeat of
an already redeemed unique code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import DataError
from geo.keys import code_keys
from geo.targeting.codes import ALPHABET
from geo.targeting.targets import DateLike

ANOMALIES = ("unknown_code", "likely_typo", "double_redemption", "cross_store",
             "outside_window", "holdout_redemption")


@dataclass(frozen=True)
class Window:
    """An offer window: redemptions count from ``start`` to ``end`` inclusive (naive UTC)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def parse(cls, text: str) -> Window:
        """Parse ``"START/END"`` (ISO dates or datetimes); a date-only END covers that whole day.

        Examples
        --------
        >>> Window.parse("2026-10-01/2026-10-03").end
        Timestamp('2026-10-03 23:59:59.999999')
        """
        parts = str(text).split("/")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise DataError("--window", f"expected START/END (e.g. 2026-10-01/2026-10-03), got {text!r}")
        return cls.of(parts[0].strip(), parts[1].strip())

    @classmethod
    def of(cls, start: DateLike, end: DateLike) -> Window:
        """Build a window from two timestamps or strings; a date-only end covers its whole day."""
        try:
            s = _naive_utc(pd.Timestamp(start))
            e = _naive_utc(pd.Timestamp(end))
        except (ValueError, TypeError) as exc:
            raise DataError("window", f"not a date or datetime ({exc})") from None
        if isinstance(end, str) and len(end.strip()) <= 10:
            e = e + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        if e < s:
            raise DataError("window", f"window ends ({e}) before it starts ({s})")
        return cls(s, e)

    def as_dict(self) -> dict[str, str]:
        """Return ``{"start", "end"}`` as ISO text."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _naive_utc(ts: pd.Timestamp) -> pd.Timestamp:
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _isin(values: pd.Series, pool: pd.Series | pd.Index | Sequence[str]) -> np.ndarray:
    """Vectorised membership test (``Series.isin`` on Arrow strings loops in Python)."""
    index = pd.Index(pd.unique(np.asarray(pool, dtype=object)))
    found: np.ndarray = index.get_indexer(values.to_numpy(dtype=object, na_value=None)) >= 0
    return found


def _code_owners(targets: pd.DataFrame) -> pd.DataFrame:
    """One row per unique code: code, customer_id, group, recipient store (and campaign)."""
    cols = ["customer_id", "group", "store_id"] + (["campaign_id"] if "campaign_id" in targets else [])
    owners = targets[cols].copy()
    owners["code"] = code_keys(targets["coupon_code"]) if "coupon_code" in targets \
        else pd.Series(pd.NA, index=targets.index, dtype="string")
    owners = owners[owners["code"].notna()]
    dup = owners["code"].duplicated(keep=False)
    if dup.any():
        codes = ", ".join(sorted(owners.loc[dup, "code"].unique())[:5])
        raise DataError("targets", f"the same coupon code is given to several recipients: {codes}",
                        column="coupon_code")
    return owners


def _one_slip_variants(code: str) -> set[str]:
    """Every code one substitution (by an alphabet character) or one adjacent swap away."""
    out = {code[:i] + c + code[i + 1:] for i in range(len(code)) for c in ALPHABET}
    out.update(code[:i] + code[i + 1] + code[i] + code[i + 2:] for i in range(len(code) - 1))
    out.discard(code)
    return out


def likely_typos(codes: pd.Series, issued: Iterable[str]) -> pd.Series:
    """The issued code each code was most likely meant to be, or ``<NA>``.

    Parameters
    ----------
    codes
        Codes as keys (`geo.keys.code_keys`), typically the unknown ones.
    issued
        The campaign's issued codes, as keys.

    Returns
    -------
    Series aligned with ``codes``: the one issued code that a single
    substitution or a single swap of adjacent characters turns the code into;
    ``<NA>`` when there is none, or more than one (ambiguous), or the code is
    itself issued.
    """
    pool = set(issued)
    lengths = {len(c) for c in pool}
    found: dict[str, str] = {}
    for code in pd.unique(codes.dropna()):
        if code in pool or len(code) not in lengths:
            continue
        hits = _one_slip_variants(code) & pool
        if len(hits) == 1:
            found[code] = hits.pop()
    return codes.map(found).astype("string")


def _customer_index(targets: pd.DataFrame) -> pd.DataFrame:
    """Recipients by customer id (the first row when several campaigns list the same customer)."""
    cols = ["customer_id", "group", "store_id"] + (["campaign_id"] if "campaign_id" in targets else [])
    idx = targets[cols].copy()
    idx["customer_id"] = idx["customer_id"].astype("string").str.strip()
    return idx.drop_duplicates("customer_id", keep="last").set_index("customer_id")


def attribute_redemptions(targets: pd.DataFrame, redemptions: pd.DataFrame, *,
                          window: Window | None = None,
                          store_wide_codes: Iterable[str] = (),
                          accept_typos: bool = False) -> pd.DataFrame:
    """Match each redemption to a recipient and flag anomalies.

    Parameters
    ----------
    targets
        Target list (`geo.data.schema.TARGETS` columns: customer_id, email, store_id,
        travel_min, coupon_code (NA for holdout), group; optionally campaign_id).
    redemptions
        Point-of-sale rows (`geo.data.schema.REDEMPTIONS`: coupon_code, store_id,
        timestamp (naive UTC), amount, optional transaction_id and customer_id).
    window
        The offer window; ``None`` disables the outside-window check.
    store_wide_codes
        Generic codes anyone may use (compared by `geo.keys.code_key`).
    accept_typos
        Count a ``likely_typo`` redemption as its intended code (default
        False: it is reported, not counted).

    Returns
    -------
    DataFrame
        One row per redemption, in input order: the input columns with
        ``code`` (its key; the intended code when a typo is accepted),
        ``intended_code`` (for likely typos, else ``<NA>``), ``kind``
        (``"unique"``, ``"store_wide"`` or ``"unknown"``), ``match``
        (``"code"``, ``"customer_id"`` or ``<NA>``),
        ``recipient_id`` (the attributed customer or ``<NA>``), ``group``,
        ``recipient_store_id``, ``campaign_id`` (when targets carry it), one
        boolean column per anomaly in `ANOMALIES`, and ``counted``.
    """
    red = redemptions.reset_index(drop=True).copy()
    for col in ("customer_id", "transaction_id"):
        if col not in red:
            red[col] = pd.NA
    red["code"] = code_keys(red["coupon_code"])
    red["timestamp"] = pd.to_datetime(red["timestamp"])
    red["amount"] = pd.to_numeric(red["amount"], errors="coerce").astype("float64")
    red["store_id"] = red["store_id"].astype("string").str.strip()
    generic = set(code_keys(pd.Series(list(store_wide_codes), dtype="string")).dropna())
    owners = _code_owners(targets)
    by_customer = _customer_index(targets)

    is_unique = _isin(red["code"], owners["code"]) & red["code"].notna().to_numpy()
    is_generic = _isin(red["code"], list(generic)) & red["code"].notna().to_numpy() & ~is_unique
    unknown = ~is_unique & ~is_generic & red["code"].notna().to_numpy()
    red["intended_code"] = pd.Series(pd.NA, index=red.index, dtype="string")
    red.loc[unknown, "intended_code"] = likely_typos(red.loc[unknown, "code"], owners["code"])
    red["likely_typo"] = red["intended_code"].notna()
    if accept_typos:
        typo = red["likely_typo"].to_numpy(bool)
        red.loc[typo, "code"] = red.loc[typo, "intended_code"]
        is_unique = is_unique | typo
    red["kind"] = np.select([is_unique, is_generic], ["unique", "store_wide"], "unknown")

    code_owner = red["code"].map(owners.set_index("code")["customer_id"]).astype("string")
    till = red["customer_id"].astype("string").str.strip()
    till_known = pd.Series(_isin(till, by_customer.index) & till.notna().to_numpy(), index=till.index)
    recipient = till.where(till_known, code_owner)
    red["match"] = pd.Series(np.where(till_known, "customer_id",
                                      np.where(code_owner.notna(), "code", np.array(None))),
                             dtype="string")
    red["recipient_id"] = recipient.astype("string")
    red["group"] = recipient.map(by_customer["group"]).astype("string")
    red["recipient_store_id"] = recipient.map(by_customer["store_id"]).astype("string")
    if "campaign_id" in by_customer:
        red["campaign_id"] = recipient.map(by_customer["campaign_id"]).astype("string")
    attributed = red["recipient_id"].notna()

    red["unknown_code"] = red["kind"].eq("unknown")
    order = red.sort_values(["timestamp"], kind="stable").index
    repeat = pd.Series(False, index=red.index)
    uniq = red.loc[order]
    repeat.loc[order] = (uniq["kind"].eq("unique") & uniq["code"].duplicated(keep="first")).to_numpy()
    red["double_redemption"] = repeat
    red["cross_store"] = (attributed & red["recipient_store_id"].notna()
                          & red["store_id"].ne(red["recipient_store_id"]).fillna(False))
    if window is None:
        red["outside_window"] = False
    else:
        red["outside_window"] = ((red["timestamp"] < window.start) | (red["timestamp"] > window.end)).fillna(False)
    red["holdout_redemption"] = attributed & red["group"].eq("holdout").fillna(False)
    for col in ANOMALIES:
        red[col] = red[col].astype(bool)
    red["counted"] = (attributed & ~red["outside_window"] & ~red["double_redemption"]).astype(bool)
    return red


def anomaly_counts(attributed: pd.DataFrame) -> dict[str, int]:
    """Number of redemptions flagged by each anomaly (a redemption may carry several flags)."""
    return {a: int(attributed[a].sum()) for a in ANOMALIES}


def anomaly_table(attributed: pd.DataFrame) -> pd.DataFrame:
    """The flagged redemptions, one row per (redemption, anomaly), for review and CSV download."""
    cols = [c for c in ("transaction_id", "timestamp", "store_id", "coupon_code",
                        "intended_code", "amount",
                        "customer_id", "recipient_id", "group", "recipient_store_id")
            if c in attributed]
    parts = []
    for a in ANOMALIES:
        hit = attributed.loc[attributed[a], cols].copy()
        hit.insert(0, "anomaly", a)
        parts.append(hit)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["anomaly", *cols])
    return out.sort_values(["anomaly", "timestamp"], kind="stable").reset_index(drop=True)


def store_wide_summary(attributed: pd.DataFrame) -> dict[str, Any]:
    """Redemptions of store-wide codes: count, revenue, and how many came from known recipients."""
    sw = attributed[attributed["kind"].eq("store_wide")]
    return {
        "redemptions": int(len(sw)),
        "revenue": float(sw["amount"].sum()),
        "by_recipients": int(sw["recipient_id"].notna().sum()),
        "by_holdout": int(sw["group"].eq("holdout").fillna(False).sum()),
    }
