"""Parse raw table cells into typed columns and report every bad row with its reason.

The module runs past 400 lines because it is one concern, checking a table:
the checks within a row (`validate_rows`), the checks across rows
(`check_across_rows`) and the report they fill (`ValidationReport`) share the
error frame's layout and the spreadsheet row numbering, and most of the length
is their documentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.data.postcodes import country_codes
from geo.data.schema import Column, Schema
from geo.errors import DataError
from geo.keys import email_keys

if TYPE_CHECKING:
    from geo.data.merge import ImportChanges

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "x", "on"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "", "off"}
HEADER_ROWS = 1  # a spreadsheet shows the header as row 1


@dataclass
class ValidationReport:
    """What validating one table found.

    Attributes
    ----------
    file
        The file (or label) the rows came from.
    rows
        Number of data rows read (header excluded).
    valid
        The good rows, typed, with their original spreadsheet row numbers in
        the ``_row`` column.
    errors
        One line per problem: ``row`` (spreadsheet row, header is 1),
        ``column``, ``reason`` and the raw ``value``.
    mapping
        When the table came through a column mapping: ``{canonical: source column}``.
    message
        A note for the user about the whole file (e.g. the geocoder could not be reached).
    shared
        A notice, not an error: the valid records whose e-mail address is also
        another valid record's once case and surrounding blanks are ignored
        (the same person signed up twice, a household account). One row per
        record (see `shared_addresses`). Every such record is kept; the consent
        rule (`geo.data.consent`) then judges the address as a whole.
    changes
        For an import or its preview: what it changes in the stored table
        (`geo.data.merge.ImportChanges`); None for a plain check.
    layout
        The known export layout the file was read as (`geo.data.layouts`), or None.
    geocoded
        When rows were located: ``{"postcode", "address", "failed"}`` row counts.
    """

    file: str
    rows: int
    valid: pd.DataFrame
    errors: pd.DataFrame
    mapping: dict[str, str] | None = None
    message: str | None = None
    shared: pd.DataFrame | None = None
    changes: ImportChanges | None = None
    layout: str | None = None
    geocoded: dict[str, int] | None = None

    @property
    def ok(self) -> bool:
        """True when no row had a problem."""
        return bool(self.errors.empty)

    @property
    def shared_groups(self) -> int:
        """Number of addresses held by two or more records (0 when none)."""
        return 0 if self.shared is None or self.shared.empty else \
            int(self.shared["email_key"].nunique())

    def as_dict(self, max_errors: int | None = None) -> dict[str, Any]:
        """Return the report in the command line's JSON shape."""
        errs = self.errors if max_errors is None else self.errors.head(max_errors)
        extra = {k: v for k, v in (("mapping", self.mapping), ("message", self.message))
                 if v is not None}
        shared = ({} if self.shared is None else
                  {"shared_addresses": {"groups": self.shared_groups,
                                        "records": int(len(self.shared))}})
        changes = {} if self.changes is None else self.changes.as_dict()
        located = {} if self.geocoded is None else {"geocoded": dict(self.geocoded)}
        return {
            **extra,
            **changes,
            **located,
            "file": self.file,
            "rows": int(self.rows),
            "valid": int(len(self.valid)),
            **shared,
            "errors": [
                {"row": int(r.row) if pd.notna(r.row) else None, "column": r.column,
                 "reason": r.reason}
                for r in errs.itertuples(index=False)
            ],
        }

    def raise_first(self) -> None:
        """Raise a `DataError` for the first problem, mentioning how many more there are."""
        if self.ok:
            return
        first = self.errors.iloc[0]
        more = len(self.errors) - 1
        reason = str(first.reason) + (f" (and {more} more problem(s))" if more else "")
        row = None if pd.isna(first.row) else int(first.row)
        raise DataError(self.file, reason, row=row, column=first.column)


def _empty(raw: pd.Series) -> pd.Series:
    return raw.isna() | (raw.astype("string").str.strip() == "")


def _parse_float(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw):
        return pd.to_numeric(raw, errors="coerce").astype("float64")
    text = raw.astype("string").str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _parse_bool(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean")
    text = raw.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[text.isin(TRUE_WORDS).fillna(False)] = True
    out[text.isin(FALSE_WORDS).fillna(False) | raw.isna()] = False
    return out


def _parse_datetime(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        out = raw
    else:
        out = pd.to_datetime(raw.astype("string").str.strip(), errors="coerce",
                             format="mixed", utc=True)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype("datetime64[us]")


def parse_column(raw: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    """Parse one raw column.

    Parameters
    ----------
    raw
        Cells as read from the file (strings or already-typed values).
    col
        The column's declaration.

    Returns
    -------
    values, reasons
        Parsed values, and per row an error reason or ``<NA>`` when the cell is fine.
    """
    empty = _empty(raw)
    reasons = pd.Series(pd.NA, index=raw.index, dtype="string")
    kind = col.kind
    if kind in ("lat", "lon", "float", "int"):
        values = _parse_float(raw)
        bad = values.isna() & ~empty
        reasons[bad] = "not a number"
        if kind == "lat":
            reasons[values.abs() > 90] = "latitude out of range [-90, 90]"
        elif kind == "lon":
            reasons[values.abs() > 180] = "longitude out of range [-180, 180]"
        elif kind == "int":
            frac = values.notna() & (values != np.floor(values.fillna(0)))
            reasons[frac] = "not a whole number"
            values = values.round().astype("Int64")
        if kind in ("lat", "lon", "float"):
            reasons[np.isinf(values.fillna(0))] = "not a finite number"
    elif kind == "bool":
        values = _parse_bool(raw)
        reasons[values.isna() & ~empty] = "not a yes/no value (use true/false, yes/no or 1/0)"
    elif kind in ("date", "datetime"):
        values = _parse_datetime(raw)
        reasons[values.isna() & ~empty] = f"not a {kind} (use YYYY-MM-DD)"
        if kind == "date":
            values = values.dt.normalize()
    elif kind == "email":
        values = raw.astype("string").str.strip()
        ok = values.str.match(EMAIL_RE).fillna(False)
        reasons[~ok & ~empty] = "not a valid e-mail address"
    elif kind == "choice":
        values = raw.astype("string").str.strip().str.lower()
        allowed = values.isin(col.choices).fillna(False)
        reasons[~allowed & ~empty] = f"not one of {', '.join(col.choices)}"
    elif kind == "country":  # a code or a known name; unknown names stay as written
        values = country_codes(raw)
    else:  # id, text
        values = raw.astype("string").str.strip()
    if not col.required:  # an empty optional cell is missing (not given), whatever its kind
        values = values.mask(empty)
    if col.required and not col.allow_empty:
        reasons[empty] = "missing value"
    return values, reasons


def validate_rows(df: pd.DataFrame, schema: Schema, file: str, *,
                  row_numbers: np.ndarray | pd.Index | None = None,
                  keep: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse every cell of a raw table and list the problems found within single rows.

    Parameters
    ----------
    df
        Raw table with canonical column names (after any column mapping).
    schema
        The expected layout (see `geo.data.schema`).
    file
        Name used in messages.
    row_numbers
        Spreadsheet row number of each row of ``df`` (header is row 1). Defaults
        to ``2, 3, ...`` in the frame's order.
    keep
        Extra (non-schema) columns to carry through as stripped text, e.g.
        ``("address", "postcode")``.

    Returns
    -------
    typed, errors
        Every row parsed (bad ones included, so that checks across rows can see
        them) with its spreadsheet row in ``_row``; and one line per problem
        (``row``, ``column``, ``reason``, ``value``).

    Raises
    ------
    DataError
        When a required column is missing: then no row can be used.
    """
    missing = [c for c in schema.required if c not in df.columns]
    if missing:
        raise DataError(file, f"missing required column(s): {', '.join(missing)}; "
                              f"found: {', '.join(map(str, df.columns)) or 'none'}",
                        column=missing[0])
    rows = (np.arange(len(df)) + HEADER_ROWS + 1 if row_numbers is None
            else np.asarray(row_numbers, dtype="int64"))
    df = df.reset_index(drop=True)
    typed = {}
    problems = []
    for col in schema.columns:
        if col.name not in df.columns:
            continue
        values, reasons = parse_column(df[col.name], col)
        typed[col.name] = values
        bad = reasons.notna().to_numpy()
        if bad.any():
            problems.append(pd.DataFrame({
                "row": rows[bad], "column": col.name,
                "reason": reasons[bad].to_numpy(dtype=object),
                "value": df[col.name][bad].astype("string").to_numpy(dtype=object),
            }))
    for name in keep:
        if name in df.columns and name not in typed:
            typed[name] = df[name].astype("string").str.strip()
    out = pd.DataFrame(typed, index=df.index)
    out["_row"] = rows
    return out, _concat_errors(problems)


def _concat_errors(problems: list[pd.DataFrame]) -> pd.DataFrame:
    problems = [p for p in problems if len(p)]
    if not problems:
        return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
                             "reason": pd.Series(dtype=object), "value": pd.Series(dtype=object)})
    return pd.concat(problems, ignore_index=True)


def find_duplicates(typed: pd.DataFrame, column: str, *,
                    label: str | None = None) -> pd.DataFrame:
    """List the rows whose ``column`` repeats an earlier row's value.

    Parameters
    ----------
    typed
        Parsed rows with their spreadsheet row in ``_row``.
    column
        Column to check; blank cells are ignored.
    label
        What the duplicate is called in the reason (default ``column``).

    Returns
    -------
    DataFrame of errors (``row``, ``column``, ``reason``, ``value``); the first
    occurrence is kept as good and each later one names the row it repeats.
    """
    if column not in typed.columns or typed.empty:
        return _concat_errors([])
    values = typed[column].astype("string")
    keys = values.mask(values.fillna("") == "")
    dup = (keys.duplicated(keep="first") & keys.notna()).to_numpy()
    if not dup.any():
        return _concat_errors([])
    first_row = typed["_row"].groupby(keys.to_numpy(), dropna=True).transform("first")
    label = label or f"duplicate {column}"
    reason = (label + " (same as row " + first_row[dup].astype("int64").astype(str) + ")")
    return pd.DataFrame({"row": typed["_row"].to_numpy()[dup], "column": column,
                         "reason": reason.to_numpy(dtype=object),
                         "value": values[dup].to_numpy(dtype=object)})


def find_swapped(lat: pd.Series, lon: pd.Series, *, spread: float = 5.0,
                 min_scale_deg: float = 0.1, min_rows: int = 3) -> NDArray[np.bool_]:
    """Flag rows whose latitude and longitude look swapped.

    A row is flagged when it lies outside the area of the other rows and
    swapping its two values puts it inside. The area is the median position
    plus or minus ``spread`` robust standard deviations (1.4826 x the median
    absolute deviation, at least ``min_scale_deg``) in each axis, computed from
    the rows with in-range coordinates, so a few bad rows do not move it.

    Parameters
    ----------
    lat, lon
        Parsed coordinates in degrees (EPSG:4326); NaN where missing.
    spread
        Half-width of the area in robust standard deviations.
    min_scale_deg
        Smallest robust standard deviation in degrees (0.1 degree is about 11 km).
    min_rows
        Fewer rows with coordinates than this: nothing is flagged.

    Returns
    -------
    Boolean numpy array, True for a likely swap.
    """
    la: NDArray[np.float64] = pd.to_numeric(lat, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    lo: NDArray[np.float64] = pd.to_numeric(lon, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(la) & np.isfinite(lo)
    ref = finite & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
    if ref.sum() < min_rows:
        return np.zeros(len(la), dtype=bool)
    centre, half = [], []
    for v in (la[ref], lo[ref]):
        med = float(np.median(v))
        scale = max(1.4826 * float(np.median(np.abs(v - med))), min_scale_deg)
        centre.append(med)
        half.append(spread * scale)

    def inside(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.bool_]:
        return (np.abs(a - centre[0]) <= half[0]) & (np.abs(b - centre[1]) <= half[1])

    with np.errstate(invalid="ignore"):
        plausible = finite & (np.abs(lo) <= 90) & (np.abs(la) <= 180)
        return plausible & ~inside(la, lo) & inside(lo, la)


SWAPPED_REASON = "latitude and longitude look swapped (swapping them puts the row among the others)"


def check_across_rows(typed: pd.DataFrame, schema: Schema,
                      row_errors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Run the checks that compare rows with each other.

    Duplicate key (``schema.key``) and likely swapped latitude/longitude
    (tables with ``lat`` and ``lon``). Records that share an e-mail address
    are not an error (see `shared_addresses`).

    Parameters
    ----------
    typed
        Every parsed row with ``_row`` (see `validate_rows`).
    schema
        The table's layout.
    row_errors
        Errors found within rows; "latitude out of range" lines of rows found
        swapped are replaced by the swap reason.

    Returns
    -------
    All errors: ``row_errors`` (adjusted) plus the new ones.
    """
    problems = [row_errors if row_errors is not None else _concat_errors([])]
    if schema.key:
        problems.append(find_duplicates(typed, schema.key))
    if "lat" in typed.columns and "lon" in typed.columns:
        swapped = find_swapped(typed["lat"], typed["lon"])
        if swapped.any():
            rows = typed["_row"].to_numpy()[swapped]
            old = problems[0]
            out_of_range = old["row"].isin(rows) & (old["column"] == "lat") & \
                old["reason"].astype(str).str.startswith("latitude out of range")
            problems[0] = old[~out_of_range.to_numpy()]
            value = (typed["lat"][swapped].astype("string") + ", "
                     + typed["lon"][swapped].astype("string"))
            problems.append(pd.DataFrame({"row": rows, "column": "lat", "reason": SWAPPED_REASON,
                                          "value": value.to_numpy(dtype=object)}))
    return _concat_errors(problems)


def sort_errors(errors: pd.DataFrame) -> pd.DataFrame:
    """Order errors by spreadsheet row, then column."""
    if errors.empty:
        return errors.reset_index(drop=True)
    order = errors.assign(_c=errors["column"].fillna("").astype(str))
    return (order.sort_values(["row", "_c"], kind="stable").drop(columns="_c")
            .reset_index(drop=True))


SHARED_COLUMNS = ["email_key", "row", "customer_id", "email", "opted_in", "unsubscribed"]
"""Columns of `shared_addresses` (``opted_in``/``unsubscribed`` as parsed, NA when absent)."""


def shared_addresses(valid: pd.DataFrame) -> pd.DataFrame:
    """List the records whose e-mail address another record also has (case and blanks ignored).

    Parameters
    ----------
    valid
        Good rows with ``email`` and their spreadsheet row in ``_row``.

    Returns
    -------
    DataFrame
        One row per record of a shared address (`SHARED_COLUMNS`), grouped by
        ``email_key`` and in file order within a group; empty when every
        address is held by one record.
    """
    if "email" not in valid.columns or valid.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SHARED_COLUMNS})
    keys = email_keys(valid["email"])
    shared = keys.notna() & keys.duplicated(keep=False)
    rows = valid[shared.to_numpy(dtype=bool)]

    def col(name: str) -> pd.Series:
        return rows[name] if name in rows.columns else pd.Series(pd.NA, index=rows.index)

    out = pd.DataFrame({"email_key": keys[shared], "row": rows["_row"], "customer_id": col(
        "customer_id"), "email": rows["email"], "opted_in": col("opted_in"),
                        "unsubscribed": col("unsubscribed")})
    return out.sort_values(["email_key", "row"], kind="stable").reset_index(drop=True)


def finish_report(file: str, rows: int, typed: pd.DataFrame, errors: pd.DataFrame, *,
                  schema: Schema | None = None) -> ValidationReport:
    """Drop every row named in ``errors`` from ``typed`` and build the report.

    When ``schema`` has both a key and an ``email`` column (customers), the
    report also lists the records that share an address (`shared_addresses`).
    """
    errors = sort_errors(errors)
    keep = ~typed["_row"].isin(errors["row"].unique()).to_numpy()
    valid = typed[keep].reset_index(drop=True) if not keep.all() else typed.reset_index(drop=True)
    shared = (shared_addresses(valid) if schema is not None and schema.key
              and "email" in schema.names and schema.key != "email" else None)
    return ValidationReport(file=str(file), rows=int(rows), valid=valid, errors=errors,
                            shared=shared)


def validate_table(df: pd.DataFrame, schema: Schema, file: str, *,
                   row_numbers: np.ndarray | pd.Index | None = None,
                   keep: tuple[str, ...] = ()) -> ValidationReport:
    """Check a raw table against a schema; keep the good rows and list every bad one.

    Parameters
    ----------
    df
        Raw table with canonical column names (after any column mapping).
    schema
        The expected layout (see `geo.data.schema`).
    file
        Name used in messages.
    row_numbers
        Spreadsheet row of each row (header is row 1); default ``2, 3, ...``.
    keep
        Extra columns to carry through as text (see `validate_rows`).

    Returns
    -------
    ValidationReport

    Raises
    ------
    DataError
        When a required column is missing: then no row can be used.
    """
    typed, row_errors = validate_rows(df, schema, file, row_numbers=row_numbers, keep=keep)
    errors = check_across_rows(typed, schema, row_errors)
    return finish_report(file, len(df), typed, errors, schema=schema)
