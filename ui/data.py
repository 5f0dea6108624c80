"""Session helpers for the Data & workspaces page: workspace actions, uploads, column mapping."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from geo.data.columns import check_mapping, merge_mapping, missing_required
from geo.data.geocode import (
    NOMINATIM_DOMAIN,
    SERVICES,
    GeocoderSettings,
    eta_seconds,
    progress_text,
)
from geo.data.ingest import preview_file
from geo.data.inventory import owned_files
from geo.data.layouts import AUTO, LAYOUTS
from geo.data.locate import LocatePlan
from geo.data.postcodes import ATTRIBUTION, PostcodeBook, postcode_dir
from geo.data.readers import iter_tables
from geo.data.schema import Schema
from geo.data.tills import STORE_MAP_SETTING, clean_store_map, location_labels
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
GEOCODE_COUNTRY = "data_geocode_country"
GEOCODER_URL = "data_geocoder_url"
GEOCODER_SERVICE = "data_geocoder_service"
GEOCODE_CACHED_ONLY = "data_geocode_cached_only"
GEOCODE_STOP = "data_geocode_stop"
LAYOUT = "data_layout"
STORE_MAP_EDITOR = "data_store_map"
PLAIN = "none"
FLASH = "data_flash"
REPORT = "data_report"
MODE = "data_mode"
REPLACE_CONFIRM = "data_replace_confirm"

#: Extensions the uploader accepts (the importer detects the format from the content).
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "geojson", "json", "gpkg", "parquet", "geoparquet",
                "zip"]
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
GEOCODE_LABELS = {
    "none": "Don't locate them (rows without coordinates are refused, each with its reason)",
    "postcode": "By postcode, offline (GeoNames tables; thousands of rows a second)",
    "address": "By full address, through the geocoding server (the public Nominatim: one "
               "address a second)",
    "all": "Street addresses through the server, every other row by postcode",
}
SERVER_MODES = ("address", "all")
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
def peek_upload(file_id: str, name: str, _data: bytes, kind: str, layout: str = AUTO,
                stores: tuple[tuple[str, str], ...] | None = None,
                rows: int = 5) -> tuple[pd.DataFrame, str | None]:
    """The first ``rows`` records of an upload with its layout's derived columns, and the layout.

    Cached by upload id, kind, layout choice (``"auto"``, a layout name, or
    `PLAIN` for none) and the till store table (``stores``, redemptions only).
    Returns the layout's name, None when none is used.
    """
    head, found = preview_file(_data, kind, name=name, layout=None if layout == PLAIN else layout,
                               rows=rows, store_map=None if stores is None else dict(stores))
    return head, (found.name if found else None)


@st.cache_data(show_spinner="Reading the till locations…", max_entries=4)
def till_locations(file_id: str, name: str, _data: bytes) -> list[str]:
    """The distinct till location labels of an uploaded file (all of it), cached by upload id."""
    labels: set[str] = set()
    for chunk in iter_tables(_data, name=name):
        labels.update(location_labels(chunk))
    return sorted(labels)


def store_map_editor(ws: Workspace, labels: Sequence[str],
                     store_ids: Sequence[str]) -> dict[str, str]:
    """An editable table: each till location of the file and the store it is; saved in the workspace.

    Returns the workspace's whole table (earlier labels kept), as saved.
    """
    saved = dict(ws.settings().get(STORE_MAP_SETTING, {}))
    frame = pd.DataFrame({"till location": list(labels),
                          "store_id": [saved.get(label) for label in labels]})
    edited = st.data_editor(frame, key=STORE_MAP_EDITOR, hide_index=True,
                            disabled=["till location"],
                            column_config={"store_id": st.column_config.SelectboxColumn(
                                "store_id", options=list(store_ids),
                                help="The store this till location is")})
    table = {**saved, **clean_store_map(dict(zip(edited["till location"], edited["store_id"],
                                                 strict=True)))}
    if table != saved:
        ws.update_settings(**{STORE_MAP_SETTING: table})
    return table


def layout_choices(kind: str) -> list[str]:
    """Options of the layout box: recognise automatically, each layout of ``kind``, or none."""
    return [AUTO, *[n for n, lay in LAYOUTS.items() if lay.kind == kind], PLAIN]


def layout_label(choice: str) -> str:
    """What the layout box shows for an option."""
    if choice == AUTO:
        return "Recognise automatically"
    if choice == PLAIN:
        return "None: match columns by name"
    return LAYOUTS[choice].label


def layout_caption(choice: str, found: str | None) -> str:
    """One sentence saying which layout the file is read as."""
    if found is None:
        return ("No known export layout recognised: columns are matched by name."
                if choice == AUTO else "Read as a plain table: columns are matched by name.")
    how = "Recognised" if choice == AUTO else "Read as"
    return (f"{how}: **{LAYOUTS[found].label}**. The mapping below follows it; columns marked "
            "“(derived)” are worked out from the file (consent, split address). Change any of "
            "them.")


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
    missing = missing_required(mapping, schema)
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


def default_geocoder_url(ws: Workspace) -> str:
    """The geocoding server's base URL: the workspace's setting, else secrets or environment.

    ``GEO_GEOCODER_DOMAIN`` and ``GEO_GEOCODER_SCHEME`` (secrets or environment)
    point at another server, e.g. a shop's own Nominatim; the default is the
    public OpenStreetMap Nominatim.
    """
    saved = ws.settings().get("geocoder", {}).get("url")
    if saved:
        return str(saved)
    scheme = _setting("GEO_GEOCODER_SCHEME") or "https"
    return f"{scheme}://{_setting('GEO_GEOCODER_DOMAIN') or NOMINATIM_DOMAIN}"


def save_geocoder(ws: Workspace) -> None:
    """Keep the server URL and service the user typed in the workspace settings (callback)."""
    ws.update_settings(geocoder={"url": st.session_state.get(GEOCODER_URL, ""),
                                 "service": st.session_state.get(GEOCODER_SERVICE, SERVICES[0])})


def geocoder_settings(ws: Workspace, url: str, service: str) -> GeocoderSettings:
    """Settings for the server at ``url``; the answers are cached in the workspace (deleted with it).

    Raises
    ------
    DataError
        The URL is not usable (see `GeocoderSettings.from_url`).
    """
    return GeocoderSettings.from_url(url, service=service,
                                     cache_path=ws.path / "geocode-cache.sqlite")


def locate_inputs(ws: Workspace) -> tuple[LocatePlan | None, str | None]:
    """Widgets for locating rows without coordinates; the plan (None: off) and a problem, if any."""
    mode = st.radio("Rows without coordinates", list(GEOCODE_LABELS), key=GEOCODE,
                    format_func=GEOCODE_LABELS.get,
                    help="Rows that have an address or a postcode but no latitude/longitude. "
                         "Each located row records how (postcode or address); the Reach "
                         "page can filter on it.")
    if mode == "none":
        return None, None
    country = st.text_input("Country of rows that give none (two letters, e.g. DE)",
                            key=GEOCODE_COUNTRY, max_chars=2).strip().upper() or None
    st.caption(f"{ATTRIBUTION}; each country's table is downloaded once into "
               f"{postcode_dir(ws.root)} (set PGEOCODE_DATA_DIR to use a pre-filled folder).")
    plan = LocatePlan(mode=mode, postcodes=PostcodeBook(postcode_dir(ws.root), country))
    if mode not in SERVER_MODES:
        return plan, None
    saved = ws.settings().get("geocoder", {})
    if GEOCODER_URL not in st.session_state:
        st.session_state[GEOCODER_URL] = default_geocoder_url(ws)
    if GEOCODER_SERVICE not in st.session_state:
        st.session_state[GEOCODER_SERVICE] = saved.get("service", SERVICES[0])
    url_col, service_col = st.columns([3, 1])
    url = url_col.text_input("Geocoding server (base URL)", key=GEOCODER_URL,
                             on_change=save_geocoder, args=(ws,),
                             help="The public OpenStreetMap Nominatim allows one request a "
                                  "second and no bulk use; a shop's own Nominatim or Photon "
                                  "has no limit here.")
    service = service_col.selectbox("It speaks", SERVICES, key=GEOCODER_SERVICE,
                                    on_change=save_geocoder, args=(ws,))
    try:
        plan.geocoder = geocoder_settings(ws, url, service)
    except GeoError as exc:
        return None, str(exc)
    public = plan.geocoder.domain.split(":")[0].endswith(NOMINATIM_DOMAIN)
    st.caption(("Public Nominatim: at most one address a second (© OpenStreetMap contributors). "
                if public else "Your own server: no rate limit. ")
               + "Every answer is cached in the workspace, so a stopped run keeps what it did "
                 "and the next one continues from there.")
    if st.checkbox("Use only the addresses located so far (no new requests)",
                   key=GEOCODE_CACHED_ONLY):
        plan.should_stop = lambda: True
    return plan, None


def geocode_progress(bar, delay_s: float) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that shows addresses done and the time left."""
    start = time.monotonic()

    def report(done: int, total: int) -> None:
        eta = eta_seconds(done, total, time.monotonic() - start, delay_s)
        bar.progress(done / total if total else 1.0,
                     text=f"Geocoding: {progress_text(done, total, eta)}. Stop keeps what is done.")
    return report


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
