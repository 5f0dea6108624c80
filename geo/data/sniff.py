"""Recognise what a user's file is before reading it: format, text encoding, delimiter, headers.

Text is told from binary data (`looks_binary`), so an image or an archive renamed
``.csv`` is refused as "not a text file" instead of giving a garbage table.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from geo.errors import DataError

FORMATS = ("csv", "xlsx", "geojson", "gpkg", "parquet", "zip")
"""Table formats the readers recognise."""
DELIMITERS = (",", ";", "\t", "|")
"""CSV delimiters tried, in this order of preference."""
_BLOCK = 1 << 20


def detect_format(head: bytes, name: str) -> str:
    """Guess a file's format from its first bytes, then its extension.

    Returns one of `FORMATS`. Old binary Excel (``.xls``) raises `DataError`.
    """
    suffix = Path(name).suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        return "zip" if is_csv_archive(head, suffix) else "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError(name, "old binary Excel (.xls) files are not supported: "
                              "save the sheet as .xlsx or CSV")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix in (".geojson", ".json") or (stripped.startswith(b"{") and b'"type"' in head):
        return "geojson"
    check_text(head, name)
    return "csv"


def is_csv_archive(head: bytes, suffix: str) -> bool:
    """True for a ZIP of CSV files (e.g. a Mailchimp audience export), False for a workbook.

    A ``.zip`` name decides; otherwise the first member's name (in the local
    header at byte 30) must end in ``.csv`` or ``.txt``.
    """
    if suffix == ".zip":
        return True
    if suffix == ".xlsx" or len(head) < 30:
        return False
    n = int.from_bytes(head[26:28], "little")
    first = head[30:30 + n].decode("utf-8", errors="ignore").lower()
    return first.endswith((".csv", ".txt"))


NOT_TEXT = ("not a text file: it holds binary data (an image, a PDF or an archive renamed "
            "{suffix}?); export the table as CSV, XLSX, GeoJSON or Parquet")


def looks_binary(head: bytes) -> bool:
    """True when the first bytes of a file are not text in any encoding this package reads.

    Bytes that are not UTF-8 and of which more than 5 % are control characters
    (NUL included; tab, line feed, carriage return and form feed are text)
    are binary data. UTF-16 text is recognised by its byte-order mark. A stray
    NUL in a cell does not make a file binary (the row is reported instead),
    nor does valid UTF-8 text, whatever characters it holds.
    """
    if not head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if controls <= 0.05 * len(head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3  # not only a character cut at the end of the head
    return False


def check_text(head: bytes, name: str) -> None:
    """Raise `DataError` ("not a text file") when ``head`` looks binary (see `looks_binary`)."""
    if looks_binary(head):
        suffix = Path(name).suffix or "as text"
        raise DataError(name, NOT_TEXT.format(suffix=suffix))


def decode_text(data: bytes, name: str) -> str:
    """Decode a small text file (BOM, else UTF-8, cp1252, Latin-1); refuse binary data.

    Raises
    ------
    DataError
        "not a text file" when the bytes look binary.
    """
    check_text(data[:_BLOCK], name)
    handle = io.BytesIO(data)
    return data.decode(detect_encoding(handle))


# --- text detection ---------------------------------------------------------
def _decodes(handle: BinaryIO, encoding: str) -> bool:
    handle.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        while block := handle.read(_BLOCK):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False
    finally:
        handle.seek(0)


def detect_encoding(handle: BinaryIO) -> str:
    """Return the text encoding of a file: a BOM's, else UTF-8, cp1252 or Latin-1.

    The whole file is checked (in 1 MiB blocks, without holding it), so a
    single Latin-1 byte on row 900 000 is not missed. Latin-1 decodes any bytes
    and is the last resort.
    """
    handle.seek(0)
    head = handle.read(4)
    handle.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig" if _decodes(handle, "utf-8-sig") else "cp1252"
    for encoding in ("utf-8", "cp1252"):
        if _decodes(handle, encoding):
            return encoding
    return "latin-1"


def sample_records(text: str, delimiter: str, limit: int = 50) -> list[list[str]]:
    """Split ``text`` into at most ``limit`` records with ``delimiter`` (quotes respected; stops at a broken one)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out: list[list[str]] = []
    try:
        for rec in reader:
            out.append(rec)
            if len(out) >= limit:
                break
    except csv.Error:
        pass
    return out


def detect_delimiter(sample: str) -> str:
    """Pick the delimiter (comma, semicolon, tab or pipe) that splits a sample most consistently.

    For each candidate the sample's first records are split (respecting
    quotes); the winner has the most records with as many fields as the
    header, then the most fields. A semicolon file with decimal commas
    (``48,85``) therefore reads as semicolon-separated.
    """
    lines = sample.splitlines()
    complete = "\n".join(lines[:-1]) if len(lines) > 2 else sample  # last line may be cut
    best, best_score = ",", (-1.0, 0)
    for delim in DELIMITERS:
        recs = [r for r in sample_records(complete, delim) if any(c.strip() for c in r)]
        if not recs or len(recs[0]) < 2:
            continue
        width = len(recs[0])
        share = sum(len(r) == width for r in recs) / len(recs)
        score = (share, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def clean_headers(raw: Sequence[object]) -> list[str]:
    """Strip headers, name blank ones ``column N`` (1-based) and suffix repeats ``.1``, ``.2``."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, value in enumerate(raw):
        name = "" if value is None else str(value).replace("\ufeff", "").strip()
        name = name or f"column {i + 1}"
        base, n = name, seen.get(name, 0)
        while name in seen:
            n += 1
            name = f"{base}.{n}"
        seen[base] = n
        seen[name] = 0
        names.append(name)
    return names


# --- CSV --------------------------------------------------------------------
