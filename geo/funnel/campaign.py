"""Run the funnel on a campaign saved in a workspace, and store uploaded activity and redemptions in it.

A saved campaign (`geo.targeting.targets.save_campaign`) keeps its target list,
provider events and till redemptions as Parquet files, and its offer window
(``offer_start``/``offer_end``), store-wide codes (``params.store_wide_codes``),
travel-time bands (``params.bands``, minutes) and send time
(``params.sent_at``) in ``campaign.json``. `analyse_campaign` reads them all and
calls `geo.funnel.funnel.analyse_funnel`; the funnel page and the demo's end-to-end
test use it, so both show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo.data.columns import suggest_mapping
from geo.data.readers import Source, iter_tables
from geo.data.schema import EVENTS, REDEMPTIONS, Schema
from geo.data.tables import complete
from geo.errors import DataError, WorkspaceError
from geo.funnel.attribution import Window
from geo.funnel.funnel import FunnelResult, analyse_funnel
from geo.funnel.journeys import DEFAULT_BANDS
from geo.modes import Mode
from geo.workspace import Workspace

CAMPAIGN_FILES = ("targets", "events", "redemptions")
UPLOAD_SCHEMAS: dict[str, Schema] = {"events": EVENTS, "redemptions": REDEMPTIONS}


@dataclass(frozen=True)
class SavedCampaign:
    """What the funnel needs from a campaign's ``campaign.json``.

    Attributes
    ----------
    name
        The campaign's name in the workspace.
    campaign_id
        Id recorded on uploaded events without one (``params.campaign_id``,
        else the name).
    window
        Offer window (naive UTC), or None when the campaign has none.
    store_wide_codes
        Generic codes anyone may use (``params.store_wide_codes``).
    bands
        Band edges (``params.bands``) in ``mode``'s unit: minutes, or km for radius.
    sent_at
        Send time (ISO text), used for Mailchimp recipient lists without a time.
    mode
        The catchment mode the campaign was built with (``params.mode``).
    cost_per_email, currency
        The cost per e-mail and currency it was planned with (``params``), or
        None when it does not say (older campaigns).
    """

    name: str
    campaign_id: str
    window: Window | None
    store_wide_codes: tuple[str, ...]
    bands: tuple[float, ...]
    sent_at: str | None
    mode: Mode = Mode.WALK
    cost_per_email: float | None = None
    currency: str | None = None


def saved_campaign(workspace: Workspace, name: str) -> SavedCampaign:
    """Read a saved campaign's window, codes, bands, send time, mode, cost and currency.

    Raises
    ------
    WorkspaceError
        The campaign does not exist.
    DataError
        Its window is not a pair of dates, or ends before it starts.
    """
    meta = workspace.campaign_meta(name)
    params = dict(meta.get("params") or {})
    start, end = meta.get("offer_start") or params.get("offer_start"), \
        meta.get("offer_end") or params.get("offer_end")
    window = Window.of(start, end) if start and end else None
    codes = params.get("store_wide_codes") or ()
    if isinstance(codes, str):
        codes = [c for c in codes.split(",") if c.strip()]
    bands = tuple(float(b) for b in (params.get("bands") or DEFAULT_BANDS))
    cost = params.get("cost_per_email")
    return SavedCampaign(name=name, campaign_id=str(params.get("campaign_id") or name),
                         window=window, store_wide_codes=tuple(str(c) for c in codes),
                         bands=bands, sent_at=params.get("sent_at"),
                         mode=Mode.parse(params.get("mode") or Mode.WALK),
                         cost_per_email=None if cost is None else float(cost),
                         currency=params.get("currency"))


def update_saved_params(workspace: Workspace, name: str, **values: object) -> dict[str, Any]:
    """Change some of a saved campaign's parameters (e.g. its cost per e-mail); return them all.

    Raises
    ------
    WorkspaceError
        The campaign does not exist.
    """
    meta = workspace.campaign_meta(name)
    params: dict[str, Any] = {**(meta.get("params") or {}), **values}
    meta["params"] = params
    workspace.save_campaign_meta(name, meta)
    return params


def campaign_versions(workspace: Workspace, name: str) -> tuple[str, ...]:
    """Strings that change whenever the campaign's JSON or one of its tables is rewritten (cache keys)."""
    folder = workspace.campaign_path(name)
    out = []
    for file in ("campaign.json", *(f"{k}.parquet" for k in CAMPAIGN_FILES)):
        path = folder / file
        if path.exists():
            st = path.stat()
            out.append(f"{file}:{st.st_mtime_ns}-{st.st_size}")
        else:
            out.append(f"{file}:none")
    return tuple(out)


def analyse_campaign(workspace: Workspace, name: str, *, cost_per_email: float = 0.0,
                     bin_min: float = 1.0, accept_typos: bool = False) -> FunnelResult:
    """The funnel of a saved campaign: its targets, events and redemptions with its own settings.

    Parameters
    ----------
    workspace
        Where the campaign is saved.
    name
        The campaign's name.
    cost_per_email
        Cost of one sent e-mail, in the revenue's currency (for the cost per
        incremental visit).
    bin_min
        Bin width of the distance-decay curve, minutes.
    accept_typos
        Count likely typos of issued codes as those codes (see
        `geo.funnel.attribution.likely_typos`); default False.

    Raises
    ------
    WorkspaceError
        The campaign does not exist or has no target list.
    """
    settings = saved_campaign(workspace, name)
    targets = workspace.load_campaign_file(name, "targets")
    if targets is None or targets.empty:
        raise WorkspaceError(f"campaign {name!r} of workspace {workspace.name!r} has no target list")
    return analyse_funnel(targets, workspace.load_campaign_file(name, "events"),
                          workspace.load_campaign_file(name, "redemptions"),
                          window=settings.window, bands=settings.bands,
                          store_wide_codes=settings.store_wide_codes,
                          cost_per_email=cost_per_email, bin_min=bin_min,
                          accept_typos=accept_typos)


def with_store_names(by_store: pd.DataFrame, journeys: pd.DataFrame) -> pd.DataFrame:
    """Add a ``store_name`` column (``"name (id)"``) to a by-store breakdown, from the target list.

    Stores whose name the target list does not give keep their id as name.
    """
    out = by_store.copy()
    ids = out.index.astype("string")
    if "store_name" in journeys:
        names = (journeys[["store_id", "store_name"]].dropna().astype("string")
                 .drop_duplicates("store_id").set_index("store_id")["store_name"])
        named = pd.Series(ids, index=out.index).map(names)
    else:
        named = pd.Series(pd.NA, index=out.index, dtype="string")
    out["store_name"] = (named + " (" + pd.Series(ids, index=out.index) + ")").fillna(
        pd.Series(ids, index=out.index)).to_numpy()
    return out


def upload_columns(source: Source, *, name: str | None = None) -> list[str]:
    """The column headers of an uploaded table (reads only its first rows)."""
    first = next(iter_tables(source, name=name, chunksize=50), None)
    if first is None:
        raise DataError(name or "upload", "the file holds no table")
    return [str(c) for c in first.columns]


def suggested_redemption_mapping(columns: list[str]) -> dict[str, str]:
    """``{canonical: file column}`` proposed for a till export (see `geo.data.columns.suggest_mapping`)."""
    return suggest_mapping(columns, REDEMPTIONS)


def store_campaign_rows(workspace: Workspace, name: str, kind: str, rows: pd.DataFrame, *,
                        replace: bool = True) -> int:
    """Store validated events or redemptions in a saved campaign.

    Parameters
    ----------
    workspace, name
        The campaign (it must exist).
    kind
        ``"events"`` or ``"redemptions"``.
    rows
        Good rows of a validation report (``report.valid``; a ``_row`` column is dropped).
    replace
        Replace the campaign's table of that kind; False appends to it and
        drops rows that are exact repeats (an export uploaded twice).

    Returns
    -------
    int
        Rows the campaign's table holds afterwards.
    """
    if kind not in UPLOAD_SCHEMAS:
        raise DataError(kind, f"only {' and '.join(UPLOAD_SCHEMAS)} can be stored in a campaign")
    workspace.campaign_meta(name)  # raises WorkspaceError when it does not exist
    schema = UPLOAD_SCHEMAS[kind]
    table = complete(rows.drop(columns="_row", errors="ignore"), schema)[schema.names]
    if not replace:
        old = workspace.load_campaign_file(name, kind)
        if old is not None and len(old):
            old = complete(old, schema)[schema.names].astype(table.dtypes.to_dict(),
                                                           errors="ignore")
            table = pd.concat([old, table], ignore_index=True).drop_duplicates(ignore_index=True)
    workspace.save_campaign_file(name, kind, table)
    return int(len(table))

