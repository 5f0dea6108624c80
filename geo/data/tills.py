"""Read redemptions from till (point-of-sale) exports: store locations, amounts, local times.

A till names its shop by a ``Location`` label ("Downtown", "Kallio shop"); the
product's stores have a ``store_id``. The user maps each label to a store once
(the *store table*, kept in the workspace settings under `STORE_MAP_SETTING`);
every import then writes ``store_id`` from it. A row whose location is not in
the table is refused with that reason (never given a guessed store).

Square's transactions CSV writes money as ``$1,234.50`` / ``-$3.00`` and the
time as ``Date``, ``Time`` and a ``Time Zone`` name such as
``Eastern Time (US & Canada)``; `money_values` and `local_timestamps` turn them
into plain numbers and UTC times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from geo.data.columns import normalise_header
from geo.errors import DataError

STORE_MAP_SETTING = "store_locations"
LOCATION_HEADERS = ("Location", "Location Name", "Store Location", "POS Location", "Outlet")
DERIVED_STORE = "(derived) store_id"

#: Time-zone names tills write (Rails/Windows style) to IANA names.
ZONE_NAMES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "alaska": "America/Anchorage", "hawaii": "Pacific/Honolulu", "arizona": "America/Phoenix",
    "atlantic time (canada)": "America/Halifax", "london": "Europe/London",
    "dublin": "Europe/Dublin", "paris": "Europe/Paris", "berlin": "Europe/Berlin",
    "amsterdam": "Europe/Amsterdam", "madrid": "Europe/Madrid", "helsinki": "Europe/Helsinki",
    "stockholm": "Europe/Stockholm", "sydney": "Australia/Sydney",
    "melbourne": "Australia/Melbourne", "brisbane": "Australia/Brisbane",
    "tokyo": "Asia/Tokyo", "utc": "UTC",
}


def location_column(columns: Iterable[object]) -> str | None:
    """The file's store-location column (``Location`` and its variants), or None."""
    by_norm = {normalise_header(c): str(c) for c in columns}
    for header in LOCATION_HEADERS:
        found = by_norm.get(normalise_header(header))
        if found is not None:
            return found
    return None


def location_labels(df: pd.DataFrame) -> list[str]:
    """The distinct location labels of a till export, sorted (empty when it has no such column)."""
    column = location_column(df.columns)
    if column is None:
        return []
    labels = df[column].astype("string").fillna("").str.strip()
    return sorted(set(labels[labels != ""]))


def clean_store_map(table: Mapping[str, object]) -> dict[str, str]:
    """A store table with blank labels and blank store ids left out, both sides stripped."""
    out = {}
    for label, store in table.items():
        key, value = str(label).strip(), ("" if store is None else str(store).strip())
        if key and value and value.lower() != "nan":
            out[key] = value
    return out


def add_store_ids(chunk: pd.DataFrame, store_map: Mapping[str, str],
                  file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add ``(derived) store_id`` from the location column; list the rows whose location is unmapped.

    Returns
    -------
    chunk, errors
        The chunk with the derived column (blank where unmapped), and one error
        line per unmapped row (``row``, ``column``, ``reason``, ``value``).
    """
    column = location_column(chunk.columns)
    empty = pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
                          "reason": pd.Series(dtype=object), "value": pd.Series(dtype=object)})
    if column is None:
        return chunk, empty
    labels = chunk[column].astype("string").fillna("").str.strip()
    ids = labels.map(clean_store_map(store_map)).astype("string")
    out = chunk.copy()
    out[DERIVED_STORE] = ids.fillna("").to_numpy()
    missing = ids.isna() & (labels != "")
    errors = pd.DataFrame({
        "row": chunk.index[missing.to_numpy(dtype=bool)].to_numpy(dtype="int64"),
        "column": "store_id",
        "reason": [f"till location {label!r} has no store: map it to a store_id in the "
                   "location table (Data page, or --store-map)" for label in labels[missing]],
        "value": labels[missing].to_numpy(dtype=object)})
    return out, errors


def money_values(values: pd.Series) -> pd.Series:
    """``"$1,234.50"``, ``"-$3.00"``, ``"(3.00)"`` → ``1234.5``, ``-3.0``, ``-3.0`` (NaN when blank)."""
    text = values.astype("string").fillna("").str.strip()
    negative = text.str.startswith("-") | text.str.startswith("(")
    digits = text.str.replace(r"[^0-9.]", "", regex=True)
    number = pd.to_numeric(digits.mask(digits == ""), errors="coerce")
    return number.where(~negative, -number)


def zone_of(name: str) -> ZoneInfo | None:
    """The time zone a till's zone name stands for (IANA names accepted), or None."""
    key = str(name).strip()
    iana = ZONE_NAMES.get(key.lower(), key)
    try:
        return ZoneInfo(iana) if iana else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_timestamps(date: pd.Series, time: pd.Series, zone: pd.Series) -> pd.Series:
    """UTC ISO 8601 text from a local date, time and zone name per row ('' where unusable)."""
    when = pd.to_datetime((date.astype("string").fillna("") + " "
                           + time.astype("string").fillna("")).str.strip(),
                          errors="coerce", format="mixed")
    out = pd.Series("", index=date.index, dtype="string")
    names = zone.astype("string").fillna("").str.strip()
    for name in names.unique():
        tz = zone_of(str(name))
        rows = (names == name).to_numpy(dtype=bool) & when.notna().to_numpy(dtype=bool)
        if tz is None or not rows.any():
            continue
        local = when[rows].dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        out[rows] = local.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna("")
    return out


def parse_store_map_args(items: list[str]) -> dict[str, str]:
    """Turn ``["Downtown=S1", "Kallio shop=S2"]`` into a store table.

    Raises
    ------
    DataError
        An item without ``=``, or with a blank side.
    """
    out = {}
    for item in items:
        label, sep, store = item.rpartition("=")
        if not sep or not label.strip() or not store.strip():
            raise DataError("--store-map", f"expects LOCATION=STORE_ID, got {item!r}")
        out[label.strip()] = store.strip()
    return out
