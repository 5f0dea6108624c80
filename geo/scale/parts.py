"""Customer tables split into Parquet parts: list them, check them before any work, read one at a time.

A source is a single ``.parquet`` file or a folder holding ``*.parquet`` files
(searched recursively, sorted by path, so Hive-style partition folders work).
GeoParquet parts may carry the coordinates as a point ``geometry`` column
(WKB, EPSG:4326) instead of ``lat`` and ``lon``. Every error names the part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely

from geo.errors import DataError

PART_SUFFIXES = (".parquet", ".geoparquet", ".pq")
POINT_COLUMNS = ("customer_id", "lat", "lon")


def list_parts(source: str | Path) -> list[Path]:
    """The Parquet parts of ``source`` (a file or a folder), in path order.

    Raises
    ------
    DataError
        When ``source`` does not exist, or is a folder without any Parquet part.
    """
    source = Path(source)
    if not source.exists():
        raise DataError(source.name, f"not found: {source}")
    if source.is_file():
        return [source]
    parts = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in PART_SUFFIXES)
    if not parts:
        raise DataError(source.name, f"the folder holds no Parquet part ({', '.join(PART_SUFFIXES)})")
    return parts


def part_label(part: Path, source: str | Path) -> str:
    """The part's name in messages: its path relative to the source folder."""
    source = Path(source)
    return part.name if source.is_file() else str(part.relative_to(source))


def check_parts(parts: list[Path], source: str | Path, columns: tuple[str, ...] = POINT_COLUMNS) -> list[int]:
    """Read every part's footer (no data) and return its row count; refuse the first bad part by name.

    A part is bad when it is not readable Parquet or lacks one of ``columns``
    (``lat`` and ``lon`` may be replaced by a ``geometry`` column).
    """
    rows = []
    for part in parts:
        label = part_label(part, source)
        try:
            meta = pq.read_metadata(part)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DataError(label, f"not a readable Parquet part ({exc}); fix or remove it and run again") from None
        names = set(meta.schema.names)
        if "geometry" in names:
            names |= {"lat", "lon"}
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(label, f"the part lacks column(s) {', '.join(missing)}; every part needs "
                                   f"{', '.join(columns)}")
        rows.append(int(meta.num_rows))
    return rows


def read_points(part: Path, label: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read ``customer_id, lat, lon`` (and ``extra`` columns) of one part, checked row by row.

    Raises
    ------
    DataError
        Naming the part, the row (the header being row 1, as in a CSV) and the
        column, for a missing id or a missing or out-of-range coordinate.
    """
    names = set(pq.read_schema(part).names)
    geo = "lat" not in names and "geometry" in names
    cols = ["customer_id", *(["geometry"] if geo else ["lat", "lon"]), *extra]
    try:
        df = pq.read_table(part, columns=cols).to_pandas()
    except Exception as exc:
        raise DataError(label, f"not a readable Parquet part ({exc})") from None
    if geo:
        points = shapely.from_wkb(df.pop("geometry").to_numpy())
        df["lon"], df["lat"] = shapely.get_x(points), shapely.get_y(points)
    _check_points(df, label)
    return df


def _check_points(df: pd.DataFrame, label: str) -> None:
    ids = df["customer_id"]
    if ids.isna().any():
        raise DataError(label, "customer_id is empty", row=int(np.flatnonzero(ids.isna().to_numpy())[0]) + 2,
                        column="customer_id")
    for col, top in (("lat", 90.0), ("lon", 180.0)):
        try:
            values = pd.to_numeric(df[col], errors="raise").to_numpy(float, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(label, f"{col} holds values that are not numbers", column=col) from None
        bad = ~(np.abs(values) <= top)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(label, f"{col} {values[i]} is missing or outside -{top:g}..{top:g} degrees "
                                   f"({int(bad.sum()):,} such rows in this part)", row=i + 2, column=col)
        df[col] = values
