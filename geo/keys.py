"""Define who is the same person and which coupon is the same code: the identity keys.

Every module that compares e-mail addresses or coupon codes calls these
functions and nothing else (a test fails if one lower-cases e-mails or
upper-cases codes on its own):

``email_key``
    The address trimmed of surrounding blanks and lower-cased:
    ``" Ann@Example.COM "`` and ``"ann@example.com"`` are one person. Inner
    characters are left alone, so two different valid addresses never share a
    key. Blank becomes missing.
``code_key``
    The code with every blank and dash removed, upper-cased: ``"mu7d-qtwxv"``,
    ``" MU7D QTWXV"`` and ``"MU7DQTWXV"`` are one code. Blank becomes missing.

Each rule has a scalar form (``email_key``, ``code_key``) and a vectorised form
for a column (``email_keys``, ``code_keys``) that give the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import pandas as pd

_CODE_NOISE = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
"""Blanks and dashes (ASCII hyphen-minus, Unicode hyphens and dashes, the minus sign)."""


def email_key(email: object) -> str | None:
    """Return the identity key of one e-mail address (trimmed, lower-case), None when blank.

    Parameters
    ----------
    email
        An address as typed or exported, e.g. ``" Ann@Example.com"``.

    Examples
    --------
    >>> email_key(" Ann@Example.COM ")
    'ann@example.com'
    """
    if email is None or (isinstance(email, float) and email != email) or email is pd.NA:
        return None
    key = str(email).strip().lower()
    return key or None


def _vectorised(values: pd.Series | pd.Index | Iterable[object], fast: Callable[[pd.Series], pd.Series],
                scalar: Callable[[object], str | None]) -> pd.Series:
    """Apply ``fast`` (string methods) to ASCII values and ``scalar`` to the others.

    Arrow's case mapping differs from Python's for a few characters (``ß``,
    dotted ``İ``), so values that are not pure ASCII go through the scalar rule,
    once per distinct value: both forms always agree.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    text = series.astype("string")
    out = fast(text)
    other = (~text.str.isascii()).fillna(False).to_numpy(dtype=bool)
    if other.any():
        out[other] = text[other].map(scalar, na_action="ignore")
    return out.mask(out == "").astype("string")


def email_keys(emails: pd.Series | pd.Index | Iterable[object]) -> pd.Series:
    """Vectorised `email_key`: a string Series aligned with ``emails`` (``<NA>`` when blank)."""
    return _vectorised(emails, lambda s: s.str.strip().str.lower(), email_key)


def code_key(code: object) -> str | None:
    """Return the identity key of one coupon code (no blanks or dashes, upper-case), None when blank.

    Parameters
    ----------
    code
        A code as a customer or cashier typed it, e.g. ``" mu7d-qtwx v"``.

    Examples
    --------
    >>> code_key(" mu7d-qtwx v")
    'MU7DQTWXV'
    """
    if code is None or (isinstance(code, float) and code != code) or code is pd.NA:
        return None
    key = _CODE_NOISE.sub("", str(code)).upper()
    return key or None


def code_keys(codes: pd.Series | pd.Index | Iterable[object]) -> pd.Series:
    """Vectorised `code_key`: a string Series aligned with ``codes`` (``<NA>`` when blank)."""
    return _vectorised(codes, lambda s: s.str.replace(_CODE_NOISE, "", regex=True).str.upper(),
                       code_key)
