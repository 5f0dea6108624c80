"""Normalise and hash customer identifiers the way Google Customer Match and Meta custom audiences expect.

Facts (see ``shared/docs/ad-platforms.md``):

Google Customer Match
    e-mail trimmed and lower-cased; for ``gmail.com`` and ``googlemail.com``
    only, dots and any ``+suffix`` removed from the part before ``@``; phone in
    E.164 with a leading ``+``; names trimmed, lower-case, without prefixes
    (Mrs.) or suffixes (Jr.); country ISO 3166-1 alpha-2 and zip **not hashed**.
Meta custom audience
    everything trimmed and lower-case; phone digits only with the country code,
    no ``+`` or leading zeros; names, city and state letters only; zip the part
    before ``-`` without spaces; country two letters; all hashed.

Hashes are SHA-256 hex of the UTF-8 normalised value. A blank or unusable
value stays blank: the hash of an empty string is never written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import phonenumbers

from geo.keys import email_key

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
#: name prefixes and suffixes Google asks to drop (compared without dots, lower-case)
NAME_AFFIXES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame",
                          "jr", "sr", "ii", "iii", "iv", "phd", "md"})
_SPACES = re.compile(r"\s+")


def sha256_hex(value: str | None) -> str | None:
    """SHA-256 hex of a normalised value; None stays None (never the hash of an empty string)."""
    if not value:
        return None
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        if value != value:   # pandas NA and NaN-like values
            return None
    except (TypeError, ValueError):
        return None
    text = _SPACES.sub(" ", str(value)).strip()
    return text or None


def email_google(email: object) -> str | None:
    """Google's e-mail normalisation: the identity key, minus gmail dots and ``+suffix``.

    The identity key is `geo.keys.email_key` (trimmed, lower-case); for
    ``gmail.com`` and ``googlemail.com`` the part before ``@`` also loses its
    dots and any ``+suffix``.
    """
    key = email_key(email)
    if key is None or "@" not in key:
        return None
    local, _, domain = key.rpartition("@")
    if not local or not domain:
        return None
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}" if local else None


def email_meta(email: object) -> str | None:
    """Meta's e-mail normalisation: trimmed, lower-case (the identity key, `geo.keys.email_key`)."""
    key = email_key(email)
    return key if key is not None and "@" in key else None


def phone_e164(phone: object, country: object = None) -> str | None:
    """A phone number in E.164 (``+358401234567``), or None when it cannot be one.

    Parameters
    ----------
    phone
        As typed: ``+358 40 123 4567``, ``0401234567``, ``00358 40…``, ``(040) 123-4567``.
    country
        ISO 3166-1 alpha-2 code used for numbers written without a country code.
    """
    text = _text(phone)
    if text is None:
        return None
    region = (_text(country) or "").upper() or None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


def phone_meta(phone: object, country: object = None) -> str | None:
    """Meta's phone normalisation: E.164 digits without the ``+`` (country code, no leading zeros)."""
    e164 = phone_e164(phone, country)
    return e164[1:] if e164 else None


def name_google(name: object) -> str | None:
    """Google's name normalisation: lower-case, trimmed, prefixes and suffixes dropped."""
    text = _text(name)
    if text is None:
        return None
    words = [w for w in text.lower().replace(",", " ").split()
             if w.replace(".", "") not in NAME_AFFIXES]
    return " ".join(words) or None


def letters_only(value: object) -> str | None:
    """Meta's rule for names, city and state: lower-case letters only (accented letters kept)."""
    text = _text(value)
    if text is None:
        return None
    text = unicodedata.normalize("NFC", text.lower())
    out = "".join(ch for ch in text if ch.isalpha())
    return out or None


def zip_meta(value: object) -> str | None:
    """Meta's zip: lower-case, the part before ``-``, no spaces."""
    text = _text(value)
    if text is None:
        return None
    return text.lower().split("-", 1)[0].replace(" ", "") or None


def zip_google(value: object) -> str | None:
    """Google's zip, sent unhashed: trimmed, inner blanks kept single."""
    return _text(value)


def country_code(value: object) -> str | None:
    """ISO 3166-1 alpha-2 code, upper-case, or None when the value is not two letters."""
    text = _text(value)
    if text is None:
        return None
    text = text.upper()
    return text if len(text) == 2 and text.isalpha() and text.isascii() else None
