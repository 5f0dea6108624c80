"""Build a campaign's target list with merge fields and codes, and keep campaigns in the workspace.

The target list is one row per targeted customer (treatment and holdout,
from `geo.targeting.reach.compute_reach`) with the merge fields a template needs:
``first_name, store_name, store_address, travel_min, mode, coupon_code,
offer_start, offer_end, tags``. Holdout rows are listed and marked but get
no coupon code and are left out of every provider file (`treatment_only`).
Its downloads (CSV, XLSX, the providers' import files) are written by
`geo.export.downloads`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, TypeAlias

import pandas as pd

from geo import audit
from geo.access import Actor, actor_or_local
from geo.errors import DataError, GeoError, WorkspaceError
from geo.keys import code_keys
from geo.modes import Mode
from geo.targeting import codes as _codes
from geo.workspace import Workspace, check_name

TARGET_COLUMNS = ("customer_id", "email", "first_name", "store_id", "store_name", "store_address",
                  "travel_min", "crow_km", "band", "mode", "segment", "coupon_code", "group",
                  "offer_start", "offer_end", "tags")
CHECK_ALGORITHM = f"position-weighted sum mod {_codes.N} over {_codes.ALPHABET}"
DateLike: TypeAlias = str | date | pd.Timestamp | None
"""A bound of an offer window as a user or a file gives it: text, a date or datetime, or missing."""


@dataclass(frozen=True)
class OfferWindow:
    """When a campaign's coupon codes are valid in store (naive datetimes, as the till records them).

    Parameters
    ----------
    start, end
        First and last moment of the offer; ``end`` must come after ``start``.
    """

    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def parse(cls, start: DateLike, end: DateLike) -> "OfferWindow":
        """Build a window from text or datetimes; a date-only end (``2026-10-03``) covers that day.

        Raises
        ------
        DataError
            When a bound is missing or unreadable, or the end is not after the start.
        """
        try:
            s, e = pd.Timestamp(start), pd.Timestamp(end)
        except (ValueError, TypeError) as exc:
            raise DataError("offer window", f"cannot read {start!r} / {end!r} as dates ({exc})") \
                from None
        if pd.isna(s) or pd.isna(e):
            raise DataError("offer window", "both a start and an end are needed")
        if isinstance(end, str) and len(end.strip()) <= 10:
            e = e + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
        if e <= s:
            raise DataError("offer window", f"the end {e:%Y-%m-%d %H:%M} is not after the start "
                                            f"{s:%Y-%m-%d %H:%M}")
        return cls(s.tz_localize(None) if s.tzinfo else s, e.tz_localize(None) if e.tzinfo else e)


def _tags(targets: pd.DataFrame, mode: str) -> pd.Series:
    unit = Mode.parse(mode).unit
    store = "store:" + targets["store_id"].astype("string")
    band = "band:" + targets["band"].astype("string") + unit
    seg = ("segment:" + targets["segment"].astype("string")).fillna("")
    tags = store + "," + band + ("," + seg).where(seg != "", "")
    return tags.astype("string")


def build_target_list(reach_targets: pd.DataFrame, stores: pd.DataFrame, *, mode: str,
                      offer_start: DateLike, offer_end: DateLike, existing_codes: Iterable[str] = (),
                      code_length: int = _codes.DEFAULT_LENGTH,
                      coupon_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Add store details, merge fields and one fresh coupon code per treatment recipient.

    Parameters
    ----------
    reach_targets
        ``Reach.targets`` from `geo.targeting.reach.compute_reach`.
    stores
        Stores frame (``store_id, name[, address]``).
    mode
        ``drive``, ``walk``, ``bike`` or ``radius`` (a merge field and a tag).
    offer_start, offer_end
        The offer window (see `OfferWindow`); both travel with every row.
    existing_codes
        Codes already issued (e.g. `geo.targeting.codes.existing_codes(workspace)`); new
        codes never repeat them.
    code_length
        Random characters per code (one check character is added).
    coupon_codes
        Codes already drawn for the treatment rows, in row order (for a list
        built in pieces, `geo.scale.reach`, whose codes are drawn once for all
        pieces); None draws fresh ones here.

    Returns
    -------
    DataFrame with `TARGET_COLUMNS`: ``travel_min`` in minutes (exact;
    exports round it to whole minutes), ``crow_km`` in km, ``coupon_code``
    NA for holdout rows.
    """
    try:
        mode = Mode.parse(mode).value
    except ValueError as exc:
        raise GeoError(str(exc)) from None
    window = OfferWindow.parse(offer_start, offer_end)
    t = reach_targets.reset_index(drop=True)
    info = stores.assign(store_id=stores["store_id"].astype("string")).set_index("store_id")
    sid = t["store_id"].astype("string")
    treat = (t["group"].astype("string") == "treatment").to_numpy(dtype=bool)
    code = pd.Series(pd.NA, index=t.index, dtype="string")
    if coupon_codes is None:
        coupon_codes = _codes.generate_codes(int(treat.sum()), existing=existing_codes, length=code_length)
    elif len(coupon_codes) != int(treat.sum()):
        raise ValueError(f"{len(coupon_codes)} coupon codes given for {int(treat.sum())} treatment rows")
    code[treat] = list(coupon_codes)
    address = info["address"] if "address" in info else pd.Series(pd.NA, index=info.index)
    out = pd.DataFrame({
        "customer_id": t["customer_id"].astype("string"),
        "email": t["email"].astype("string").str.strip(),
        "first_name": t["first_name"].astype("string"),
        "store_id": sid,
        "store_name": pd.Series(info["name"].reindex(sid).to_numpy(), dtype="string"),
        "store_address": pd.Series(address.reindex(sid).to_numpy(), dtype="string"),
        "travel_min": t["travel_min"].astype(float),
        "crow_km": t["crow_km"].astype(float),
        "band": t["band"],
        "mode": pd.Series(mode, index=t.index, dtype="string"),
        "segment": t["segment"].astype("string"),
        "coupon_code": code,
        "group": t["group"],
        "offer_start": pd.Series(window.start, index=t.index),
        "offer_end": pd.Series(window.end, index=t.index),
    })
    out["tags"] = _tags(out, mode)
    return out[list(TARGET_COLUMNS)]


def treatment_only(targets: pd.DataFrame) -> pd.DataFrame:
    """The rows that may go to an e-mail provider: the treatment group, never the holdout."""
    return targets[(targets["group"].astype("string") == "treatment").to_numpy(dtype=bool)]


# --- campaigns in the workspace ---------------------------------------------------------------

@dataclass
class Campaign:
    """A saved campaign: its metadata (parameters, offer window, counts) and its target list."""

    name: str
    meta: dict[str, Any]
    targets: pd.DataFrame

    @property
    def window(self) -> OfferWindow:
        """The offer window."""
        return OfferWindow.parse(self.meta["offer_start"], self.meta["offer_end"])


def save_campaign(workspace: Workspace, name: str, targets: pd.DataFrame,
                  params: dict[str, Any] | None = None, *, overwrite: bool = False,
                  actor: Actor | None = None) -> Campaign:
    """Save a campaign (name, parameters, targets with holdout and codes) to the workspace.

    Parameters
    ----------
    workspace
        Where to save (``campaigns/NAME/campaign.json`` + ``targets.parquet``).
    name
        Campaign name (letters, digits, spaces, ``.``, ``_``, ``-``).
    targets
        The list from `build_target_list`.
    params
        Parameters to keep with it (mode, bands, stores, filters, holdout, seed...).
    overwrite
        Replace a campaign of the same name instead of refusing.
    actor
        Who saves (`geo.access.require` ``save_campaign``: marketer or admin;
        None is the local OS user); the save is recorded in the audit trail.

    Raises
    ------
    WorkspaceError
        When the name is taken (and not ``overwrite``), or a coupon code is
        already used by another campaign of the workspace.
    """
    actor_or_local(actor).require("save_campaign")
    name = check_name(name)
    if name in workspace.list_campaigns() and not overwrite:
        raise WorkspaceError(f"campaign {name!r} already exists in workspace "
                             f"{workspace.name!r}; choose another name or overwrite it")
    others: set[str] = set()
    for other in workspace.list_campaigns():
        if other != name:
            prev = workspace.load_campaign_file(other, "targets")
            if prev is not None and "coupon_code" in prev:
                others.update(code_keys(prev["coupon_code"]).dropna().tolist())
    mine = code_keys(targets["coupon_code"]).dropna()
    clash = mine[mine.isin(others)]
    if len(clash) or mine.duplicated().any():
        dup = clash.iloc[0] if len(clash) else mine[mine.duplicated()].iloc[0]
        raise WorkspaceError(f"campaign {name!r}: coupon code {dup} is already in use "
                             f"({len(clash)} code(s) clash with other campaigns); draw new codes")
    window = OfferWindow.parse(targets["offer_start"].iloc[0] if len(targets) else
                               (params or {}).get("offer_start"),
                               targets["offer_end"].iloc[0] if len(targets) else
                               (params or {}).get("offer_end"))
    group = targets["group"].astype("string")
    meta = {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "offer_start": window.start.isoformat(),
        "offer_end": window.end.isoformat(),
        "params": dict(params or {}),
        "counts": {"targets": int(len(targets)),
                   "treatment": int((group == "treatment").sum()),
                   "holdout": int((group == "holdout").sum())},
        "codes": {"length": int(mine.str.len().max()) if len(mine) else None,
                  "check": CHECK_ALGORITHM},
    }
    stored = targets.copy()
    for c in ("band", "group"):
        if c in stored:
            stored[c] = stored[c].astype("string")
    workspace.save_campaign_file(name, "targets", stored)
    workspace.save_campaign_meta(name, meta)
    audit.record(workspace, "save_campaign", len(targets), actor=actor, campaign=name,
                 **meta["counts"])
    return Campaign(name=name, meta=meta, targets=stored)


def load_campaign(workspace: Workspace, name: str) -> Campaign:
    """Load a saved campaign (metadata and target list)."""
    meta = workspace.campaign_meta(name)
    targets = workspace.load_campaign_file(name, "targets")
    if targets is None:
        raise WorkspaceError(f"campaign {name!r} in workspace {workspace.name!r} has no "
                             f"targets file ({workspace.campaign_path(name) / 'targets.parquet'})")
    return Campaign(name=check_name(name), meta=meta, targets=targets)
