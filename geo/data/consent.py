"""Decide who may be e-mailed: the consent rule, judged per address.

An address may be targeted, exported or synced only if **every** record of it
(every customer whose `geo.keys.email_key` is the same) opted in and none
unsubscribed. A record without an address is never contactable. This is the
one definition of the rule; counts, maps, target lists and exports call it.

The ad-platform lists have their own consent, judged the same way
(`advertisable`): every record of the address has ``ads_consent`` true.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.keys import email_keys


def address_codes(emails: pd.Series) -> np.ndarray:
    """Integer code per row of the e-mail key (equal addresses share a code, -1 for none)."""
    keys = email_keys(emails)
    codes: NDArray[np.intp]
    codes, _ = pd.factorize(keys, use_na_sentinel=True)
    return codes.astype(np.int64)


def contactable(customers: pd.DataFrame, email_code: np.ndarray | None = None) -> np.ndarray:
    """True where every record sharing the customer's address opted in and none unsubscribed.

    Parameters
    ----------
    customers
        Frame with ``email``, ``opted_in`` and (optionally) ``unsubscribed``.
    email_code
        Precomputed `address_codes` of ``customers["email"]`` (computed when None).

    Returns
    -------
    numpy.ndarray of bool, one value per row.
    """
    if email_code is None:
        email_code = address_codes(customers["email"])
    opted = customers["opted_in"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    unsub = (customers["unsubscribed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
             if "unsubscribed" in customers.columns else np.zeros(len(customers), bool))
    return _every_record_ok(~opted | unsub, email_code)


def advertisable(customers: pd.DataFrame, email_code: np.ndarray | None = None) -> np.ndarray:
    """True where every record sharing the customer's address gave advertising consent.

    The ad-platform lists' rule (`geo.ads.audiences`): advertising consent is
    not e-mail consent, so only ``ads_consent`` counts, and a blank value (a
    record imported from a file without the column) counts as no.

    Parameters
    ----------
    customers
        Frame with ``email`` and ``ads_consent`` (booleans, ``<NA>`` for blank).
    email_code
        Precomputed `address_codes` of ``customers["email"]`` (computed when None).

    Returns
    -------
    numpy.ndarray of bool, one value per row (all False without an ``ads_consent`` column).
    """
    if email_code is None:
        email_code = address_codes(customers["email"])
    if "ads_consent" not in customers.columns:
        return np.zeros(len(customers), dtype=bool)
    given = customers["ads_consent"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return _every_record_ok(~given, email_code)


def _every_record_ok(bad: np.ndarray, email_code: np.ndarray) -> np.ndarray:
    """True where the row has an address and no record of that address is ``bad``."""
    has_address = email_code >= 0
    bad = bad | ~has_address
    codes = np.where(has_address, email_code, 0)
    bad_per_address = np.bincount(codes, weights=bad, minlength=codes.max(initial=0) + 1) > 0
    result: np.ndarray = ~bad_per_address[codes] & has_address
    return result
