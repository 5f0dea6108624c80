"""Validate a user's file against a table layout and store its good rows in a workspace.

The pipeline streams: a CSV is read in chunks (`geo.data.readers.iter_tables`),
each chunk is mapped onto canonical names (`geo.data.columns`), optionally
geocoded (`geo.data.geocode`) and parsed to typed columns (`geo.data.validate`); only the
typed rows are kept, then the checks across rows (duplicates, swapped
coordinates) run once on them. A million customer rows therefore need one
typed copy in memory, not the raw text as well.

Where the good rows go (`import_file`): into the workspace's table of that
kind, added and updated by default or replacing it (`geo.data.merge`: customers
match on ``customer_id``, else e-mail; stores on ``store_id``); events and
redemptions go into a campaign when one is named (``campaign=``, where the
funnel reads them), else into the workspace's ``events`` / ``redemptions``
table. `preview_import` counts what an import would change without writing;
the table it replaces is kept, so `undo_import` puts it back. A file with no
good row changes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.data.columns import (
    LOCATION_FIELDS,
    apply_mapping,
    check_mapping,
    mappable_fields,
    missing_required,
    suggest_mapping,
)
from geo.data.derive import derive_columns
from geo.data.geocode import GeocoderSettings, Lookup, build_queries, needs_geocoding
from geo.data.layouts import (
    AUTO,
    Layout,
    layout_mapping,
    layout_notes,
    prepare_chunk,
    resolve_layout,
)
from geo.data.locate import LocateCounts, LocatePlan, locate_missing
from geo.data.tills import DERIVED_STORE, add_store_ids
from geo.data.merge import ImportChanges, check_mode, merge_table
from geo.data.readers import CHUNK_ROWS, Progress, Source, iter_tables, peek, source_name
from geo.data.schema import CUSTOMERS, EVENTS, REDEMPTIONS, STORES, Schema
from geo.data.tables import complete
from geo.data.validate import (
    ValidationReport,
    check_across_rows,
    finish_report,
    sort_errors,
    validate_rows,
)
from geo import audit
from geo.access import Actor, actor_or_local
from geo.errors import DataError
from geo.workspace import Workspace

KIND_SCHEMAS: dict[str, Schema] = {"customers": CUSTOMERS, "stores": STORES,
                                   "events": EVENTS, "redemptions": REDEMPTIONS}
READ_SHARE = 0.9  # share of the progress bar spent reading and parsing


def schema_for(kind: str) -> Schema:
    """Return the layout of an importable table kind (customers, stores, events, redemptions)."""
    try:
        return KIND_SCHEMAS[kind]
    except KeyError:
        raise DataError(kind, f"unknown kind {kind!r}: use one of {', '.join(KIND_SCHEMAS)}") \
            from None


def _scaled(progress: Progress | None, start: float, end: float) -> Progress | None:
    if progress is None:
        return None
    return lambda f: progress(start + (end - start) * min(max(f, 0.0), 1.0))


def _plan(locate: LocatePlan | None, geocoder: GeocoderSettings | None,
          lookup: Lookup | None) -> LocatePlan | None:
    """The locating plan: ``locate``, else the service alone when a geocoder or lookup is given."""
    if locate is not None:
        return locate
    if geocoder is not None or lookup is not None:
        return LocatePlan(mode="address", geocoder=geocoder, lookup=lookup)
    return None


def proposed_mapping(columns: list[str], kind: str, layout: Layout | None,
                     previous: Mapping[str, str] | None = None) -> dict[str, str]:
    """The mapping to propose for a file's headers (derived columns included).

    A recognised layout's mapping wins; otherwise the user's earlier choices
    that still fit (``previous``), then the synonym suggestion.
    """
    from geo.data.columns import recall_mapping

    schema = schema_for(kind)
    if layout is None:
        return recall_mapping(columns, schema, previous)
    return layout_mapping(columns, mappable_fields(schema), suggest_mapping(columns, schema),
                          layout)


def preview_file(source: Source, kind: str, *, name: str | None = None, layout: str | None = AUTO,
                 rows: int = 5, store_map: Mapping[str, str] | None = None
                 ) -> tuple[pd.DataFrame, Layout | None]:
    """The first rows of a file with its layout's derived columns, and the layout recognised.

    ``store_map`` adds the till export's ``(derived) store_id`` (see `check_file`).

    Raises
    ------
    DataError
        The file is unreadable, or the named layout does not exist or is for another kind.
    """
    label = source_name(source, name)
    head = peek(source, name=label, rows=rows)
    lay = resolve_layout(layout, head.columns, kind, label)
    head = prepare_chunk(head, lay, label)
    if store_map is not None:
        head = add_store_ids(head, store_map, label)[0]
    return head, lay


def check_file(source: Source, kind: str, *, name: str | None = None,
               mapping: Mapping[str, str] | None = None, progress: Progress | None = None,
               geocoder: GeocoderSettings | None = None, lookup: Lookup | None = None,
               chunksize: int = CHUNK_ROWS, layout: str | None = AUTO,
               locate: LocatePlan | None = None,
               store_map: Mapping[str, str] | None = None) -> ValidationReport:
    """Read and validate a file without storing anything.

    Parameters
    ----------
    source
        Path, bytes or binary file object in any format `geo.data.readers.read_any` reads.
    kind
        ``"customers"``, ``"stores"``, ``"events"`` or ``"redemptions"``.
    name
        Label for messages (defaults to the file name).
    mapping
        ``{canonical: source column}``; None uses `geo.data.columns.suggest_mapping`.
    progress
        Called with the fraction done, 0 to 1.
    geocoder, lookup
        Geocode rows that have an address or postcode but no coordinates
        through the service (see `geo.data.geocode.geocode_missing`); off when
        both are None and ``locate`` is None.
    chunksize
        CSV rows parsed at a time.
    layout
        ``"auto"`` (default) recognises a known export (`geo.data.layouts`);
        a layout name forces it; None reads the file as a plain table.
    locate
        How to locate rows without coordinates (`geo.data.locate.LocatePlan`:
        postcode tables, the service, or both); overrides ``geocoder``/``lookup``.
    store_map
        For till exports (redemptions): ``{location label: store_id}``; adds the
        column ``(derived) store_id`` and refuses rows whose location is not in
        it (`geo.data.tills`).

    Returns
    -------
    ValidationReport
        ``valid`` holds the good rows typed (plus ``_row``, and any mapped
        location fields); ``errors`` one line per problem. Rows geocoding could
        not locate carry a "not located" reason; ``mapping`` is the mapping
        used, ``layout`` the layout's name, ``geocoded`` the counts by method
        and ``message`` the layout's and the geocoder's notes, if any.

    Raises
    ------
    DataError
        The file cannot be used at all: unreadable, or a required column is
        missing from the mapping.
    """
    schema = schema_for(kind)
    label = source_name(source, name)
    typed_parts: list[pd.DataFrame] = []
    error_parts: list[pd.DataFrame] = []  # iter_tables adds rows with too many fields
    rows, used = 0, None
    lay: Layout | None = None
    notes: list[str] = []
    plan = _plan(locate, geocoder, lookup) if "lat" in schema.names else None
    counts = LocateCounts()
    for chunk in iter_tables(source, name=label, chunksize=chunksize,
                             progress=_scaled(progress, 0.0, READ_SHARE), problems=error_parts):
        if used is None:
            lay = resolve_layout(layout, chunk.columns, kind, label)
        chunk = prepare_chunk(chunk, lay, label)
        unmapped = None
        if store_map is not None:
            chunk, unmapped = add_store_ids(chunk, store_map, label)
        if used is None:
            columns = [str(c) for c in chunk.columns]
            used = dict(mapping) if mapping is not None else proposed_mapping(columns, kind, lay)
            _check_layout_can_fill(lay, used, schema, label)
            check_mapping(used, chunk.columns, schema, label)
        if unmapped is not None and used.get("store_id") == DERIVED_STORE:
            error_parts.append(unmapped)
        notes += [n for n in layout_notes(chunk, lay, label) if n not in notes]
        mapped = derive_columns(apply_mapping(chunk, used), schema,
                                lay.coordinates_source if lay else "given")
        if plan is not None:
            result, found = locate_missing(mapped, plan)
            counts.add(found)
            mapped = result.frame
            error_parts.append(result.not_located.rename(columns={"query": "value"})
                               .assign(column="lat"))
        elif "lat" in schema.names:
            error_parts.append(_not_geocoded(mapped))
        keep = tuple(f for f in (*LOCATION_FIELDS, "location_source") if f in mapped.columns)
        typed, errors = validate_rows(mapped, schema, label, row_numbers=mapped.index, keep=keep)
        rows += len(mapped)
        typed_parts.append(typed)
        error_parts.append(errors)
        del chunk, mapped
    typed = typed_parts[0] if len(typed_parts) == 1 else pd.concat(typed_parts, ignore_index=True)
    typed_parts.clear()
    report_progress = _scaled(progress, READ_SHARE, 1.0)
    row_errors = _merge_not_located(pd.concat([e for e in error_parts if len(e)] or [
        error_parts[-1]], ignore_index=True))
    errors = check_across_rows(typed, schema, row_errors)
    report = finish_report(label, rows, typed, errors, schema=schema)
    report.mapping, report.layout = used, (lay.name if lay else None)
    report.message = "; ".join(notes + counts.messages) or None
    if plan is not None:
        report.geocoded = counts.as_dict()
    if report_progress:
        report_progress(1.0)
    return report


def _check_layout_can_fill(lay: Layout | None, used: Mapping[str, str], schema: Schema,
                           file: str) -> None:
    """Raise the layout's own explanation when it cannot fill a required column (Square's codes)."""
    if lay is None or not lay.note:
        return
    missing = missing_required(used, schema)
    if missing:
        raise DataError(file, f"this is a {lay.label}, which cannot fill {', '.join(missing)}. "
                              f"{lay.note}", column=missing[0])


NOT_GEOCODED = ("not located: no coordinates; locate the row from its postcode or address "
                "(the Geocode option, or --geocode postcode|address|all)")


def _not_geocoded(mapped: pd.DataFrame) -> pd.DataFrame:
    """One "not located" line per row that has an address or postcode but no coordinates."""
    need = needs_geocoding(mapped)
    rows = mapped.index[need.to_numpy(dtype=bool)]
    query, _ = build_queries(mapped.loc[rows])
    return pd.DataFrame({"row": np.asarray(rows, dtype="int64"), "column": "lat",
                         "reason": NOT_GEOCODED, "value": query.to_numpy(dtype=object)})


def _merge_not_located(errors: pd.DataFrame) -> pd.DataFrame:
    """Drop "missing value" on lat/lon for rows already reported as not located."""
    if errors.empty:
        return errors
    reason = errors["reason"].astype(str)
    nl_rows = errors.loc[reason.str.startswith("not located"), "row"]
    store_rows = errors.loc[reason.str.startswith("till location"), "row"]
    redundant = (((errors["row"].isin(nl_rows) & errors["column"].isin(["lat", "lon"]))
                  | (errors["row"].isin(store_rows) & (errors["column"] == "store_id")))
                 & (reason == "missing value"))
    return errors[~redundant.to_numpy()].reset_index(drop=True)


def _stored(workspace: Workspace, kind: str, campaign: str | None) -> pd.DataFrame | None:
    """The table an import of ``kind`` goes into, as stored now (None when there is none)."""
    if campaign is not None:
        return workspace.load_campaign_file(campaign, kind)
    return workspace.load_table(kind)


def planned_changes(report: ValidationReport, kind: str, workspace: Workspace, *,
                    mode: str = "add", campaign: str | None = None
                    ) -> tuple[pd.DataFrame, ImportChanges]:
    """The table an import of ``report``'s good rows would store, and what it changes.

    Parameters
    ----------
    report
        From `check_file`.
    kind, workspace, campaign
        Where the rows go (see `import_file`).
    mode
        ``"add"`` (add and update, default) or ``"replace"`` (see `geo.data.merge`).
    """
    schema = schema_for(kind)
    incoming = report.valid.drop(columns="_row")
    merged, changes = merge_table(_stored(workspace, kind, campaign), incoming, schema,
                                  check_mode(mode))
    return complete(merged, schema), changes


def preview_import(path: Source, kind: str, workspace: Workspace,
                   mapping: Mapping[str, str] | None = None, *, mode: str = "add",
                   name: str | None = None, campaign: str | None = None,
                   progress: Progress | None = None, geocoder: GeocoderSettings | None = None,
                   lookup: Lookup | None = None, chunksize: int = CHUNK_ROWS,
                   layout: str | None = AUTO, locate: LocatePlan | None = None,
                   store_map: Mapping[str, str] | None = None) -> ValidationReport:
    """Validate a file and count what importing it would change, writing nothing.

    Parameters and return value as `import_file`; ``report.changes`` holds the
    counts (`geo.data.merge.ImportChanges`), None when no row is good.
    """
    report = check_file(path, kind, name=name, mapping=mapping, progress=progress,
                        geocoder=geocoder, lookup=lookup, chunksize=chunksize, layout=layout,
                        locate=locate, store_map=store_map)
    if not report.valid.empty:
        report.changes = planned_changes(report, kind, workspace, mode=mode,
                                         campaign=campaign)[1]
    return report


def import_file(path: Source, kind: str, workspace: Workspace,
                mapping: Mapping[str, str] | None = None, *, mode: str = "add",
                name: str | None = None, campaign: str | None = None,
                progress: Progress | None = None, geocoder: GeocoderSettings | None = None,
                lookup: Lookup | None = None, chunksize: int = CHUNK_ROWS,
                layout: str | None = AUTO, locate: LocatePlan | None = None,
                store_map: Mapping[str, str] | None = None,
                actor: Actor | None = None) -> ValidationReport:
    """Validate a file and store its good rows in ``workspace``.

    Parameters
    ----------
    path
        The file (path, bytes or binary file object).
    kind
        ``"customers"``, ``"stores"``, ``"events"`` or ``"redemptions"``.
    workspace
        Where to store the rows (it must exist).
    mapping
        ``{canonical: source column}``; None uses the suggested mapping.
    mode
        ``"add"`` (default): add new records and update the ones the file
        matches, remove nothing; ``"replace"``: the file becomes the table
        (see `geo.data.merge`). Either way the table it replaces is kept for
        `undo_import` (workspace tables; not campaign files).
    campaign
        For events and redemptions: the campaign to attach them to (must
        exist); None stores them as the workspace's ``events`` /
        ``redemptions`` table.
    progress, geocoder, lookup, chunksize, layout, locate, store_map
        See `check_file`.
    actor
        Who imports (`geo.access.require` ``import``: marketer or admin; None is
        the local OS user); the import is recorded in the workspace's audit trail.

    Returns
    -------
    ValidationReport
        As `check_file`, with ``changes`` (`geo.data.merge.ImportChanges`). Nothing
        is stored when no row is good.
    """
    actor_or_local(actor).require("import")
    check_mode(mode)
    if campaign is not None:
        if kind not in ("events", "redemptions"):
            raise DataError(kind, "only events and redemptions can be imported into a campaign")
        workspace.campaign_meta(campaign)  # raises WorkspaceError when it does not exist
    report = check_file(path, kind, name=name, mapping=mapping, progress=progress,
                        geocoder=geocoder, lookup=lookup, chunksize=chunksize, layout=layout,
                        locate=locate, store_map=store_map)
    if report.valid.empty:
        return report
    table, report.changes = planned_changes(report, kind, workspace, mode=mode,
                                            campaign=campaign)
    if campaign is not None:
        stored = workspace.save_campaign_file(campaign, kind, table)
    else:
        stored = workspace.save_table(kind, table, keep_previous=True)
    del table
    imports = dict(workspace.settings().get("imports", {}))
    imports[kind] = {"file": report.file, "rows": report.rows, "valid": len(report.valid),
                     "errors": len(report.errors), "mapping": report.mapping,
                     "layout": report.layout,
                     "campaign": campaign, "stored": stored.name,
                     **report.changes.as_dict(), "undone": False,
                     "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    workspace.update_settings(imports=imports)
    audit.record(workspace, "import", len(report.valid), actor=actor, kind=kind, file=report.file,
                 mode=mode, campaign=campaign)
    return report


def can_undo_import(workspace: Workspace, kind: str) -> bool:
    """True when the last import of ``kind`` into the workspace's table can be undone."""
    last = workspace.settings().get("imports", {}).get(kind, {})
    return (bool(last) and not last.get("undone") and last.get("campaign") is None
            and workspace.has_previous(kind))


def undo_import(workspace: Workspace, kind: str, *, actor: Actor | None = None) -> dict[str, Any]:
    """Put back the ``kind`` table as it was before the last import.

    Returns
    -------
    dict
        The undone import's record (file, counts, time).

    Raises
    ------
    DataError
        When there is no import of ``kind`` to undo (already undone, or the
        previous version is gone).
    """
    actor_or_local(actor).require("undo_import")
    if not can_undo_import(workspace, kind):
        raise DataError(kind, f"there is no import of {kind} to undo in workspace "
                              f"{workspace.name!r}")
    workspace.restore_previous(kind)
    imports = dict(workspace.settings().get("imports", {}))
    undone: dict[str, Any] = {**imports[kind], "undone": True}
    imports[kind] = undone
    workspace.update_settings(imports=imports)
    audit.record(workspace, "undo_import", int(undone.get("valid", 0)), actor=actor, kind=kind,
                 file=undone.get("file"))
    return undone


def shared_addresses_csv(report: ValidationReport) -> bytes:
    """Return the records that share an address (see `geo.data.validate.shared_addresses`) as UTF-8 CSV.

    Columns: ``email_key, row`` (spreadsheet row), ``customer_id, email,
    opted_in, unsubscribed``; with a byte-order mark, as `bad_rows_csv`.
    """
    shared = report.shared if report.shared is not None else pd.DataFrame()
    return str(shared.to_csv(index=False)).encode("utf-8-sig")


def errors_csv(report: ValidationReport) -> bytes:
    """Return the report's problems (row, column, reason, value) as UTF-8 CSV bytes."""
    return str(report.errors.to_csv(index=False)).encode("utf-8-sig")


def bad_rows_csv(source: Source, report: ValidationReport, *, name: str | None = None,
                 chunksize: int = CHUNK_ROWS) -> bytes:
    """Return the file's bad rows, as they were, with their row and reasons, as CSV bytes.

    The file is read again in chunks, so only the bad rows are held. Columns:
    ``row`` (spreadsheet row), ``reason`` (``column: reason`` joined by
    ``"; "``), then the file's own columns. UTF-8 with a byte-order mark, so
    that Excel shows accents correctly; the importer reads it back.
    """
    errors = sort_errors(report.errors)
    if errors.empty:
        return b""
    col = errors["column"].astype(object).where(errors["column"].notna(), None)
    text = [f"{c}: {r}" if c else str(r) for c, r in zip(col, errors["reason"], strict=True)]
    reasons = pd.Series(text, index=errors["row"].to_numpy()).groupby(level=0).agg("; ".join)
    parts = []
    for chunk in iter_tables(source, name=name or report.file, chunksize=chunksize):
        bad = chunk[chunk.index.isin(reasons.index)]
        if len(bad):
            parts.append(bad)
    bad = pd.concat(parts) if parts else pd.DataFrame()
    bad.insert(0, "reason", reasons.reindex(bad.index).to_numpy())
    bad.insert(0, "row", bad.index.to_numpy())
    buf = io.StringIO()
    bad.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8-sig")


def store_path(workspace: Workspace, kind: str, campaign: str | None = None) -> Path:
    """Path of the Parquet file `import_file` writes for ``kind``."""
    if campaign is not None:
        return workspace.campaign_path(campaign) / f"{kind}.parquet"
    return workspace.table_path(kind)


def report_summary(report: ValidationReport) -> dict[str, int]:
    """Count what a report found.

    Returns
    -------
    dict
        ``rows`` (data rows read), ``valid`` (good rows kept), ``rejected``
        (rows left out because of at least one problem), ``problems`` (one
        per row and column at fault, so a row can have several) and
        ``shared_addresses`` (addresses held by two or more good records: a
        notice, every record is kept).
    """
    rows, valid = int(report.rows), int(len(report.valid))
    return {"rows": rows, "valid": valid, "rejected": max(rows - valid, 0),
            "problems": int(len(report.errors)), "shared_addresses": report.shared_groups}


def problem_counts(report: ValidationReport) -> pd.DataFrame:
    """Count the problems by column and kind of reason, most frequent first.

    The kind is the reason without its details in brackets, so "duplicate
    email ... (same as row 2)" and "(same as row 7)" count together.

    Returns
    -------
    DataFrame with ``column``, ``reason`` and ``rows``.
    """
    errors = report.errors
    if errors.empty:
        return pd.DataFrame({"column": pd.Series(dtype=object), "reason": pd.Series(dtype=object),
                             "rows": pd.Series(dtype="int64")})
    kind = errors["reason"].astype(str).str.replace(r"\s*\(.*$", "", regex=True)
    column = errors["column"].astype(object).where(errors["column"].notna(), "(whole row)")
    counts = (pd.DataFrame({"column": column, "reason": kind})
              .value_counts(sort=True).rename("rows").reset_index())
    return counts.sort_values(["rows", "column", "reason"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)


def import_history(workspace: Workspace) -> pd.DataFrame:
    """The last import of each kind into ``workspace`` (as `import_file` recorded it).

    Returns
    -------
    DataFrame with ``kind``, ``file``, ``layout`` (the known export it was
    read as, or None), ``rows``, ``valid``, ``errors``, ``campaign`` and ``at``
    (UTC, ISO 8601), one row per kind, in `KIND_SCHEMAS` order; empty when
    nothing was imported.
    """
    imports = workspace.settings().get("imports", {})
    cols = ["kind", "file", "layout", "rows", "valid", "errors", "campaign", "at"]
    records = [{"kind": kind, **{c: imports[kind].get(c) for c in cols[1:]}}
               for kind in KIND_SCHEMAS if kind in imports]
    return pd.DataFrame(records, columns=cols)
