"""Session helpers for the Data & workspaces page: workspace actions, uploads, column mapping."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from geo.data.columns import check_mapping, merge_mapping
from geo.data.geocode import NOMINATIM_DOMAIN, GeocoderSettings
from geo.data.inventory import owned_files
from geo.data.readers import peek
from geo.data.schema import Schema
from geo.data.validate import ValidationReport
from geo.errors import DataError, GeoError
from geo.workspace import (
    DEMO,
    Workspace,
    create_workspace,
    delete_workspace,
    open_workspace,
)
from ui.auth import current_actor
from ui.state import WS_KEY

# session-state keys owned by the Data page
NEW_NAME = "data_new_workspace"
SWITCH_TO = "data_switch_to"
DELETE_WHICH = "data_delete_which"
DELETE_CONFIRM = "data_delete_confirm"
KIND = "data_kind"
CAMPAIGN = "data_campaign"
UPLOAD = "data_upload"
GEOCODE = "data_geocode"
FLASH = "data_flash"
REPORT = "data_report"
MODE = "data_mode"
REPLACE_CONFIRM = "data_replace_confirm"

#: Extensions the uploader accepts (the importer detects the format from the content).
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "geojson", "json", "gpkg", "parquet", "geoparquet"]
KIND_LABELS = {"customers": "Customers", "stores": "Stores",
               "events": "E-mail events", "redemptions": "In-store redemptions"}
MODE_LABELS = {
    "customers": {"add": "Add new and update matching (on customer_id, else e-mail)",
                  "replace": "Replace all customers"},
    "stores": {"add": "Add new and update matching (on store_id)", "replace": "Replace all stores"},
    "events": {"add": "Add to the stored events", "replace": "Replace the stored events"},
    "redemptions": {"add": "Add to the stored redemptions",
                    "replace": "Replace the stored redemptions"},
}
MODE_HELP = {
    "customers": "Add and update keeps every stored customer: the file's customers that are "
                 "already stored (same customer_id, or else the same e-mail address) take the "
                 "file's values for the columns it has; the others are added.",
    "stores": "Add and update keeps every stored store: stores with the same store_id take the "
              "file's values; the others are added.",
    "events": "Add keeps the stored events and adds the file's rows that are not stored yet.",
    "redemptions": "Add keeps the stored redemptions and adds the file's rows that are not "
                   "stored yet.",
}
NOT_MAPPED = "— not in the file —"
ERRORS_SHOWN = 1_000  # rows of the problem table sent to the browser; the download has all


# --- messages that survive the rerun a callback triggers --------------------------------
def flash(level: str, text: str) -> None:
    """Queue a message (``"success"``, ``"info"``, ``"warning"``, ``"error"``) for the next run."""
    st.session_state[FLASH] = (level, text)


def show_flash() -> None:
    """Show (once) the message a callback queued."""
    level, text = st.session_state.pop(FLASH, (None, None))
    if level:
        getattr(st, level)(text)


# --- workspace actions (button callbacks: they run before the script) -------------------
def create_and_switch(root: str) -> None:
    """Create the workspace named in the text box and make it the active one."""
    try:
        ws = create_workspace(st.session_state.get(NEW_NAME, ""), Path(root))
    except GeoError as exc:
        flash("error", f"Could not create the workspace: {exc}")
        return
    st.session_state[WS_KEY] = ws.name
    st.session_state[NEW_NAME] = ""
    flash("success", f"Created workspace “{ws.name}” and switched to it: import files below.")


def switch_to(name: str | None) -> None:
    """Make workspace ``name`` the active one (the sidebar follows)."""
    if not name:
        return
    st.session_state[WS_KEY] = name
    st.session_state[SWITCH_TO] = None
    flash("success", f"Switched to workspace “{name}”.")


def reset_confirmation() -> None:
    """Untick the delete confirmation (when another workspace is chosen for deletion)."""
    st.session_state[DELETE_CONFIRM] = False


def delete(root: str, name: str | None) -> None:
    """Delete workspace ``name`` and every file it owns; fall back to the demo if it was active."""
    if not name or not st.session_state.get(DELETE_CONFIRM):
        return
    try:
        n_files = len(owned_files(open_workspace(name, Path(root))))
        delete_workspace(name, Path(root), actor=current_actor())
    except GeoError as exc:
        flash("error", f"Could not delete the workspace: {exc}")
        return
    except OSError as exc:
        flash("error", f"Could not delete every file of workspace “{name}”: {exc}")
        return
    if st.session_state.get(WS_KEY) == name:
        st.session_state[WS_KEY] = DEMO
    st.session_state[DELETE_WHICH] = None
    st.session_state[DELETE_CONFIRM] = False
    flash("success", f"Deleted workspace “{name}” and its {n_files} file(s).")


def undo(ws: Workspace, kind: str) -> None:
    """Put back the ``kind`` table as it was before the last import (button callback)."""
    from geo.data.ingest import undo_import

    try:
        last = undo_import(ws, kind, actor=current_actor())
    except GeoError as exc:
        flash("error", f"Could not undo: {exc}")
        return
    st.session_state.pop(REPORT, None)
    flash("success", f"Undid the import of {last['file']}: the {kind} are as they were before.")


def changes_text(changes, kind: str, *, planned: bool = False) -> str:
    """An import's counts as a sentence: ``"12 new, 3 updated, 980 unchanged, 0 removed"``."""
    if changes is None:
        return "change nothing" if planned else "nothing changed"
    parts = [f"{changes.new:,} new", f"{changes.updated:,} updated",
             f"{changes.unchanged:,} unchanged", f"{changes.removed:,} removed"]
    verb = "add and update: " if planned else ""
    total = f"; {changes.after:,} {kind} {'would be' if planned else 'are'} stored"
    return verb + ", ".join(parts) + total


# --- uploads and column mapping -----------------------------------------------------------
@st.cache_data(show_spinner="Reading the file…", max_entries=4)
def peek_upload(file_id: str, name: str, _data: bytes, rows: int = 5) -> pd.DataFrame:
    """The first ``rows`` records of an uploaded file, cached by its upload id."""
    return peek(_data, name=name, rows=rows)


def mapping_key(kind: str, file_id: str, field: str) -> str:
    """Session key of the selectbox that maps canonical column ``field`` for one upload."""
    return f"data_map_{kind}_{file_id}_{field}"


def _release_duplicates(keys: dict[str, str], field: str) -> None:
    """After ``field`` took a source column, take it away from any other canonical column."""
    current = {f: st.session_state.get(k) for f, k in keys.items()}
    others = {f: s for f, s in current.items() if s and f != field}
    merged = merge_mapping(others, {field: current[field]})
    for f, k in keys.items():
        st.session_state[k] = merged.get(f)


def mapping_inputs(kind: str, file_id: str, columns: Sequence[str], fields: Sequence[str],
                   required: Sequence[str], suggested: dict[str, str],
                   per_row: int = 4) -> dict[str, str]:
    """One selectbox per canonical column, preset to ``suggested``; return the chosen mapping.

    Picking a source column already used elsewhere moves it (the other column
    becomes unmapped), so the mapping shown is always the one used.
    """
    keys = {f: mapping_key(kind, file_id, f) for f in fields}
    for f, k in keys.items():
        if k not in st.session_state:
            st.session_state[k] = suggested.get(f)
    options = [None, *[str(c) for c in columns]]
    grid = st.columns(per_row)
    for i, (f, k) in enumerate(keys.items()):
        with grid[i % per_row]:
            st.selectbox(f"{f} *" if f in required else f, options, key=k,
                         format_func=lambda c: NOT_MAPPED if c is None else c,
                         placeholder=NOT_MAPPED,
                         on_change=_release_duplicates, args=(keys, f))
    return {f: st.session_state[k] for f, k in keys.items() if st.session_state.get(k)}


def mapping_problem(mapping: dict[str, str], columns: Sequence[str], schema: Schema,
                    file: str) -> str | None:
    """Why ``mapping`` cannot be used for this file, as a sentence for the page; None if usable."""
    missing = [c for c in schema.required if c not in mapping]
    if missing:
        return (f"Choose a column of {file} for {', '.join(missing)} "
                "(required columns are marked *).")
    try:
        check_mapping(mapping, columns, schema, file)
    except DataError as exc:
        return str(exc)
    return None


# --- import settings and progress -----------------------------------------------------------
def _setting(name: str) -> str | None:
    """A value from ``st.secrets`` (if any secrets file exists), else the environment."""
    try:
        value = st.secrets.get(name)
    except Exception:  # no secrets file: Streamlit raises rather than returning None
        value = None
    return str(value) if value else os.environ.get(name)


def geocoder_settings(ws: Workspace) -> GeocoderSettings:
    """Nominatim settings; the answers are cached in the workspace (deleted with it).

    ``GEO_GEOCODER_DOMAIN`` and ``GEO_GEOCODER_SCHEME`` (secrets or environment)
    point at another Nominatim server, e.g. a local one.
    """
    return GeocoderSettings(domain=_setting("GEO_GEOCODER_DOMAIN") or NOMINATIM_DOMAIN,
                            scheme=_setting("GEO_GEOCODER_SCHEME") or "https",
                            cache_path=ws.path / "geocode-cache.sqlite")


def progress_reporter(bar, label: str) -> Callable[[float], None]:
    """A ``progress(fraction)`` callback that moves an ``st.progress`` bar."""
    def report(fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        bar.progress(fraction, text=f"Reading and checking {label}: {fraction:.0%}")
    return report


# --- the last report, kept across reruns (download clicks, widget changes) -----------------
def keep_report(report: ValidationReport, summary: dict[str, int], *, kind: str, file_id: str,
                workspace: str, stored: bool, campaign: str | None) -> None:
    """Remember a report for this upload, without its good rows (they are on disk, if stored)."""
    slim = dataclasses.replace(report, valid=report.valid.iloc[:0])
    st.session_state[REPORT] = {"report": slim, "summary": summary, "kind": kind,
                                "file_id": file_id, "workspace": workspace, "stored": stored,
                                "campaign": campaign}


def kept_report(kind: str, file_id: str, workspace: str) -> dict | None:
    """The kept report if it belongs to this upload, kind and workspace, else None."""
    kept = st.session_state.get(REPORT)
    if kept and (kept["kind"], kept["file_id"], kept["workspace"]) == (kind, file_id, workspace):
        return kept
    return None
