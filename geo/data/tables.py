"""Read and write the product's tables (stores, customers, campaign files), validated on load."""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path

import pandas as pd

from geo.data.schema import (
    CUSTOMERS,
    EVENTS,
    REDEMPTIONS,
    SCHEMAS,
    STORES,
    TARGETS,
    Schema,
)
from geo.data.sniff import decode_text
from geo.data.validate import ValidationReport, validate_table
from geo.errors import DataError


def read_csv_text(text: str, file: str) -> pd.DataFrame:
    """Parse CSV text into a frame of strings, sniffing the delimiter (comma, semicolon, tab).

    Parameters
    ----------
    text
        The decoded file contents.
    file
        Name used in messages.
    """
    sample = text[:20000]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    try:
        df = pd.read_csv(_io.StringIO(text), sep=delimiter, dtype="string",
                         keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise DataError(file, f"not a readable CSV table ({exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def read_raw(path: str | Path, *, name: str | None = None) -> pd.DataFrame:
    """Read a table file (CSV or Parquet) without validating it.

    Parameters
    ----------
    path
        File path; the format follows the extension (``.csv``, ``.txt``, ``.parquet``).
    name
        Name used in messages (defaults to the file name).
    """
    path = Path(path)
    label = name or path.name
    if not path.exists():
        raise DataError(label, f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise DataError(label, f"not a readable Parquet file ({exc})") from None
    return read_csv_text(decode_text(path.read_bytes(), label), label)


def check_table(path: str | Path, schema: Schema) -> ValidationReport:
    """Read a file and validate it against ``schema``, keeping good rows and listing bad ones."""
    path = Path(path)
    return validate_table(read_raw(path), schema, path.name)


def load_table(path: str | Path, schema: Schema | str) -> pd.DataFrame:
    """Read and validate a table strictly: any bad row raises `DataError`.

    Parameters
    ----------
    path
        CSV or Parquet file.
    schema
        A `geo.data.schema.Schema` or its name (``"stores"``, ``"customers"``...).

    Returns
    -------
    DataFrame with canonical, typed columns (optional columns added when absent).
    """
    schema = SCHEMAS[schema] if isinstance(schema, str) else schema
    report = check_table(path, schema)
    report.raise_first()
    return complete(report.valid.drop(columns="_row"), schema)


def complete(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Add any missing optional columns with their defaults, in schema order."""
    df = df.copy(deep=False)  # copy-on-write: columns added below do not touch the caller's frame
    defaults = {"unsubscribed": False, "online_orders_12m": 0}
    for col in schema.columns:
        if col.name not in df.columns:
            df[col.name] = defaults.get(col.name, pd.NA)
    if schema is CUSTOMERS:
        df["unsubscribed"] = df["unsubscribed"].astype("boolean").fillna(False)
        df["opted_in"] = df["opted_in"].astype("boolean").fillna(False)
        df["online_orders_12m"] = df["online_orders_12m"].astype("Int64").fillna(0)
        df["last_order_date"] = pd.to_datetime(df["last_order_date"]).astype("datetime64[us]")
        df["ads_consent"] = df["ads_consent"].astype("boolean")  # blank: not given, never true
        for name in ("last_name", "phone", "postcode", "city", "region", "country"):
            df[name] = df[name].astype("string")
    extra = [c for c in df.columns if c not in schema.names]
    return df[schema.names + extra]


def load_stores(path: str | Path) -> pd.DataFrame:
    """Load a stores file (``store_id, name, lat, lon[, address]``), strictly validated."""
    return load_table(path, STORES)


def load_customers(path: str | Path) -> pd.DataFrame:
    """Load a customers file (see `geo.data.schema.CUSTOMERS`), strictly validated."""
    return load_table(path, CUSTOMERS)


def load_targets(path: str | Path) -> pd.DataFrame:
    """Load a campaign target list (see `geo.data.schema.TARGETS`), strictly validated."""
    return load_table(path, TARGETS)


def load_events(path: str | Path) -> pd.DataFrame:
    """Load provider events (``email, event, timestamp[, campaign_id]``), strictly validated."""
    return load_table(path, EVENTS)


def load_redemptions(path: str | Path) -> pd.DataFrame:
    """Load point-of-sale redemptions (see `geo.data.schema.REDEMPTIONS`), strictly validated."""
    return load_table(path, REDEMPTIONS)


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as UTF-8 CSV, dates as ISO text; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S")
    return path
