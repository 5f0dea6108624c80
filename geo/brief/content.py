"""A campaign brief for store managers: what the campaign is, per store, and how to take a code at the till.

`campaign_brief` gathers everything from a saved campaign: the offer window,
the code rules, per store the treatment (who got a code) and the holdout (who
did not), the radius that holds the store's targets, and, where past
campaigns give a history (`geo.targeting.forecast`), the expected
redemptions in all and per offer day. `map_shapes` projects stores, targets
and radii onto a page, so the PDF and the HTML (`geo.brief.render`)
draw the same static map from the geometry alone, server-side, with no tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geo.ads.pins import covering_pins
from geo.keys import code_key
from geo.modes import Mode
from geo.targeting.forecast import forecast
from geo.targeting.targets import load_campaign
from geo.workspace import Workspace

MAX_POINTS = 600
"""Targets drawn per store at most (a seeded sample beyond: the PDF stays small)."""
STORE_COLUMNS = ["store_id", "name", "address", "lat", "lon", "treatment", "holdout",
                 "radius_km", "expected", "expected_low", "expected_high", "expected_per_day"]
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (0, 0, 128), (188, 189, 34), (23, 190, 207)]
"""Store colours (none grey: grey dots are the holdout)."""


@dataclass
class CampaignBrief:
    """What a store manager needs to know about one saved campaign.

    Attributes
    ----------
    name, workspace
        The campaign and its workspace.
    offer_start, offer_end
        The offer window (naive timestamps, as the till records them).
    days
        Offer days (calendar days touched by the window).
    mode, limit, unit
        Catchment mode and its outer limit (minutes, or km in radius mode).
    code_length
        Characters of a code, check character included (None without codes).
    check
        The check-character rule.
    store_wide_codes
        Generic codes anyone may use at the till.
    stores
        One row per store (`STORE_COLUMNS`); ``expected*`` are NaN without a
        forecast, ``radius_km`` is the smallest circle holding all its targets.
    points
        Targets drawn on the map: ``lat, lon, store_id, group``.
    forecast_message
        What the expected redemptions are based on, or why there are none.
    """

    name: str
    workspace: str
    offer_start: pd.Timestamp
    offer_end: pd.Timestamp
    days: int
    mode: str
    limit: float | None
    unit: str
    code_length: int | None
    check: str
    store_wide_codes: tuple[str, ...]
    stores: pd.DataFrame
    points: pd.DataFrame
    forecast_message: str
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def has_forecast(self) -> bool:
        """True when expected redemptions exist for at least one store."""
        return bool(self.stores["expected"].notna().any())

    def till_steps(self) -> list[str]:
        """How to key a code at the till, step by step."""
        length = f"{self.code_length} characters" if self.code_length else "the printed characters"
        steps = [
            f"Ask for the code from the e-mail ({length}). Type it as shown: capitals or not, "
            "spaces and dashes do not matter.",
            "The last character is a check character: a mistyped code is refused by the check, "
            "so ask the customer to read it again rather than guessing.",
            f"Codes are valid from {self.offer_start:%a %d %b %Y %H:%M} to "
            f"{self.offer_end:%a %d %b %Y %H:%M}; each code works once.",
            "Record the store, the time and the amount with the redemption, and the loyalty card "
            "when the customer shows one.",
        ]
        if self.store_wide_codes:
            steps.append("Customers without a personal code may use the store-wide code "
                          + ", ".join(self.store_wide_codes) + " (record it the same way).")
        return steps


def _offer_days(start: pd.Timestamp, end: pd.Timestamp) -> int:
    return int((end.normalize() - start.normalize()).days) + 1


def with_locations(targets: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """Targets with ``lat, lon`` from the customers table (by customer id)."""
    if {"lat", "lon"} <= set(targets.columns):
        return targets
    out = targets.copy()
    if customers is None or not {"customer_id", "lat", "lon"} <= set(customers.columns):
        out["lat"], out["lon"] = np.nan, np.nan
        return out
    pos = customers.assign(customer_id=customers["customer_id"].astype("string")) \
        .drop_duplicates("customer_id").set_index("customer_id")
    ids = out["customer_id"].astype("string")
    out["lat"] = ids.map(pos["lat"]).astype(float)
    out["lon"] = ids.map(pos["lon"]).astype(float)
    return out


def _store_forecast(workspace: Workspace, treatment: pd.DataFrame, bands: list[float],
                    mode: str) -> tuple[pd.DataFrame, str]:
    """Expected redemptions per store (total, low, high) and the forecast's message."""
    rows, message = [], ""
    for sid, part in treatment.groupby(treatment["store_id"].astype("string")):
        per_band = part.groupby(part["band"].astype("string")).size()
        f = forecast(workspace, per_band, bands, mode=mode)
        message = f.message
        t = f.totals
        rows.append({"store_id": str(sid), "expected": t.redemptions,
                     "expected_low": t.redemptions_low, "expected_high": t.redemptions_high})
    return pd.DataFrame(rows, columns=["store_id", "expected", "expected_low", "expected_high"]), \
        message


def campaign_brief(workspace: Workspace, name: str) -> CampaignBrief:
    """Gather a saved campaign's brief (see the module notes).

    Raises
    ------
    WorkspaceError
        The campaign does not exist or has no target list.
    """
    campaign = load_campaign(workspace, name)
    meta, params = campaign.meta, dict(campaign.meta.get("params") or {})
    window = campaign.window
    targets = with_locations(campaign.targets, workspace.load_table("customers"))
    stores = workspace.load_table("stores")
    group = targets["group"].astype("string")
    sid = targets["store_id"].astype("string")
    mode = str(params.get("mode") or (targets["mode"].dropna().iloc[0] if "mode" in targets
                                      and targets["mode"].notna().any() else Mode.WALK.value))
    bands = [float(b) for b in params.get("bands") or []]
    ids = sorted(sid.dropna().unique().tolist())
    info = pd.DataFrame({"store_id": ids})
    if stores is not None:
        s = stores.assign(store_id=stores["store_id"].astype("string"))
        info = info.merge(s[[c for c in ("store_id", "name", "address", "lat", "lon") if c in s]],
                          on="store_id", how="left")
    for col in ("name", "address"):
        if col not in info:
            info[col] = pd.NA
    info["name"] = info["name"].fillna(info["store_id"])
    info["treatment"] = info["store_id"].map(sid[group == "treatment"].value_counts()).fillna(0) \
        .astype(int)
    info["holdout"] = info["store_id"].map(sid[group == "holdout"].value_counts()).fillna(0) \
        .astype(int)
    located = targets[targets["lat"].notna() & targets["lon"].notna()]
    info["radius_km"] = np.nan
    if {"lat", "lon"} <= set(info.columns) and len(located):
        pins = covering_pins(info.dropna(subset=["lat", "lon"]), located, located)
        wide = pins[pins["pin"] == "catchment"].set_index("store_id")["radius_km"]
        info["radius_km"] = info["store_id"].map(wide)
    message = "No travel-time bands saved with this campaign: no expected redemptions."
    info[["expected", "expected_low", "expected_high"]] = np.nan
    treatment = targets[group == "treatment"]
    if bands and "band" in targets and len(treatment):
        exp, message = _store_forecast(workspace, treatment, bands, mode)
        info = info.drop(columns=["expected", "expected_low", "expected_high"]).merge(
            exp, on="store_id", how="left")
    days = _offer_days(window.start, window.end)
    info["expected_per_day"] = info["expected"] / days
    for col in ("lat", "lon"):
        if col not in info:
            info[col] = np.nan
    # a seeded sample of at most MAX_POINTS targets per store
    rank = pd.Series(np.random.default_rng(0).random(len(located)), index=located.index) \
        .groupby(located["store_id"].astype("string").to_numpy()).rank(method="first")
    sample = located[(rank <= MAX_POINTS).to_numpy(bool)]
    codes = targets["coupon_code"].dropna() if "coupon_code" in targets else pd.Series([])
    keyed = [code_key(c) for c in codes]
    length = max((len(k) for k in keyed if k), default=None)
    wide_codes = params.get("store_wide_codes") or ()
    if isinstance(wide_codes, str):
        wide_codes = [c.strip() for c in wide_codes.split(",") if c.strip()]
    return CampaignBrief(
        name=name, workspace=workspace.name, offer_start=window.start, offer_end=window.end,
        days=days, mode=Mode.parse(mode).value, limit=max(bands) if bands else None,
        unit=Mode.parse(mode).unit, code_length=length,
        check=str((meta.get("codes") or {}).get("check") or ""),
        store_wide_codes=tuple(str(c) for c in wide_codes), stores=info[STORE_COLUMNS],
        points=sample[["lat", "lon", "store_id", "group"]].reset_index(drop=True),
        forecast_message=message,
        totals={"treatment": int((group == "treatment").sum()),
                "holdout": int((group == "holdout").sum())})


@dataclass(frozen=True)
class MapShapes:
    """The static map in page units (origin top-left, y down): what both renderers draw.

    Attributes
    ----------
    width, height
        The map's size in page units.
    points
        ``x, y, color`` per target (treatment filled; holdout grey).
    circles
        ``x, y, r, color, store_id`` per store: the radius holding its targets.
    stores
        ``x, y, label, color`` per store.
    scale_km, scale_len
        A round distance and its length on the page, for the scale bar.
    """

    width: float
    height: float
    points: list[tuple[float, float, tuple[int, int, int]]]
    circles: list[tuple[float, float, float, tuple[int, int, int]]]
    stores: list[tuple[float, float, str, tuple[int, int, int]]]
    scale_km: float
    scale_len: float


def store_colors(brief: CampaignBrief) -> dict[str, tuple[int, int, int]]:
    """One colour per store, in store-id order."""
    return {str(s): PALETTE[i % len(PALETTE)] for i, s in enumerate(brief.stores["store_id"])}


def map_shapes(brief: CampaignBrief, width: float, height: float, *, margin: float = 4.0,
               store_id: str | None = None) -> MapShapes:
    """Project stores, targets and radii onto a ``width`` x ``height`` box (equirectangular, km-true).

    The projection scales longitude by the cosine of the mean latitude, so
    circles stay round and the scale bar is right to within a fraction of a
    percent over a city. With ``store_id``, only that store and its targets
    (its own map).
    """
    st = brief.stores.dropna(subset=["lat", "lon"])
    pts = brief.points
    if store_id is not None:
        st = st[st["store_id"].astype(str) == str(store_id)]
        pts = pts[pts["store_id"].astype(str) == str(store_id)]
    lat = np.concatenate([st["lat"].to_numpy(float), pts["lat"].to_numpy(float)])
    lon = np.concatenate([st["lon"].to_numpy(float), pts["lon"].to_numpy(float)])
    if not len(lat):
        return MapShapes(width, height, [], [], [], 0.0, 0.0)
    lat0 = float(np.mean(lat))
    kx, ky = 111.32 * math.cos(math.radians(lat0)), 110.57      # km per degree
    x, y = (lon - lon.min()) * kx, (lat.max() - lat) * ky
    radii = st["radius_km"].fillna(0).to_numpy(float)
    sx, sy = (st["lon"].to_numpy(float) - lon.min()) * kx, (lat.max() - st["lat"].to_numpy(float)) * ky
    lo_x = min(float(x.min()), float((sx - radii).min(initial=0)))
    hi_x = max(float(x.max()), float((sx + radii).max(initial=0)))
    lo_y = min(float(y.min()), float((sy - radii).min(initial=0)))
    hi_y = max(float(y.max()), float((sy + radii).max(initial=0)))
    span = max(hi_x - lo_x, hi_y - lo_y, 0.2)
    scale = min((width - 2 * margin) / max(hi_x - lo_x, 1e-6),
                (height - 2 * margin) / max(hi_y - lo_y, 1e-6), (width - 2 * margin) / span * 10)
    ox = margin + ((width - 2 * margin) - (hi_x - lo_x) * scale) / 2
    oy = margin + ((height - 2 * margin) - (hi_y - lo_y) * scale) / 2

    def page(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ox + (px - lo_x) * scale, oy + (py - lo_y) * scale

    colors = store_colors(brief)
    grey = (170, 170, 170)
    n = len(st)
    px, py = page(x[n:], y[n:])
    points = [(float(a), float(b), colors.get(str(s), grey) if g == "treatment" else grey)
              for a, b, s, g in zip(px, py, pts["store_id"].astype(str),
                                    pts["group"].astype(str), strict=True)]
    cx, cy = page(sx, sy)
    ids = st["store_id"].astype(str).tolist()
    circles = [(float(a), float(b), float(r * scale), colors[s])
               for a, b, r, s in zip(cx, cy, radii, ids, strict=True) if r > 0]
    stores = [(float(a), float(b), s, colors[s]) for a, b, s in zip(cx, cy, ids, strict=True)]
    nice = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100]
    target = span / 5
    km = max([v for v in nice if v <= target] or [nice[0]])
    return MapShapes(width, height, points, circles, stores, km, km * scale)


def brief_summary(brief: CampaignBrief) -> dict[str, Any]:
    """JSON-ready figures of a brief (the CLI's output)."""
    return {"campaign": brief.name, "workspace": brief.workspace,
            "offer_start": brief.offer_start.isoformat(), "offer_end": brief.offer_end.isoformat(),
            "days": brief.days, "stores": int(len(brief.stores)), **brief.totals,
            "has_forecast": brief.has_forecast,
            "expected_per_day": {str(s): (None if pd.isna(v) else round(float(v), 2))
                                 for s, v in zip(brief.stores["store_id"],
                                                 brief.stores["expected_per_day"], strict=True)}}
