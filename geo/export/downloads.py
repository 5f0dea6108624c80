"""Downloads of a target list: the full list (CSV or XLSX) and the providers' import files.

The full list carries every row, holdout marked, for the marketer's own use in
a spreadsheet, so its cells are neutralised against formulas. The Mailchimp and
Klaviyo layouts (`geo.export.csv_layouts`) carry the treatment group only and
keep every cell verbatim, as the provider reads it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from geo import audit
from geo.access import Actor, actor_or_local
from geo.errors import GeoError
from geo.export.csv_layouts import (
    csv_text,
    manual_import_bytes,
    manual_import_frame,
    neutralise_formulas,
)
from geo.targeting.targets import TARGET_COLUMNS
from geo.workspace import Workspace

CLI_COLUMNS = ("customer_id", "email", "first_name", "store_id", "store_name", "travel_min",
               "mode", "coupon_code", "group")
DATETIME_FORMAT = "%Y-%m-%d %H:%M"
PROVIDER_LAYOUTS = ("mailchimp", "klaviyo")
LAYOUTS = ("targets", *PROVIDER_LAYOUTS)
FORMATS = ("csv", "xlsx")


def _iso(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts).dt.strftime(DATETIME_FORMAT).astype("string")


def _whole_minutes(minutes: pd.Series) -> pd.Series:
    return pd.Series(np.round(minutes.to_numpy(dtype=float, na_value=np.nan)),
                     index=minutes.index).astype("Int64")


def targets_layout(targets: pd.DataFrame) -> pd.DataFrame:
    """The full target list for download: every row (holdout marked), minutes rounded.

    Columns follow `CLI_COLUMNS` first, then the other merge fields; the offer
    window is written as ``YYYY-MM-DD HH:MM``.
    """
    out = targets.copy()
    out["travel_min"] = _whole_minutes(out["travel_min"])
    out["crow_km"] = out["crow_km"].round(2)
    for c in ("offer_start", "offer_end"):
        out[c] = _iso(out[c])
    rest = [c for c in TARGET_COLUMNS if c not in CLI_COLUMNS]
    return out[list(CLI_COLUMNS) + rest]


def to_csv_bytes(df: pd.DataFrame, *, bom: bool = False) -> bytes:
    """CSV bytes in UTF-8 (with a byte-order mark when ``bom``, which Excel needs), neutralised."""
    return csv_text(df).encode("utf-8-sig" if bom else "utf-8")


def to_xlsx_bytes(df: pd.DataFrame, *, sheet_name: str = "targets") -> bytes:
    """XLSX bytes of one sheet, neutralised.

    Text is written as string cells, never turned into formulas, links or
    numbers, and text columns carry Excel's text format (``@``), so a value
    typed into them later stays text too.
    """
    buf = io.BytesIO()
    options = {"strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False}
    safe = neutralise_formulas(df)
    with pd.ExcelWriter(buf, engine="xlsxwriter", engine_kwargs={"options": options}) as xl:
        safe.to_excel(xl, sheet_name=sheet_name, index=False)
        text = xl.book.add_format({"num_format": "@"})
        for i, col in enumerate(safe.columns):
            if not pd.api.types.is_numeric_dtype(safe[col]):
                xl.sheets[sheet_name].set_column(i, i, None, text)
    return buf.getvalue()


def download(targets: pd.DataFrame, *, layout: str = "targets", fmt: str = "csv",
             bom: bool = False, actor: Actor | None = None,
             workspace: Workspace | None = None) -> bytes:
    """Bytes of a download of the target list.

    Parameters
    ----------
    targets
        The list from `build_target_list`.
    layout
        ``targets`` (every row, holdout marked), ``mailchimp`` or ``klaviyo``
        (the provider's manual-import file, `geo.export.csv_layouts`: treatment
        members only, never the holdout; the travel column is ``Drive/Walk/Bike
        Minutes`` or ``Distance km`` in radius mode; as CSV without ``bom`` its
        cells are verbatim, for the provider's importer).
    fmt
        ``csv`` or ``xlsx``.
    bom
        For CSV: the CSV for Excel, starting with a UTF-8 byte-order mark so Excel
        reads accents right (and neutralised, also in a provider layout).
    actor, workspace
        Who downloads (`geo.access.require` ``download``: marketer or admin;
        None is the local OS user) and the workspace whose audit trail records it
        (None records nothing).
    """
    actor_or_local(actor).require("download")
    if layout not in LAYOUTS:
        raise GeoError(f"unknown download layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    if fmt not in FORMATS:
        raise GeoError(f"unknown download format {fmt!r}; use one of {', '.join(FORMATS)}")
    if workspace is not None:
        rows = len(targets) if layout == "targets" else len(manual_import_frame(targets, layout))
        audit.record(workspace, "download", rows, actor=actor, layout=layout, format=fmt)
    if layout in PROVIDER_LAYOUTS and fmt == "csv":
        return manual_import_bytes(targets, layout, bom=bom)
    frame = targets_layout(targets) if layout == "targets" else manual_import_frame(targets,
                                                                                      layout)
    return to_csv_bytes(frame, bom=bom) if fmt == "csv" else to_xlsx_bytes(frame,
                                                                            sheet_name=layout)


def download_name(campaign: str, *, layout: str = "targets", fmt: str = "csv") -> str:
    """A file name for a download, e.g. ``spring-offer-mailchimp.csv``."""
    stem = "-".join(str(campaign).strip().lower().split()) or "targets"
    return f"{stem}-{layout}.{fmt}" if layout != "targets" else f"{stem}.{fmt}"


def write_download(targets: pd.DataFrame, path: str | Path, *, layout: str = "targets",
                   bom: bool = False, actor: Actor | None = None,
                   workspace: Workspace | None = None) -> Path:
    """Write a download to ``path``; the format follows the extension (``.csv`` / ``.xlsx``)."""
    path = Path(path)
    fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(download(targets, layout=layout, fmt=fmt, bom=bom, actor=actor,
                              workspace=workspace))
    return path
