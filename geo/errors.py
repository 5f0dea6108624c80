"""Define the errors that the domain package raises."""

from __future__ import annotations


class GeoError(Exception):
    """Base class for every error this package raises on purpose."""


class DataError(GeoError, ValueError):
    """A data file is unusable: names the file, the row, the column and the reason.

    ``row`` is the row as a spreadsheet shows it (the header is row 1), or None
    when the problem concerns the whole file (for example a missing column).
    """

    def __init__(self, file: str, reason: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        self.file = str(file)
        self.row = row
        self.column = column
        self.reason = reason
        where = [self.file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {reason}")


class NetworkError(GeoError, ValueError):
    """A road network cannot be loaded or used (corrupt, empty, disconnected...)."""


class WorkspaceError(GeoError, ValueError):
    """A workspace name is invalid, or a workspace is missing or damaged."""


class NetworkWarning(UserWarning):
    """A network was loaded but something had to be repaired (clipped ways, imputed speeds)."""
