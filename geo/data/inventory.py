"""Describe what each workspace holds on disk: tables and their rows, campaigns, files and bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from geo.workspace import Workspace, default_root, list_workspaces, open_workspace

COLUMNS = ("workspace", "customers", "stores", "campaigns", "files", "size_mb", "updated")


def table_rows(path: Path) -> int | None:
    """Rows of a Parquet file, read from its footer (no data is loaded); None if it is missing."""
    if not path.exists():
        return None
    return int(pq.read_metadata(path).num_rows)


def owned_files(workspace: Workspace) -> list[Path]:
    """Every file under the workspace's folder (tables, settings, campaigns, caches), sorted."""
    if not workspace.path.exists():
        return []
    return sorted(p for p in workspace.path.rglob("*") if p.is_file())


def describe_workspace(workspace: Workspace) -> dict[str, Any]:
    """One workspace's contents.

    Returns
    -------
    dict
        ``workspace`` (name), ``customers`` and ``stores`` (rows; 0 when the
        table is missing), ``campaigns`` (count), ``files`` (count), ``size_mb``
        (megabytes on disk, 10^6 bytes) and ``updated`` (UTC, ISO 8601).
    """
    files = owned_files(workspace)
    return {
        "workspace": workspace.name,
        "customers": table_rows(workspace.table_path("customers")) or 0,
        "stores": table_rows(workspace.table_path("stores")) or 0,
        "campaigns": len(workspace.list_campaigns()),
        "files": len(files),
        "size_mb": round(sum(p.stat().st_size for p in files) / 1e6, 2),
        "updated": workspace.meta().get("updated"),
    }


def workspace_inventory(root: Path | None = None) -> pd.DataFrame:
    """One row per workspace under ``root`` (default `geo.workspace.default_root`), by name.

    Columns are `COLUMNS` (see `describe_workspace`); row counts are integers
    (0 when the workspace has no such table).
    """
    root = Path(root or default_root())
    rows = [describe_workspace(open_workspace(name, root)) for name in list_workspaces(root)]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.astype({"customers": "int64", "stores": "int64", "campaigns": "int64",
                      "files": "int64", "size_mb": "float64"})
