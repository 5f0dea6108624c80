"""Read e-mail provider activity exports (generic, Mailchimp, Klaviyo) into the events table.

Every layout becomes `geo.data.schema.EVENTS` rows: ``email, event, timestamp
(naive UTC), campaign_id`` with ``event`` one of sent, delivered, opened,
clicked, bounced, unsubscribed. Bad rows are reported with file, row (as a
spreadsheet shows it, header = row 1), column and reason; good rows are kept.
Header names are matched case-insensitively after trimming.

Supported layouts
-----------------
``generic``
    ``email, event, timestamp[, campaign_id]``; ``event`` already uses our
    six names.
``mailchimp`` (campaign report e-mail activity)
    One row per activity, as Mailchimp's ``GET /reports/{campaign_id}/email-activity``
    reports it (``email_address`` and ``activity[] = {action, timestamp, url,
    ip}``) flattened to a table. Columns: ``Email Address`` (or
    ``email_address``), ``Action`` (``open`` -> opened, ``click`` -> clicked,
    ``bounce`` -> bounced; ``sent``, ``delivered`` and ``unsubscribe`` are
    accepted too), ``Timestamp``, optional ``Campaign ID`` / ``campaign_id``;
    ``URL``, ``IP`` and any other column are ignored.
``mailchimp_members`` (campaign report recipient lists)
    The per-activity recipient lists of a campaign report ("Sent to",
    "Opened", "Clicked", "Bounced", "Unsubscribed"; a report ZIP holds one CSV
    each). Columns: ``Email Address`` plus audience fields (ignored); the
    event comes from the ``event`` argument or the file name, the time from a
    ``Timestamp`` / ``Time`` / ``Date`` column when there is one, else from
    ``sent_at`` (the campaign's send time). "Not opened"/"not clicked" lists,
    aggregate statistics and abuse reports are skipped.
``klaviyo`` (event export)
    One row per event as Klaviyo's Get Events API returns it flattened
    (``datetime`` ISO 8601 or ``timestamp`` Unix seconds, the metric's
    ``name``, the profile's ``email``, ``event_properties``) or a metric CSV
    export. Columns: e-mail from ``Email`` / ``email`` / ``$email`` /
    ``Profile Email`` / ``profile.email``; metric from ``Metric`` /
    ``Metric Name`` / ``metric_name`` / ``metric.name`` / ``Event`` / ``Event Name``;
    time from ``Timestamp`` / ``datetime`` / ``Datetime`` / ``Event Date`` /
    ``Date`` (Unix seconds or milliseconds accepted); campaign from
    ``Campaign Name`` / ``campaign_name`` / ``$message`` / ``Campaign ID`` /
    ``campaign_id``. Metrics: ``Received Email`` -> sent + delivered,
    ``Bounced Email`` -> sent + bounced, ``Opened Email`` -> opened,
    ``Clicked Email`` -> clicked, ``Unsubscribed`` / ``Unsubscribed from Email
    Marketing`` / ``Unsubscribed from List`` -> unsubscribed. Any other metric
    (``Dropped Email``, ``Marked Email as Spam``, ``Placed Order``, SMS...) is
    skipped and counted, not reported as an error.
"""

from __future__ import annotations

import io as _io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.data.schema import EVENT_TYPES, EVENTS
from geo.data.tables import complete, read_csv_text, read_raw
from geo.data.validate import HEADER_ROWS, ValidationReport, validate_table
from geo.errors import DataError

LAYOUTS = ("generic", "mailchimp", "mailchimp_members", "klaviyo")
SKIP = "__skip__"
SendTime = str | datetime
"""A campaign's send time: ISO 8601 text or a datetime (a ``pandas.Timestamp`` is one)."""

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "generic": {"email": ("email",), "event": ("event",), "timestamp": ("timestamp",),
                "campaign_id": ("campaign_id",)},
    "mailchimp": {"email": ("email address", "email_address", "email"),
                  "event": ("action", "activity", "activity action"),
                  "timestamp": ("timestamp", "time", "activity timestamp"),
                  "campaign_id": ("campaign id", "campaign_id", "campaign")},
    "mailchimp_members": {"email": ("email address", "email_address", "email"),
                          "timestamp": ("timestamp", "time", "date"),
                          "campaign_id": ("campaign id", "campaign_id")},
    "klaviyo": {"email": ("email", "$email", "profile email", "profile.email", "person.$email",
                          "email address"),
                "event": ("metric", "metric name", "metric_name", "metric.name", "event",
                          "event name", "event_name"),
                "timestamp": ("timestamp", "datetime", "event date", "date", "time"),
                "campaign_id": ("campaign name", "campaign_name", "$message", "campaign id",
                                "campaign_id", "event_properties.campaign name")},
}

MAILCHIMP_ACTIONS = {"open": "opened", "opened": "opened", "click": "clicked", "clicked": "clicked",
                     "bounce": "bounced", "bounced": "bounced", "hard_bounce": "bounced",
                     "soft_bounce": "bounced", "sent": "sent", "delivered": "delivered",
                     "unsub": "unsubscribed", "unsubscribe": "unsubscribed",
                     "unsubscribed": "unsubscribed"}
KLAVIYO_METRICS = {"received email": ("sent", "delivered"), "bounced email": ("sent", "bounced"),
                   "opened email": ("opened",), "clicked email": ("clicked",),
                   "unsubscribed": ("unsubscribed",),
                   "unsubscribed from email marketing": ("unsubscribed",),
                   "unsubscribed from list": ("unsubscribed",)}


@dataclass
class ActivityImport:
    """What reading one activity export found.

    Attributes
    ----------
    layout
        The layout used (one of `LAYOUTS`).
    report
        Validation of the events (valid rows typed, bad rows listed).
    skipped
        Rows deliberately ignored (other metrics, "not opened" lists...) by value.
    """

    layout: str
    report: ValidationReport
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> pd.DataFrame:
        """The good rows as an events table (`geo.data.schema.EVENTS` columns)."""
        return complete(self.report.valid.drop(columns="_row"), EVENTS)

    def as_dict(self, max_errors: int | None = 20) -> dict[str, Any]:
        """Summary in the command line's JSON shape."""
        out = self.report.as_dict(max_errors)
        out.update(layout=self.layout, skipped=int(sum(self.skipped.values())),
                   events=int(len(self.report.valid)))
        return out


def _col(df: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    """The first column whose trimmed, lower-case header is one of ``names`` (None when none is)."""
    lower: dict[str, str] = {str(c).strip().lower(): c for c in df.columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def detect_layout(df: pd.DataFrame) -> str:
    """Guess an export's layout from its header and values.

    Raises
    ------
    DataError
        When no supported layout fits; the message lists the columns found.
    """
    cols = {str(c).strip().lower() for c in df.columns}
    metric = _col(df, ("metric", "metric name", "metric_name", "metric.name", "event name",
                       "event_name"))
    if metric is not None:
        return "klaviyo"
    if {"email", "event", "timestamp"} <= cols:
        values = df[_col(df, ("event",))].astype("string").str.strip().str.lower().dropna()
        ours = values.isin(EVENT_TYPES).mean() if len(values) else 1.0
        return "generic" if ours >= 0.5 else "klaviyo"
    if _col(df, ALIASES["mailchimp"]["email"]) and _col(df, ALIASES["mailchimp"]["event"]):
        return "mailchimp"
    if _col(df, ("email address", "email_address")):
        return "mailchimp_members"
    raise DataError("activity", "not a supported activity export (generic email,event,timestamp; "
                    "Mailchimp campaign report; Klaviyo event export); found columns: "
                    + ", ".join(map(str, df.columns)))


def event_from_name(name: str) -> str | None:
    """The event a Mailchimp report file holds, from its name (``None`` when it holds no event).

    Examples
    --------
    >>> event_from_name("opened_members.csv"), event_from_name("not_opened.csv")
    ('opened', None)
    """
    n = re.sub(r"[^a-z]+", " ", Path(name).stem.lower())
    if re.search(r"\b(not|un|non)\s?(opened|open|clicked|click)", n) or "unopened" in n:
        return None
    for key, event in (("bounce", "bounced"), ("unsub", "unsubscribed"), ("click", "clicked"),
                       ("open", "opened"), ("sent", "sent"), ("deliver", "delivered")):
        if key in n:
            return event
    return None


def _parse_unix(raw: pd.Series) -> pd.Series:
    """Turn Unix seconds (10 digits) or milliseconds (13 digits) into ISO text; leave the rest."""
    text = raw.astype("string").str.strip()
    secs = text.str.fullmatch(r"\d{9,10}(\.\d+)?").fillna(False)
    millis = text.str.fullmatch(r"\d{12,13}").fillna(False)
    out = text.copy()
    if secs.any():
        out[secs] = pd.to_datetime(text[secs].astype(float), unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
    if millis.any():
        out[millis] = pd.to_datetime(text[millis].astype("int64"), unit="ms").dt.strftime(
            "%Y-%m-%dT%H:%M:%S")
    return out


def _canonical(df: pd.DataFrame, layout: str, *, event: str | None, sent_at: SendTime | None,
               campaign_id: str | None, file: str) -> tuple[pd.DataFrame, pd.Series]:
    """Map a raw export 1:1 onto email/event/timestamp/campaign_id text columns."""
    names = ALIASES[layout]
    email = _col(df, names["email"])
    if email is None:
        raise DataError(file, f"no e-mail column for the {layout} layout; expected one of "
                              f"{', '.join(names['email'])}", column="email")
    out = pd.DataFrame({"email": df[email].astype("string")}, index=df.index)
    ts = _col(df, names["timestamp"])
    if ts is not None:
        out["timestamp"] = _parse_unix(df[ts])
    elif sent_at is not None:
        out["timestamp"] = pd.Series(str(pd.Timestamp(sent_at)), index=df.index, dtype="string")
    else:
        raise DataError(file, f"no time column for the {layout} layout; expected one of "
                              f"{', '.join(names['timestamp'])}, or give the campaign's send time "
                              "(sent_at)", column="timestamp")
    camp = _col(df, names["campaign_id"])
    out["campaign_id"] = (df[camp].astype("string") if camp is not None
                          else pd.Series(campaign_id, index=df.index, dtype="string"))
    if camp is not None and campaign_id is not None:
        out["campaign_id"] = out["campaign_id"].fillna(campaign_id)
    if layout == "mailchimp_members":
        ev = event or event_from_name(file)
        raw_event = pd.Series(ev or SKIP, index=df.index, dtype="string")
        source = pd.Series(Path(file).name, index=df.index, dtype="string")
    else:
        col = _col(df, names["event"])
        if col is None:
            raise DataError(file, f"no event column for the {layout} layout; expected one of "
                                  f"{', '.join(names['event'])}", column="event")
        values = df[col].astype("string").str.strip()
        key = values.str.lower()
        if layout == "mailchimp":
            raw_event = key.map(MAILCHIMP_ACTIONS).astype("string").fillna(values)
        elif layout == "klaviyo":
            first = {k: v[0] for k, v in KLAVIYO_METRICS.items()}
            raw_event = key.map(first).astype("string")
            raw_event = raw_event.mask(raw_event.isna() & key.notna() & (key != ""), SKIP)
            raw_event = raw_event.fillna(values)
        else:
            raw_event = values
        source = values
    out["event"] = raw_event
    return out[["email", "event", "timestamp", "campaign_id"]], source


def activity_to_events(df: pd.DataFrame, *, layout: str = "auto", event: str | None = None,
                       sent_at: SendTime | None = None, campaign_id: str | None = None,
                       file: str = "activity") -> ActivityImport:
    """Convert one provider export table into validated events.

    Parameters
    ----------
    df
        The export as read (strings).
    layout
        One of `LAYOUTS`, or ``"auto"`` to detect it (`detect_layout`).
    event
        For ``mailchimp_members``: the event every row records (else taken
        from ``file``'s name).
    sent_at
        For exports without a time column: the campaign's send time (ISO 8601
        text or a datetime, read as naive UTC like the export's times).
    campaign_id
        Campaign id to record when the export has none.
    file
        Name used in messages.
    """
    if layout == "auto":
        layout = detect_layout(df)
    if layout not in LAYOUTS:
        raise DataError(file, f"unknown activity layout {layout!r}; use one of auto, {', '.join(LAYOUTS)}")
    df = df.reset_index(drop=True)
    canon, source = _canonical(df, layout, event=event, sent_at=sent_at, campaign_id=campaign_id,
                               file=file)
    skip = canon["event"].eq(SKIP).fillna(False).to_numpy()
    skipped = (source[skip].astype("string").fillna("").value_counts().to_dict()
               if skip.any() else {})
    rows = np.arange(len(df)) + HEADER_ROWS + 1
    keep = canon[~skip].reset_index(drop=True)
    report = validate_table(keep, EVENTS, file)
    kept_rows = rows[~skip]
    if len(report.errors):
        report.errors["row"] = kept_rows[report.errors["row"].astype(int).to_numpy() - HEADER_ROWS - 1]
    report.valid["_row"] = kept_rows[report.valid["_row"].astype(int).to_numpy() - HEADER_ROWS - 1]
    report.rows = len(df)
    if layout == "klaviyo" and len(report.valid):
        report.valid = _expand_klaviyo(report.valid, source)
    return ActivityImport(layout=layout, report=report,
                          skipped={str(k): int(v) for k, v in skipped.items()})


def _expand_klaviyo(valid: pd.DataFrame, metric: pd.Series) -> pd.DataFrame:
    """Add the second event a Klaviyo metric implies (Received Email -> delivered too...)."""
    key = metric.astype("string").str.strip().str.lower()
    second = {k: v[1] for k, v in KLAVIYO_METRICS.items() if len(v) > 1}
    row_metric = key.iloc[valid["_row"].astype(int).to_numpy() - HEADER_ROWS - 1].to_numpy()
    extra_event = pd.Series(row_metric, index=valid.index).map(second)
    extra = valid[extra_event.notna()].copy()
    extra["event"] = extra_event[extra_event.notna()].astype(valid["event"].dtype)
    out = pd.concat([valid, extra]).sort_values("_row", kind="stable")
    return out.reset_index(drop=True)


def _merge(imports: list[ActivityImport], file: str) -> ActivityImport:
    valid = pd.concat([i.report.valid for i in imports], ignore_index=True)
    errors = pd.concat([i.report.errors.assign(reason=i.report.file + ": " + i.report.errors["reason"].astype(str))
                        for i in imports if len(i.report.errors)]
                       or [imports[0].report.errors], ignore_index=True)
    skipped: dict[str, int] = {}
    for i in imports:
        for k, v in i.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    report = ValidationReport(file=file, rows=sum(i.report.rows for i in imports), valid=valid,
                              errors=errors)
    layouts = sorted({i.layout for i in imports})
    return ActivityImport(layout="+".join(layouts), report=report, skipped=skipped)


def _read_table(source: str | Path | bytes, label: str) -> pd.DataFrame:
    """One activity table from a path or from bytes (CSV, Parquet, XLSX...), as text cells."""
    if isinstance(source, (str, Path)):
        return read_raw(source, name=label)
    from geo.data.readers import read_any

    df = read_any(bytes(source), name=label)
    return df.reset_index(drop=True)


def read_activity(source: str | Path | bytes, *, layout: str = "auto", event: str | None = None,
                  sent_at: SendTime | None = None, campaign_id: str | None = None,
                  name: str | None = None) -> ActivityImport:
    """Read an activity export: CSV, Parquet, or a Mailchimp campaign report ZIP.

    Parameters
    ----------
    source
        A file path, or the file's bytes (an upload); then ``name`` gives its
        file name, whose extension tells a ZIP from a table.
    layout, event, sent_at, campaign_id
        See `activity_to_events`.
    name
        Name used in messages (defaults to the file name, or ``"upload"``).

    In a ZIP every CSV is read on its own; files that record no event
    (aggregate statistics, "not opened" lists...) are skipped, and errors name
    ``archive.zip/member.csv``.
    """
    label = name or (Path(source).name if isinstance(source, (str, Path)) else "upload")
    if not label.lower().endswith(".zip"):
        return activity_to_events(_read_table(source, label), layout=layout, event=event,
                                  sent_at=sent_at, campaign_id=campaign_id, file=label)
    try:
        archive = zipfile.ZipFile(source if isinstance(source, (str, Path))
                                  else _io.BytesIO(bytes(source)))
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(label, f"not a readable ZIP archive ({exc})") from None
    imports, skipped = [], {}
    with archive:
        for info in archive.infolist():
            member = info.filename
            if info.is_dir() or not member.lower().endswith(".csv"):
                continue
            file = f"{label}/{member}"
            df = read_csv_text(archive.read(info).decode("utf-8-sig", errors="replace"), file)
            try:
                kind = layout if layout != "auto" else detect_layout(df)
            except DataError:  # aggregate statistics and other non-activity sheets
                skipped[Path(member).name] = len(df)
                continue
            if kind == "mailchimp_members" and (event or event_from_name(member)) is None:
                skipped[Path(member).name] = len(df)
                continue
            imports.append(activity_to_events(df, layout=kind, event=event, sent_at=sent_at,
                                              campaign_id=campaign_id, file=file))
    if not imports:
        raise DataError(label, "the archive holds no activity file (sent, opened, clicked, "
                               "bounced or unsubscribed CSV)")
    merged = _merge(imports, label)
    for k, v in skipped.items():
        merged.skipped[k] = merged.skipped.get(k, 0) + v
    return merged


def load_activity(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read an activity export strictly: any bad row raises `geo.errors.DataError`.

    Keyword arguments are those of `read_activity`.
    """
    imported = read_activity(path, **kwargs)
    imported.report.raise_first()
    return imported.events
