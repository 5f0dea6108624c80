"""Fill canonical columns a file implies but does not hold, after the column mapping.

- Ids (``customer_id``, ``store_id``, ``transaction_id``) and postcodes lose the
  ``'`` that Excel and Shopify put before them to keep them text.
- A customers file without ``customer_id`` (or a row with a blank one) gets one
  per e-mail address, stable across imports (`geo.data.identity.email_customer_ids`).
- A file without coordinate columns but with an address or a postcode gets
  blank ``lat``/``lon``: its rows are located (`geo.data.locate`) or refused
  one by one.
- A row whose coordinates come from the file gets a location quality
  (``location_source``) when the file gives none: ``given``, or the layout's
  (``ip`` for Mailchimp's estimate).
- Phone numbers lose Excel's ``'`` too.
"""

from __future__ import annotations

import pandas as pd

from geo.data.identity import email_customer_ids
from geo.data.schema import Schema

APOSTROPHE_COLUMNS = ("customer_id", "store_id", "transaction_id", "postcode", "coupon_code",
                      "phone")


def _strip_apostrophe(values: pd.Series) -> pd.Series:
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        return values
    text = values.astype("string")
    return text.str.strip().str.removeprefix("'")


def derive_columns(mapped: pd.DataFrame, schema: Schema,
                   coordinates_source: str = "given") -> pd.DataFrame:
    """Return ``mapped`` with the derived columns filled (see the module notes).

    Parameters
    ----------
    mapped
        A chunk with canonical column names (after `geo.data.columns.apply_mapping`).
    schema
        The table it feeds.
    coordinates_source
        Location quality of rows whose coordinates come from the file.
    """
    out = mapped.copy()
    for name in APOSTROPHE_COLUMNS:
        if name in out.columns:
            out[name] = _strip_apostrophe(out[name])
    if schema.name == "customers" and "email" in out.columns:
        if "customer_id" not in out.columns:
            out.insert(0, "customer_id", email_customer_ids(out["email"]).to_numpy())
        else:
            ids = out["customer_id"].astype("string")
            blank = (ids.fillna("").str.strip() == "").to_numpy(dtype=bool)
            if blank.any():
                ids[blank] = email_customer_ids(out["email"][blank]).to_numpy()
                out["customer_id"] = ids
    if "lat" in schema.names and ({"address", "postcode"} & set(out.columns)):
        for name in ("lat", "lon"):
            if name not in out.columns:
                out[name] = pd.Series("", index=out.index, dtype="string")
    if "location_source" in schema.names and "lat" in out.columns and "lon" in out.columns:
        given = ((out["lat"].astype("string").fillna("").str.strip() != "")
                 & (out["lon"].astype("string").fillna("").str.strip() != ""))
        source = (out["location_source"].astype("string") if "location_source" in out.columns
                  else pd.Series(pd.NA, index=out.index, dtype="string"))
        blank = source.fillna("").str.strip() == ""
        out["location_source"] = source.mask(given & blank, coordinates_source)
    return out
