"""Who may be targeted: e-mail keys, the consent rule, suppression, recent contacts and filters.

`prepare_audience` does, once per set of filters, everything that does not
depend on the catchment: e-mail normalisation, the consent rule (only
customers who opted in and never unsubscribed, judged per address), the
suppression list, recent contacts, segment, recency, online orders and
location quality. `geo.targeting.reach` then combines these per-customer flags with a
store assignment on every slider move.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.data.consent import contactable
from geo.data.schema import LOCATION_SOURCES
from geo.keys import email_keys


def _arrow(values: pd.Series | pd.Index | Sequence[str]) -> pa.Array:
    """Values as an Arrow string array (zero-copy for pandas' Arrow-backed strings)."""
    arr = pd.array(values, dtype="string") if not isinstance(values, (pd.Series, pd.Index)) \
        else values.astype("string").array
    data = getattr(arr, "_pa_array", None)
    if data is None:
        return pa.array(arr.to_numpy(dtype=object, na_value=None), type=pa.string())
    return data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data


def _codes_of(values: pd.Series) -> np.ndarray:
    """Dense integer code per value (equal values share a code, codes follow sorted order)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = pc.rank(_arrow(values), sort_keys="ascending", tiebreaker="dense")
    codes: np.ndarray = ranks.to_numpy(zero_copy_only=False).astype(np.int64) - 1
    return codes


def _lookup(values: pd.Series, keys: Sequence[str] | np.ndarray | pd.Index) -> np.ndarray:
    """Position of each value in ``keys``; -1 when missing or not found."""
    found = pc.index_in(_arrow(values), value_set=_arrow(pd.Index(keys)))
    positions: np.ndarray = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return positions


def _isin(values: pd.Series, keys: Sequence[str] | np.ndarray | pd.Index) -> np.ndarray:
    """Boolean array: value is one of ``keys`` (False for missing values)."""
    if len(keys) == 0:
        return np.zeros(len(values), dtype=bool)
    hit = pc.is_in(_arrow(values), value_set=_arrow(pd.Index(keys)))
    inside: np.ndarray = hit.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return inside


@dataclass(frozen=True)
class AudienceFilters:
    """Audience filters beyond the consent rule (which cannot be switched off).

    Parameters
    ----------
    segments
        Keep customers whose ``segment`` is one of these (case-insensitive);
        None keeps every segment, including customers without one.
    ordered_within_days
        Keep customers whose last order is at most this many days before
        ``today`` (recent buyers). Customers without a last order are dropped.
    ordered_before_days
        Keep customers whose last order is more than this many days before
        ``today`` (lapsed buyers). Customers without a last order are dropped.
    min_online_orders
        Keep customers with ``online_orders_12m`` at least this (the O2O
        audience: online buyers who live near a store).
    location_sources
        Keep customers whose location came from one of these (``given``,
        ``address``, ``postcode``, ``ip``: see `location_quality_labels`);
        None keeps all, including unknown.
    exclude_contacted_days
        Drop customers contacted by a campaign of the workspace in the last
        this many days (see `recently_contacted`); None keeps them.
    """

    segments: tuple[str, ...] | None = None
    ordered_within_days: int | None = None
    ordered_before_days: int | None = None
    min_online_orders: int | None = None
    location_sources: tuple[str, ...] | None = None
    exclude_contacted_days: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The filters as plain JSON-ready values (saved with a campaign)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class Audience:
    """Per-customer flags that do not depend on the catchment (see `prepare_audience`).

    Attributes
    ----------
    customers
        The customers frame as given (row order is kept everywhere).
    email_key
        Trimmed, lower-cased e-mail per customer.
    email_code
        Integer code of ``email_key`` (equal addresses share a code, -1 for none).
    consented, not_suppressed, not_contacted, in_segment
        Boolean arrays, one value per customer, for the waterfall stages.
    filters
        The filters that produced ``in_segment`` and ``not_contacted``.
    """

    customers: pd.DataFrame
    email_key: pd.Series
    email_code: np.ndarray
    consented: np.ndarray
    not_suppressed: np.ndarray
    not_contacted: np.ndarray
    in_segment: np.ndarray
    filters: AudienceFilters = field(default_factory=AudienceFilters)


def _matches(values: pd.Series, wanted: Iterable[str]) -> np.ndarray:
    """True where a value equals one of ``wanted``, ignoring case and surrounding blanks."""
    encoded = pc.dictionary_encode(_arrow(values))
    labels = pd.Series(encoded.dictionary.to_pylist(), dtype="string").str.strip().str.casefold()
    hit = labels.isin([w.strip().casefold() for w in wanted]).to_numpy(dtype=bool,
                                                                          na_value=False)
    idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(idx >= 0, hit[np.maximum(idx, 0)] if len(hit) else False, False)


def filter_mask(customers: pd.DataFrame, filters: AudienceFilters,
                today: pd.Timestamp | str | None = None) -> np.ndarray:
    """True where a customer passes the segment, recency, online-buyer and location filters.

    Parameters
    ----------
    customers
        Customers frame (see `geo.data.schema.CUSTOMERS`).
    filters
        The filters; unset ones keep everyone.
    today
        Reference date for the recency filters (default: the current UTC date).
    """
    n = len(customers)
    keep = np.ones(n, dtype=bool)
    if filters.segments is not None:
        keep &= _matches(customers["segment"], filters.segments)
    if filters.ordered_within_days is not None or filters.ordered_before_days is not None:
        ref = pd.Timestamp(today) if today is not None else pd.Timestamp.now("UTC")
        ref = (ref.tz_convert("UTC").tz_localize(None) if ref.tzinfo else ref).normalize()
        last = pd.to_datetime(customers["last_order_date"])
        age_days = ((ref - last).dt.total_seconds() / 86400.0).to_numpy(dtype=float,
                                                                         na_value=np.nan)
        if filters.ordered_within_days is not None:
            keep &= age_days <= filters.ordered_within_days
        if filters.ordered_before_days is not None:
            keep &= age_days > filters.ordered_before_days
    if filters.min_online_orders is not None:
        orders = customers["online_orders_12m"].astype("Float64").fillna(0).to_numpy(float)
        keep &= orders >= filters.min_online_orders
    if filters.location_sources is not None:
        keep &= _matches(customers["location_source"], filters.location_sources)
    return keep


LOCATION_QUALITY_LABELS = {"given": "coordinates in the file", "address": "street address",
                           "postcode": "postcode", "ip": "IP estimate"}


def location_quality_labels() -> dict[str, str]:
    """The location qualities a customer can have, best first, with their labels for a filter.

    Keys are `geo.data.schema.LOCATION_SOURCES` (what ``location_source`` holds).
    """
    return {s: LOCATION_QUALITY_LABELS.get(s, s) for s in LOCATION_SOURCES}


def prepare_audience(customers: pd.DataFrame, *, filters: AudienceFilters | None = None,
                     suppression: Iterable[str] | None = None,
                     contacted: Iterable[str] | None = None,
                     today: pd.Timestamp | str | None = None) -> Audience:
    """Compute the catchment-independent flags of every customer once.

    Parameters
    ----------
    customers
        Customers frame (see `geo.data.schema.CUSTOMERS`, after `geo.data.tables.complete`).
    filters
        Audience filters (default: none beyond consent).
    suppression
        E-mail addresses never to target (any case, any surrounding blanks).
    contacted
        E-mail addresses contacted recently (see `recently_contacted`); used
        only when ``filters.exclude_contacted_days`` is set.
    today
        Reference date for the recency filters (default: now, UTC).
    """
    filters = filters or AudienceFilters()
    keys = email_keys(customers["email"])
    empty = (keys.isna() | (keys == "")).to_numpy(dtype=bool, na_value=True)
    codes = np.where(empty, -1, _codes_of(keys))
    sup = email_keys(pd.Series(list(suppression if suppression is not None else []),
                               dtype="string")).dropna().unique()
    not_sup = ~_isin(keys, sup)
    if filters.exclude_contacted_days is not None and contacted is not None:
        con = email_keys(pd.Series(list(contacted), dtype="string")).dropna().unique()
        not_con = ~_isin(keys, con)
    else:
        not_con = np.ones(len(customers), dtype=bool)
    return Audience(customers=customers, email_key=keys, email_code=codes,
                    consented=contactable(customers, codes), not_suppressed=not_sup,
                    not_contacted=not_con, in_segment=filter_mask(customers, filters, today),
                    filters=filters)
