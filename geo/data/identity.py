"""Give a record without a ``customer_id`` a stable one, derived from its e-mail identity.

A Mailchimp or Klaviyo audience export has no customer number. The id it gets
is built from `geo.keys.email_keys` (trimmed, lower-cased address), so the same
person keeps the same id across imports and across files that spell the
address differently (``" Ann@Example.COM"`` and ``"ann@example.com"``). The
address itself does not appear in the id.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from geo.keys import email_keys

EMAIL_ID_PREFIX = "em-"
EMAIL_ID_HEX = 16  # 64 bits of SHA-256: collisions need ~4 billion addresses


def _digest(key: str) -> str:
    return EMAIL_ID_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:EMAIL_ID_HEX]


def email_customer_ids(emails: pd.Series) -> pd.Series:
    """Return a stable ``customer_id`` per e-mail address (``<NA>`` where the address is blank).

    Parameters
    ----------
    emails
        Addresses as exported, any case, any surrounding blanks.

    Returns
    -------
    Series of strings aligned with ``emails``: ``"em-"`` and 16 hexadecimal
    digits of the SHA-256 of the address's identity key.

    Examples
    --------
    >>> ids = email_customer_ids(pd.Series([" Ann@Example.COM", "ann@example.com", ""]))
    >>> ids[0] == ids[1], ids[0][:3], pd.isna(ids[2])
    (True, 'em-', True)
    """
    keys = email_keys(emails)
    distinct = keys.dropna().unique()
    ids = {k: _digest(str(k)) for k in distinct}
    return keys.map(ids, na_action="ignore").astype("string")
