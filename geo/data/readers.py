"""Read user files of any supported format (CSV, XLSX, GeoJSON, GeoPackage, GeoParquet, ZIP of CSVs).

Every reader returns (or yields, for CSV, in chunks) a DataFrame whose index is
the spreadsheet row of each record (the header is row 1) and whose columns are
the file's headers, cleaned (stripped, blanks named ``column N``, repeats
suffixed ``.1``, ``.2``). CSV and XLSX cells are text; GeoJSON, GeoPackage and
(Geo)Parquet keep their attribute types, and a geometry column becomes ``lat``
and ``lon`` in degrees (EPSG:4326, reprojected when the file says another CRS;
the representative point of a non-point shape). Anything that is not a usable
table raises `geo.errors.DataError` naming the file; nothing else escapes.
Validation and storage (`geo.data.ingest`) build on these readers.

The module runs past 400 lines because it is one concern, reading: one short
section per format behind one entry point (`iter_tables`), sharing the source
handling and the row numbering; the CSV reader is most of it, since it streams
in chunks and falls back to a tolerant parser. Recognising a file (format,
encoding, delimiter, headers) is apart, in `geo.data.sniff`.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pandas as pd

from geo.data.sniff import (
    clean_headers,
    detect_delimiter,
    detect_encoding,
    detect_format,
    sample_records,
)
from geo.errors import DataError

if TYPE_CHECKING:
    import geopandas as gpd
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

Source = str | Path | bytes | BinaryIO
Progress = Callable[[float], None]

CHUNK_ROWS = 200_000
SAMPLE_BYTES = 64 * 1024
_BLOCK = 1 << 20
_OVERFLOW = 8  # spare columns to catch rows with more fields than the header
_LINES = re.compile(r"\r\n|\r|\n")


# --- sources ----------------------------------------------------------------
def source_name(source: Source, name: str | None = None) -> str:
    """Return the label used in messages: ``name``, else the file name, else ``"upload"``."""
    if name:
        return str(name)
    if isinstance(source, (str, Path)):
        return Path(source).name
    file_name = getattr(source, "name", "")
    return str(file_name and Path(file_name).name or "upload")


def _open(source: Source, label: str) -> tuple[BinaryIO, bool]:
    """Return a seekable binary handle and whether the caller must close it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(label, f"file not found: {path}")
        try:
            return open(path, "rb"), True
        except OSError as exc:
            raise DataError(label, f"cannot open the file ({exc.strerror})") from None
    if hasattr(source, "read") and hasattr(source, "seek"):
        source.seek(0)
        return source, False
    raise DataError(label, f"cannot read from a {type(source).__name__}: give a path or bytes")


def _size(handle: BinaryIO) -> int:
    pos = handle.tell()
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(pos)
    return size


def _read_sample(handle: BinaryIO, encoding: str) -> str:
    handle.seek(0)
    data = handle.read(SAMPLE_BYTES)
    handle.seek(0)
    return data.decode(encoding, errors="ignore")


def _finish_chunk(chunk: pd.DataFrame, columns: list[str], first_row: int,
                  label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Index a chunk by spreadsheet row, split off overflow fields, drop blank rows."""
    chunk.index = pd.RangeIndex(first_row, first_row + len(chunk))
    extra_cols = [c for c in chunk.columns if c not in columns]
    problems = pd.DataFrame(columns=["row", "column", "reason", "value"])
    if extra_cols:
        filled = chunk[extra_cols].ne("").to_numpy()
        over = filled.any(axis=1)
        if over.any():
            n_fields = len(columns) + filled.shape[1] - np.argmax(filled[:, ::-1], axis=1)
            problems = pd.DataFrame({
                "row": chunk.index.to_numpy()[over], "column": None,
                "reason": [f"row has {n}{' or more' if n == len(chunk.columns) else ''} "
                           f"fields but the header has {len(columns)} "
                           "(a stray delimiter, or a decimal comma in an unquoted number?)"
                           for n in n_fields[over]],
                "value": chunk.loc[over, extra_cols[0]].to_numpy(dtype=object)})
        chunk = chunk.drop(columns=extra_cols)
    blank = chunk.eq("").all(axis=1).to_numpy()
    if blank.any():
        chunk = chunk[~blank]
    return chunk, problems


def _fast_chunks(handle: BinaryIO, encoding: str, delimiter: str, names: list[str], skip: int,
                 chunksize: int) -> Iterator[pd.DataFrame]:
    """Read the file from its start in chunks of text cells with pandas' C parser (skipping ``skip`` lines)."""
    handle.seek(0)
    chunks: Iterator[pd.DataFrame] = pd.read_csv(handle, sep=delimiter, header=None, names=names, skiprows=skip,
                       dtype=str, na_filter=False, keep_default_na=False,
                       skip_blank_lines=False, skipinitialspace=True, index_col=False,
                       encoding=encoding, encoding_errors="replace", chunksize=chunksize,
                       engine="c", quotechar='"', doublequote=True)
    return chunks


def _slow_chunks(handle: BinaryIO, encoding: str, delimiter: str, names: list[str], skip: int,
                 chunksize: int) -> Iterator[pd.DataFrame]:
    """Tolerant reader (Python's csv module) used when pandas' fast parser gives up."""
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")
    csv.field_size_limit(1 << 30)
    reader = csv.reader(text, delimiter=delimiter, skipinitialspace=True, strict=False)
    width = len(names)
    try:
        for _ in range(skip):
            next(reader, None)
        buf: list[list[str]] = []
        for rec in reader:
            if len(rec) > width:  # keep a trace of the surplus in the last spare column
                rec = rec[:width - 1] + [delimiter.join(rec[width - 1:])]
            elif len(rec) < width:
                rec = rec + [""] * (width - len(rec))
            buf.append(rec)
            if len(buf) >= chunksize:
                yield pd.DataFrame(buf, columns=names, dtype="str")
                buf = []
        if buf:
            yield pd.DataFrame(buf, columns=names, dtype="str")
    finally:
        try:
            text.detach()  # leave the caller's handle open
        except ValueError:
            pass


def _tolerant_chunks(handle: BinaryIO, encoding: str, delimiter: str, names: list[str], skip: int,
                     chunksize: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield ``(rows read, chunk)``: pandas' C parser, then the csv module from where it failed."""
    done = 0
    try:
        for chunk in _fast_chunks(handle, encoding, delimiter, names, skip, chunksize):
            done += len(chunk)
            yield len(chunk), chunk
        return
    except (ValueError, csv.Error, UnicodeError):  # ParserError is a ValueError
        pass
    for chunk in _slow_chunks(handle, encoding, delimiter, names, skip + done, chunksize):
        yield len(chunk), chunk


def iter_csv(source: Source, *, name: str | None = None, chunksize: int = CHUNK_ROWS,
             encoding: str | None = None, delimiter: str | None = None,
             progress: Progress | None = None,
             problems: list[pd.DataFrame] | None = None) -> Iterator[pd.DataFrame]:
    """Read a delimited text file in chunks of text cells.

    Parameters
    ----------
    source
        Path, bytes or binary file object.
    name
        Label for messages (defaults to the file name).
    chunksize
        Rows per chunk; memory grows with it, not with the file.
    encoding, delimiter
        Forced values; detected when None (see `detect_encoding`, `detect_delimiter`).
    progress
        Called with the fraction of the file read so far (0 to 1) after each chunk.
    problems
        When given, rows with more fields than the header are appended to it as
        error frames (``row``, ``column``, ``reason``, ``value``).

    Yields
    ------
    DataFrame of strings indexed by spreadsheet row (header is row 1); blank
    rows are skipped (their numbers are kept for the rows after them). A file
    with a header and no rows yields one empty chunk with the columns.
    """
    label = source_name(source, name)
    handle, owned = _open(source, label)
    try:
        size = _size(handle)
        encoding = encoding or detect_encoding(handle)
        sample = _read_sample(handle, encoding)
        if not sample.strip():
            raise DataError(label, "the file is empty")
        delimiter = delimiter or detect_delimiter(sample)
        lines = _LINES.split(sample)
        lead = next(i for i, line in enumerate(lines) if line.strip())
        header = sample_records("\n".join(lines[lead:]), delimiter, limit=1)
        if not header:
            raise DataError(label, "no header row found", row=lead + 1)
        columns = clean_headers(header[0])
        names = columns + [f"_overflow{i}" for i in range(_OVERFLOW)]
        first, done, yielded = lead + 2, 0, False
        chunks = _tolerant_chunks(handle, encoding, delimiter, names, lead + 1, chunksize)
        for n, chunk in chunks:
            chunk, extra = _finish_chunk(chunk, columns, first + done, label)
            done += n
            if problems is not None and len(extra):
                problems.append(extra)
            if progress is not None and size:
                progress(min(handle.tell() / size, 1.0))
            if len(chunk):
                yielded = True
                yield chunk
        if not yielded:  # header only: one empty chunk carries the columns
            yield pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    except DataError:
        raise
    except (ValueError, csv.Error, UnicodeError, MemoryError) as exc:
        raise DataError(label, f"not a readable delimited text table ({exc})") from None
    finally:
        if owned:
            handle.close()


# --- XLSX -------------------------------------------------------------------
def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def read_xlsx(source: Source, *, name: str | None = None) -> pd.DataFrame:
    """Read the first non-empty sheet of an Excel workbook (``.xlsx``) as text cells.

    The header is the sheet's first non-empty row; row numbers are the sheet's.
    Formulas give their last computed value.
    """
    import openpyxl

    label = source_name(source, name)
    handle, owned = _open(source, label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                for ws in wb.worksheets:
                    df = _sheet_frame(ws, label)
                    if df is not None:
                        return df
            finally:
                wb.close()
    except DataError:
        raise
    except Exception as exc:  # openpyxl/zipfile raise many types on a damaged file
        raise DataError(label, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") \
            from None
    finally:
        if owned:
            handle.close()
    raise DataError(label, "the workbook has no sheet with data")


def _sheet_frame(ws: ReadOnlyWorksheet, label: str) -> pd.DataFrame | None:
    """One worksheet's non-empty rows as text cells indexed by sheet row; None when the sheet is empty."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = [_cell_text(v) for v in values]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        rows.append(cells)
        numbers.append(number)
    if header is None:
        return None
    width = max([len(header)] + [len(r) for r in rows])
    while width > len(header) and not any(len(r) >= width and r[width - 1] for r in rows):
        width -= 1
    rows = [(r + [""] * width)[:width] for r in rows]
    header = (header + [""] * width)[:width]
    return pd.DataFrame(rows, columns=clean_headers(header), index=pd.Index(numbers, dtype="int64"),
                        dtype="str")


# --- geo formats --------------------------------------------------------------
def _to_latlon(gdf: gpd.GeoDataFrame, label: str) -> pd.DataFrame:
    """Replace a GeoDataFrame's geometry by ``lat``/``lon`` columns in EPSG:4326."""
    geom = gdf.geometry
    if gdf.crs is None:
        bounds = geom.total_bounds
        if np.isfinite(bounds).all() and (np.abs(bounds[[0, 2]]) > 180).any() | \
                (np.abs(bounds[[1, 3]]) > 90).any():
            raise DataError(label, "the geometry has no CRS and is not in degrees: "
                                   "save the file with its coordinate reference system")
    elif not gdf.crs.equals("EPSG:4326"):
        try:
            geom = geom.to_crs("EPSG:4326")
        except Exception as exc:
            raise DataError(label, f"cannot reproject from {gdf.crs} to EPSG:4326 ({exc})") \
                from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = geom.representative_point()
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    df = df.drop(columns=[c for c in df.columns if str(c).lower() in ("lat", "lon")])
    df["lat"] = points.y.to_numpy()
    df["lon"] = points.x.to_numpy()
    return df


def _as_table(df: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame(df)
    df.columns = clean_headers(list(df.columns))
    df.index = pd.RangeIndex(2, 2 + len(df))
    return df


def read_geo(source: Source, *, name: str | None = None) -> pd.DataFrame:
    """Read a GeoJSON or GeoPackage file (first layer) with pyogrio; geometry -> lat/lon."""
    import geopandas as gpd

    label = source_name(source, name)
    handle, owned = _open(source, label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(handle, engine="pyogrio")
    except Exception as exc:  # pyogrio/GDAL errors
        raise DataError(label, f"not a readable GeoJSON/GeoPackage file ({exc})") from None
    finally:
        if owned:
            handle.close()
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        return _as_table(gdf)
    return _as_table(_to_latlon(gdf, label))


def read_parquet(source: Source, *, name: str | None = None) -> pd.DataFrame:
    """Read a Parquet or GeoParquet file; a GeoParquet geometry becomes lat/lon (EPSG:4326)."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    label = source_name(source, name)
    handle, owned = _open(source, label)
    try:
        meta = pq.read_schema(handle).metadata or {}
        handle.seek(0)
        if b"geo" in meta:
            gdf = gpd.read_parquet(handle)
            return _as_table(_to_latlon(gdf, label))
        return _as_table(pd.read_parquet(handle))
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises many types on a damaged file
        raise DataError(label, f"not a readable Parquet file ({type(exc).__name__}: {exc})") \
            from None
    finally:
        if owned:
            handle.close()


# --- ZIP of CSV files ---------------------------------------------------------------
ARCHIVE_FILE, ARCHIVE_ROW = "File", "Row in file"


def read_zip(source: Source, *, name: str | None = None) -> pd.DataFrame:
    """Read every CSV of a ZIP archive (e.g. a Mailchimp audience export) into one table.

    Members are read in archive order (folders and ``__MACOSX`` left out) and
    stacked; a column one member lacks is blank for its rows. Two columns are
    added: ``File`` (the member's name) and ``Row in file`` (its spreadsheet
    row there). The index runs on from 2 over the stacked rows.

    Raises
    ------
    DataError
        Not a readable archive, no CSV inside, or a member that is not a table.
    """
    import zipfile

    label = source_name(source, name)
    handle, owned = _open(source, label)
    parts: list[pd.DataFrame] = []
    try:
        with zipfile.ZipFile(handle) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()
                       and not m.filename.startswith("__MACOSX")
                       and m.filename.lower().endswith((".csv", ".txt"))]
            if not members:
                raise DataError(label, "the ZIP archive holds no CSV file")
            for member in members:
                inner = f"{label}/{member.filename}"
                frames = list(iter_csv(archive.read(member), name=inner))
                table = frames[0] if len(frames) == 1 else pd.concat(frames)
                table.insert(0, ARCHIVE_ROW, table.index.astype(str))
                table.insert(0, ARCHIVE_FILE, member.filename)
                parts.append(table)
    except DataError:
        raise
    except Exception as exc:  # zipfile raises several types on a damaged archive
        raise DataError(label, f"not a readable ZIP archive ({type(exc).__name__}: {exc})") \
            from None
    finally:
        if owned:
            handle.close()
    out = pd.concat(parts, ignore_index=True).fillna("")
    out.index = pd.RangeIndex(2, 2 + len(out))
    return out


# --- one entry point ------------------------------------------------------------
def sniff_format(source: Source, *, name: str | None = None) -> str:
    """Return the format of ``source`` (one of `FORMATS`), from its content and name."""
    label = source_name(source, name)
    handle, owned = _open(source, label)
    try:
        head = handle.read(SAMPLE_BYTES)
        handle.seek(0)
    finally:
        if owned:
            handle.close()
    if not head:
        raise DataError(label, "the file is empty")
    return detect_format(head, label)


def iter_tables(source: Source, *, name: str | None = None, chunksize: int = CHUNK_ROWS,
                progress: Progress | None = None,
                problems: list[pd.DataFrame] | None = None) -> Generator[pd.DataFrame, None, None]:
    """Yield a file's rows in chunks: CSV streamed, the other formats in one chunk.

    See `iter_csv` for the parameters. Each chunk is indexed by spreadsheet row.
    """
    fmt = sniff_format(source, name=name)
    label = source_name(source, name)
    if fmt == "csv":
        yield from iter_csv(source, name=label, chunksize=chunksize, progress=progress,
                            problems=problems)
        return
    reader = {"xlsx": read_xlsx, "geojson": read_geo, "gpkg": read_geo,
              "parquet": read_parquet, "zip": read_zip}[fmt]
    df = reader(source, name=label)
    if progress is not None:
        progress(1.0)
    yield df


def peek(source: Source, *, name: str | None = None, rows: int = 5) -> pd.DataFrame:
    """Return the first ``rows`` records of a file (all its columns), e.g. to show its headers.

    A CSV is read only as far as needed (after its encoding check); other formats
    are read whole. The index is the spreadsheet row, as in `iter_tables`.

    Raises
    ------
    DataError
        The file is missing, empty or not a readable table.
    """
    label = source_name(source, name)
    chunks = iter_tables(source, name=label, chunksize=max(int(rows), 1))
    try:
        first = next(chunks, pd.DataFrame())
    finally:
        chunks.close()
    return first.head(max(int(rows), 0))


def read_any(source: Source, *, name: str | None = None) -> pd.DataFrame:
    """Read a whole table file of any supported format.

    Parameters
    ----------
    source
        Path, bytes or binary file object: CSV/TSV/TXT (encoding and delimiter
        detected), XLSX, GeoJSON, GeoPackage, Parquet or GeoParquet.
    name
        Label for messages and a hint for the format (its extension).

    Returns
    -------
    DataFrame indexed by spreadsheet row (header is row 1). Text cells for CSV
    and XLSX; typed attributes plus ``lat``/``lon`` (EPSG:4326) for geo formats.

    Raises
    ------
    DataError
        The file is missing, empty or not a readable table.
    """
    label = source_name(source, name)
    chunks = list(iter_tables(source, name=label))
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks)
