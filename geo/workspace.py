"""Keep each user's data, settings and campaigns on disk in named workspaces.

A workspace is one folder under the data root (``data/workspaces/NAME`` by
default, or ``$GEO_DATA_DIR/workspaces/NAME``). Tables are Parquet files
(columnar, typed, fast for a million rows, readable by any tool), settings and
campaign metadata are JSON, and append-heavy journals (exports) use SQLite.
Every write goes to a temporary file that is then renamed over the old one, so
a crash never leaves a half-written table. Deleting a workspace removes its
folder and so every file it owns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from geo.access import Actor, actor_or_local
from geo.errors import WorkspaceError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
TABLES = ("customers", "stores")
DEMO = "demo"


def default_root() -> Path:
    """Return the data root: ``$GEO_DATA_DIR`` if set, else the project's ``data/`` folder."""
    env = os.environ.get("GEO_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_name(name: str) -> str:
    """Return ``name`` stripped if it is a valid workspace or campaign name, else raise."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise WorkspaceError(
            f"invalid name {name!r}: use 1 to 64 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit")
    return name


@dataclass(frozen=True)
class Workspace:
    """A named folder holding one user's tables, settings and campaigns.

    Parameters
    ----------
    name
        The workspace's name (also its folder name).
    root
        The data root; the workspace lives in ``root / "workspaces" / name``.
    """

    name: str
    root: Path

    @property
    def path(self) -> Path:
        """Folder of this workspace."""
        return Path(self.root) / "workspaces" / self.name

    def exists(self) -> bool:
        """True when the workspace folder exists."""
        return (self.path / "workspace.json").exists()

    # tables -----------------------------------------------------------------
    def table_path(self, kind: str) -> Path:
        """Path of the Parquet file that holds table ``kind``."""
        return self.path / f"{kind}.parquet"

    def save_table(self, kind: str, df: pd.DataFrame, *, keep_previous: bool = False) -> Path:
        """Store a table, replacing any previous one of that kind.

        Parameters
        ----------
        kind
            The table (``customers``, ``stores``...).
        df
            Its rows.
        keep_previous
            Keep the table it replaces (or the fact that there was none) so
            that `restore_previous` can undo this save. One level is kept.
        """
        path = self.table_path(kind)
        if not keep_previous:
            _atomic_write(path, lambda p: df.to_parquet(p, index=False))
            self._touch()
            return path
        previous, none = self._previous_paths(kind)
        def write(tmp: Path) -> None:
            df.to_parquet(tmp, index=False)
            previous.unlink(missing_ok=True)
            none.unlink(missing_ok=True)
            if path.exists():
                os.replace(path, previous)
            else:
                none.touch()
        _atomic_write(path, write)
        self._touch()
        return path

    def _previous_paths(self, kind: str) -> tuple[Path, Path]:
        """The kept previous version of table ``kind``, and the marker of "there was none"."""
        return self.path / f"{kind}.previous.parquet", self.path / f"{kind}.previous.none"

    def has_previous(self, kind: str) -> bool:
        """True when a save of ``kind`` with ``keep_previous`` can be undone."""
        return any(p.exists() for p in self._previous_paths(kind))

    def restore_previous(self, kind: str) -> bool:
        """Put back the table that the last ``keep_previous`` save of ``kind`` replaced.

        Returns False when there is nothing to restore. When there was no table
        before, the table is removed.
        """
        previous, none = self._previous_paths(kind)
        if previous.exists():
            os.replace(previous, self.table_path(kind))
        elif none.exists():
            self.table_path(kind).unlink(missing_ok=True)
            none.unlink()
        else:
            return False
        self._touch()
        return True

    def delete_table(self, kind: str) -> None:
        """Remove table ``kind`` (nothing happens when there is none)."""
        self.table_path(kind).unlink(missing_ok=True)
        self._touch()

    def load_table(self, kind: str) -> pd.DataFrame | None:
        """Return the stored table ``kind``, or None when the workspace has none."""
        path = self.table_path(kind)
        if not path.exists():
            return None
        return pd.read_parquet(path)

    def has_table(self, kind: str) -> bool:
        """True when table ``kind`` is stored."""
        return self.table_path(kind).exists()

    def table_version(self, kind: str) -> str:
        """A string that changes whenever table ``kind`` is rewritten (for cache keys)."""
        path = self.table_path(kind)
        if not path.exists():
            return "none"
        st = path.stat()
        return f"{st.st_mtime_ns}-{st.st_size}"

    # settings ---------------------------------------------------------------
    def _meta_path(self) -> Path:
        return self.path / "workspace.json"

    def meta(self) -> dict[str, Any]:
        """Return the workspace's metadata (name, created, updated, settings)."""
        try:
            meta: dict[str, Any] = json.loads(self._meta_path().read_text(encoding="utf-8"))
            return meta
        except FileNotFoundError:
            raise WorkspaceError(f"workspace {self.name!r} does not exist under {self.root}") from None
        except json.JSONDecodeError as exc:
            raise WorkspaceError(f"workspace {self.name!r} has a damaged workspace.json ({exc})") from None

    def _write_meta(self, meta: dict[str, Any]) -> None:
        text = json.dumps(meta, indent=2, default=str, ensure_ascii=False)
        _atomic_write(self._meta_path(), lambda p: p.write_text(text, encoding="utf-8"))

    def _touch(self) -> None:
        meta = self.meta()
        meta["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._write_meta(meta)

    def settings(self) -> dict[str, Any]:
        """Return the user's saved settings (widget values, chosen network...)."""
        return dict(self.meta().get("settings", {}))

    def update_settings(self, **values: Any) -> dict[str, Any]:
        """Merge ``values`` into the saved settings and return them all."""
        meta = self.meta()
        settings = dict(meta.get("settings", {}))
        settings.update(values)
        meta["settings"] = settings
        self._write_meta(meta)
        return settings

    # campaigns --------------------------------------------------------------
    def campaigns_dir(self) -> Path:
        """Folder that holds one sub-folder per campaign."""
        return self.path / "campaigns"

    def campaign_path(self, campaign_id: str) -> Path:
        """Folder of one campaign."""
        return self.campaigns_dir() / check_name(campaign_id)

    def list_campaigns(self) -> list[str]:
        """Names of the saved campaigns, oldest first."""
        d = self.campaigns_dir()
        if not d.exists():
            return []
        dirs = [p for p in d.iterdir() if (p / "campaign.json").exists()]
        return [p.name for p in sorted(dirs, key=lambda p: (p / "campaign.json").stat().st_mtime)]

    def save_campaign_file(self, campaign_id: str, kind: str, df: pd.DataFrame) -> Path:
        """Store one table of a campaign (``targets``, ``events``, ``redemptions``)."""
        path = self.campaign_path(campaign_id) / f"{kind}.parquet"
        _atomic_write(path, lambda p: df.to_parquet(p, index=False))
        return path

    def load_campaign_file(self, campaign_id: str, kind: str) -> pd.DataFrame | None:
        """Return one table of a campaign, or None when it has none."""
        path = self.campaign_path(campaign_id) / f"{kind}.parquet"
        return pd.read_parquet(path) if path.exists() else None

    def save_campaign_meta(self, campaign_id: str, meta: dict[str, Any]) -> Path:
        """Store a campaign's parameters (window, mode, minutes, holdout share...)."""
        path = self.campaign_path(campaign_id) / "campaign.json"
        text = json.dumps(meta, indent=2, default=str, ensure_ascii=False)
        _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
        return path

    def campaign_meta(self, campaign_id: str) -> dict[str, Any]:
        """Return a campaign's parameters."""
        path = self.campaign_path(campaign_id) / "campaign.json"
        if not path.exists():
            raise WorkspaceError(f"campaign {campaign_id!r} not found in workspace {self.name!r}")
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return meta

    def delete_campaign(self, campaign_id: str) -> None:
        """Remove a campaign and every file it owns."""
        shutil.rmtree(self.campaign_path(campaign_id), ignore_errors=True)


def _fold(name: str) -> str:
    """A workspace name compared without case or repeated spaces."""
    return " ".join(name.split()).casefold()


def list_workspaces(root: Path | None = None) -> list[str]:
    """Names of the workspaces under ``root``, sorted."""
    base = Path(root or default_root()) / "workspaces"
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "workspace.json").exists())


def create_workspace(name: str, root: Path | None = None, *, exist_ok: bool = False) -> Workspace:
    """Create a workspace called ``name`` and return it.

    Names differing only in case or spacing (``"Andorra test"``, ``"andorra  TEST"``) are
    the same workspace: a second one is refused (or, with ``exist_ok``, the
    existing one is returned).
    """
    ws = Workspace(check_name(name), Path(root or default_root()))
    same = [n for n in list_workspaces(ws.root) if _fold(n) == _fold(ws.name)]
    if same:
        if exist_ok:
            return Workspace(same[0], ws.root)
        raise WorkspaceError(f"a workspace called {same[0]!r} already exists; choose another "
                             "name or switch to it")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    ws._write_meta({"name": ws.name, "created": now, "updated": now, "settings": {}})
    return ws


def open_workspace(name: str, root: Path | None = None) -> Workspace:
    """Return the existing workspace ``name``; raise `WorkspaceError` if there is none."""
    ws = Workspace(check_name(name), Path(root or default_root()))
    if not ws.exists():
        known = ", ".join(list_workspaces(root)) or "none"
        raise WorkspaceError(f"workspace {ws.name!r} does not exist (known: {known})")
    return ws


def delete_workspace(name: str, root: Path | None = None, *, actor: Actor | None = None) -> None:
    """Delete the workspace ``name`` and every file it owns.

    ``actor`` (a `geo.access.Actor`; None is the local OS user) must be allowed
    ``delete_workspace`` (admin); the deletion is recorded in the audit trail,
    which lives outside the workspace and so outlives it (`geo.audit`).
    """
    from geo import audit  # audit writes beside workspaces: it imports this module

    actor_or_local(actor).require("delete_workspace")
    ws = open_workspace(name, root)
    files = sum(1 for p in ws.path.rglob("*") if p.is_file())
    audit.record(ws, "delete_workspace", files, actor=actor)
    shutil.rmtree(ws.path)
