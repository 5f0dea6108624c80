"""Headline counts shown above every map: customers, contactable customers, stores."""

from __future__ import annotations

import pandas as pd

from geo.data.consent import contactable


def headline_counts(customers: pd.DataFrame, stores: pd.DataFrame) -> dict[str, int]:
    """Count customers, contactable customers (`geo.data.consent.contactable`: per address) and stores.

    Returns
    -------
    dict with ``customers``, ``opted_in``, ``unsubscribed`` and ``stores``.
    """
    unsub = (customers["unsubscribed"].astype("boolean").fillna(False)
             if "unsubscribed" in customers else pd.Series(False, index=customers.index))
    return {
        "customers": int(len(customers)),
        "opted_in": int(contactable(customers).sum()),
        "unsubscribed": int(unsub.sum()),
        "stores": int(len(stores)),
    }
