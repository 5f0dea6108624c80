"""Parse raw table cells into typed columns and report every bad row with its reason."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import DataError
from geo.schema import Column, Schema

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
    """

    file: str
    rows: int
    valid: pd.DataFrame
    errors: pd.DataFrame

    @property
    def ok(self) -> bool:
        """True when no row had a problem."""
        return self.errors.empty

    def as_dict(self, max_errors: int | None = None) -> dict:
        """Return the report in the command line's JSON shape."""
        errs = self.errors if max_errors is None else self.errors.head(max_errors)
        return {
            "file": self.file,
            "rows": int(self.rows),
            "valid": int(len(self.valid)),
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
    else:  # id, text
        values = raw.astype("string").str.strip()
    if col.required and not col.allow_empty:
        reasons[empty] = "missing value"
    return values, reasons


def validate_table(df: pd.DataFrame, schema: Schema, file: str) -> ValidationReport:
    """Check a raw table against a schema; keep the good rows and list every bad one.

    Parameters
    ----------
    df
        Raw table with canonical column names (after any column mapping).
    schema
        The expected layout (see `geo.schema`).
    file
        Name used in messages.

    Returns
    -------
    ValidationReport

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
    df = df.reset_index(drop=True)
    rows = df.index.to_numpy() + HEADER_ROWS + 1
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
    out = pd.DataFrame(typed)
    if schema.key and schema.key in out.columns:
        dup = out[schema.key].duplicated(keep="first") & out[schema.key].notna()
        if dup.any():
            problems.append(pd.DataFrame({
                "row": rows[dup.to_numpy()], "column": schema.key,
                "reason": f"duplicate {schema.key}",
                "value": out.loc[dup, schema.key].to_numpy(dtype=object),
            }))
    errors = (pd.concat(problems, ignore_index=True).sort_values(["row", "column"], kind="stable")
              .reset_index(drop=True) if problems
              else pd.DataFrame(columns=["row", "column", "reason", "value"]))
    bad_rows = set(errors["row"].tolist())
    keep = ~np.isin(rows, list(bad_rows))
    out = out[keep].copy()
    out["_row"] = rows[keep]
    return ValidationReport(file=str(file), rows=len(df), valid=out.reset_index(drop=True),
                            errors=errors)
