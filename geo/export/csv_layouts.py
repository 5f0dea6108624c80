"""Write a target list in each provider's manual-import CSV layout, for users without API access."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo.errors import GeoError
from geo.export.recipients import PreparedTargets, prepare_targets

#: provider -> (column per our field, in file order; separator)
LAYOUTS: dict[str, tuple[dict[str, str], str]] = {
    "mailchimp": ({"email": "Email Address", "first_name": "First Name",
                   "store_name": "Nearest Store", "store_address": "Store Address",
                   "travel_min": "Travel Minutes", "coupon_code": "Coupon Code",
                   "offer_start": "Offer Start", "offer_end": "Offer End", "tags": "Tags"}, ","),
    "klaviyo": ({"email": "Email", "first_name": "First Name", "store_name": "Nearest Store",
                 "store_address": "Store Address", "travel_min": "Travel Minutes",
                 "coupon_code": "Coupon Code", "offer_start": "Offer Start",
                 "offer_end": "Offer End", "tags": "Tags"}, ","),
    "sendgrid": ({"email": "email", "first_name": "first_name", "store_name": "nearest_store",
                  "store_address": "store_address", "travel_min": "travel_minutes",
                  "coupon_code": "coupon_code", "offer_start": "offer_start",
                  "offer_end": "offer_end", "tags": "tags"}, ","),
    "brevo": ({"email": "EMAIL", "first_name": "FIRSTNAME", "store_name": "NEAREST_STORE",
               "store_address": "STORE_ADDRESS", "travel_min": "TRAVEL_MINUTES",
               "coupon_code": "COUPON_CODE", "offer_start": "OFFER_START",
               "offer_end": "OFFER_END", "tags": "TAGS"}, ";"),
}


def manual_import_frame(targets: pd.DataFrame | PreparedTargets, provider: str) -> pd.DataFrame:
    """The consented treatment recipients with the provider's import column names, in order.

    Holdout members and rows without consent are left out (see `prepare_targets`);
    the email column comes first, as Klaviyo requires. Travel times are whole
    minutes; offer dates are ISO ``YYYY-MM-DD``; tags stay comma-separated.
    """
    if provider not in LAYOUTS:
        raise GeoError(f"unknown provider {provider!r}; use one of {', '.join(LAYOUTS)}")
    prepared = targets if isinstance(targets, PreparedTargets) else prepare_targets(targets)
    columns, _ = LAYOUTS[provider]
    return prepared.eligible[list(columns)].rename(columns=columns).reset_index(drop=True)


def manual_import_csv(targets: pd.DataFrame | PreparedTargets, provider: str) -> str:
    """The manual-import file as text (UTF-8; Brevo's uses ';' as separator).

    Text cells that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return) are neutralised, as in every download.
    """
    from geo.targets import neutralise_formulas

    _, sep = LAYOUTS.get(provider, ({}, ","))
    return neutralise_formulas(manual_import_frame(targets, provider)).to_csv(index=False, sep=sep)


def write_manual_import(targets: pd.DataFrame | PreparedTargets, provider: str,
                        path: str | Path) -> Path:
    """Write the manual-import file for ``provider`` to ``path`` and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manual_import_csv(targets, provider), encoding="utf-8")
    return path
