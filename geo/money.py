"""Show money in the workspace's currency: one formatter for every money figure.

A workspace has one currency (ISO 4217 code such as ``EUR``), chosen by the
user; the default follows the machine's locale (territory), else euros.
"""

from __future__ import annotations

import locale
import math
import re

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
"""Currencies written with a symbol before the amount; others with their code."""
_TERRITORY_CURRENCY = {
    **{t: "EUR" for t in ("AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE",
                          "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK", "AD", "MC")},
    "US": "USD", "GB": "GBP", "CH": "CHF", "LI": "CHF", "SE": "SEK", "NO": "NOK", "DK": "DKK",
    "PL": "PLN", "CZ": "CZK", "HU": "HUF", "JP": "JPY", "CA": "CAD", "AU": "AUD", "BR": "BRL",
}
DEFAULT_CURRENCY = "EUR"
_CODE = re.compile(r"^[A-Z]{3}$")


def default_currency() -> str:
    """The currency of the machine's locale territory (``de_CH`` → ``CHF``), else ``EUR``."""
    try:
        name = locale.getlocale()[0] or ""
    except ValueError:
        name = ""
    territory = name.split("_")[1][:2].upper() if "_" in name else ""
    return _TERRITORY_CURRENCY.get(territory, DEFAULT_CURRENCY)


def check_currency(value: str) -> str:
    """Return ``value`` upper-cased if it looks like an ISO 4217 code, else raise `ValueError`."""
    text = str(value or "").strip().upper()
    if not _CODE.match(text):
        raise ValueError(f"currency {value!r} is not a three-letter ISO 4217 code such as EUR, "
                         "USD or CHF")
    return text


def format_money(amount: float | None, currency: str, *, decimals: int = 0) -> str:
    """Format an amount with its currency: ``€9,720``, ``CHF 1,234.50``, ``-$3``; ``n/a`` if none.

    Parameters
    ----------
    amount
        The amount (None or NaN gives ``"n/a"``).
    currency
        ISO 4217 code.
    decimals
        Digits after the decimal point.
    """
    if amount is None or (isinstance(amount, float) and not math.isfinite(amount)):
        return "n/a"
    sign = "-" if amount < 0 else ""
    number = f"{abs(amount):,.{decimals}f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"
