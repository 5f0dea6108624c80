"""Compute the online-to-offline funnel: stages, breakdowns, distance decay and treatment-vs-holdout lift.

Every figure (stages, breakdowns, curves) is a group-by over journeys (one row
per targeted customer, built by `geo.funnel.journeys.build_journeys`), so all
counts are unique customers and revenue is a sum in the till's currency.

Stages follow the e-mail: ``targeted -> sent -> delivered -> opened -> clicked ->
redeemed -> revenue``, for the treatment group (holdout members are never sent
anything). Later provider events imply earlier ones unless ``implied=False``
(see `geo.funnel.journeys`). Opens are inflated by mail privacy
proxies (Apple Mail Privacy Protection pre-fetches images, so it "opens" every
message), so read clicks alongside opens. ``redeemed`` counts every recipient
who redeemed, whether or not they clicked: its step conversion is relative to
``clicked`` only by position in the funnel.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.data.schema import Schema
from geo.data.tables import complete, read_raw
from geo.data.validate import HEADER_ROWS, ValidationReport, validate_table
from geo.funnel.attribution import (
    Window,
    anomaly_counts,
    attribute_redemptions,
    store_wide_summary,
)
from geo.funnel.journeys import DEFAULT_BANDS, build_journeys
from geo.funnel.lift import Lift, holdout_lift, like_for_like_lift
from geo.stats import wilson_interval

STAGES = ("targeted", "sent", "delivered", "opened", "clicked", "redeemed")


# stages ---------------------------------------------------------------------------
def stage_counts(journeys: pd.DataFrame) -> dict[str, int | float]:
    """Unique customers per stage and total revenue for the given journeys."""
    out: dict[str, int | float] = {s: int(journeys[s].sum()) for s in STAGES}
    out["revenue"] = round(float(journeys["revenue"].sum()), 2)
    return out


def funnel_stages(journeys: pd.DataFrame, group: str = "treatment") -> dict[str, int | float]:
    """Stage counts (unique customers) and revenue for one group (``"treatment"`` or ``"holdout"``)."""
    return stage_counts(journeys[journeys["group"].eq(group).fillna(False)])


def stage_table(journeys: pd.DataFrame, group: str = "treatment") -> pd.DataFrame:
    """The funnel as a table: stage, customers, step and cumulative conversion (fractions).

    ``step_rate`` is customers divided by the previous stage's customers,
    ``cumulative_rate`` customers divided by ``targeted``; both are NaN when
    the denominator is zero.
    """
    counts = funnel_stages(journeys, group)
    n = np.array([counts[s] for s in STAGES], dtype="float64")
    prev = np.concatenate([[np.nan], n[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(prev > 0, n / prev, np.nan)
        cum = np.where(n[0] > 0, n / n[0], np.nan)
    step[0] = 1.0 if n[0] > 0 else np.nan
    return pd.DataFrame({"stage": list(STAGES), "customers": n.astype("int64"),
                         "step_rate": step, "cumulative_rate": cum})


def _safe_div(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b > 0)).astype("float64")


def breakdown(journeys: pd.DataFrame, by: str) -> pd.DataFrame:
    """Funnel per value of ``by`` (``store_id``, ``band``, ``segment``, ``campaign_id``...).

    Returns
    -------
    DataFrame indexed by ``by`` with the treatment stages (``targeted`` ...
    ``redeemed``, ``revenue``), rates (``open_rate`` and ``click_rate`` per
    delivered, ``redemption_rate`` per targeted, ``revenue_per_redemption``),
    the holdout's ``holdout_targeted``, ``holdout_redeemed``, ``holdout_rate``
    and ``lift_abs`` (treatment minus holdout redemption rate).
    """
    if by not in journeys:
        raise KeyError(f"cannot break the funnel down by {by!r}: the target list has no such column")
    j = journeys.copy()
    j[by] = j[by].astype("string").fillna("unknown") if not isinstance(
        j[by].dtype, pd.CategoricalDtype) else j[by]
    treat = j[j["group"].eq("treatment").fillna(False)]
    hold = j[j["group"].eq("holdout").fillna(False)]
    cols = list(STAGES) + ["revenue"]
    out = treat.groupby(by, observed=True, sort=True)[cols].sum()
    h = hold.groupby(by, observed=True, sort=True)[["targeted", "redeemed"]].sum()
    out = out.join(h.add_prefix("holdout_"), how="outer").fillna(0)
    for c in list(STAGES) + ["holdout_targeted", "holdout_redeemed"]:
        out[c] = out[c].astype("int64")
    out["revenue"] = out["revenue"].astype("float64").round(2)
    out["open_rate"] = _safe_div(out["opened"], out["delivered"])
    out["click_rate"] = _safe_div(out["clicked"], out["delivered"])
    out["redemption_rate"] = _safe_div(out["redeemed"], out["targeted"])
    out["revenue_per_redemption"] = _safe_div(out["revenue"], out["redeemed"])
    out["holdout_rate"] = _safe_div(out["holdout_redeemed"], out["holdout_targeted"])
    out["lift_abs"] = out["redemption_rate"] - out["holdout_rate"]
    if isinstance(journeys[by].dtype, pd.CategoricalDtype):
        order = [c for c in journeys[by].cat.categories if c in out.index]
        out = out.loc[order]
    return out


# distance decay and time -------------------------------------------------------------
def decay_curve(journeys: pd.DataFrame, *, bin_min: float = 1.0,
                group: str = "treatment", confidence: float = 0.95) -> pd.DataFrame:
    """Redemption rate by travel time: the distance-decay curve.

    Parameters
    ----------
    journeys
        Output of `build_journeys`.
    bin_min
        Width of a travel-time bin in minutes.
    group
        Which group's rate to plot.
    confidence
        Level of the Wilson interval around each bin's rate.

    Returns
    -------
    DataFrame with ``minutes_from``, ``minutes_to``, ``minutes`` (bin middle),
    ``targeted``, ``redeemed``, ``rate``, ``rate_low``, ``rate_high``; empty bins
    are left out.
    """
    if bin_min <= 0:
        raise ValueError(f"bin_min must be positive minutes, got {bin_min}")
    j = journeys[journeys["group"].eq(group).fillna(False)]
    minutes = pd.to_numeric(j["travel_min"], errors="coerce")
    j = j[minutes.notna()]
    minutes = minutes[minutes.notna()].clip(lower=0)
    b = np.floor(minutes.to_numpy() / bin_min).astype("int64")
    agg = (pd.DataFrame({"bin": b, "redeemed": j["redeemed"].to_numpy()})
           .groupby("bin").agg(targeted=("redeemed", "size"), redeemed=("redeemed", "sum")))
    out = pd.DataFrame({"minutes_from": agg.index * bin_min,
                        "minutes_to": (agg.index + 1) * bin_min})
    out["minutes"] = (out["minutes_from"] + out["minutes_to"]) / 2
    out["targeted"] = agg["targeted"].to_numpy().astype("int64")
    out["redeemed"] = agg["redeemed"].to_numpy().astype("int64")
    out["rate"] = out["redeemed"] / out["targeted"]
    out["rate_low"], out["rate_high"] = wilson_interval(out["redeemed"], out["targeted"], confidence)
    return out.reset_index(drop=True)


def daily_redemptions(attributed: pd.DataFrame, *, counted_only: bool = True) -> pd.DataFrame:
    """Redemptions and revenue per calendar day (UTC) and group.

    Returns
    -------
    DataFrame with ``date``, ``group`` (``treatment``, ``holdout`` or
    ``unattributed``), ``redemptions`` and ``revenue``; days without any
    redemption are filled with zeros between the first and the last day.
    """
    r = attributed[attributed["counted"]] if counted_only else attributed
    cols = ["date", "group", "redemptions", "revenue"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    r = r.assign(date=pd.to_datetime(r["timestamp"]).dt.floor("D"),
                 group=r["group"].astype("string").fillna("unattributed"))
    agg = r.groupby(["date", "group"]).agg(redemptions=("amount", "size"), revenue=("amount", "sum"))
    days = pd.date_range(agg.index.get_level_values(0).min(), agg.index.get_level_values(0).max(),
                         freq="D")
    groups = sorted(agg.index.get_level_values(1).unique())
    full = agg.reindex(pd.MultiIndex.from_product([days, groups], names=["date", "group"]),
                       fill_value=0).reset_index()
    full["redemptions"] = full["redemptions"].astype("int64")
    full["revenue"] = full["revenue"].astype("float64").round(2)
    return full[cols]


# loading ---------------------------------------------------------------------------------------
def check_with_extras(path: str | Path, schema: Schema) -> ValidationReport:
    """Validate a table file against ``schema`` but keep its extra columns (segment, band...).

    `geo.data.tables.check_table` keeps only the schema's columns; the funnel also needs
    the target list's extras. Extra columns are kept as text, trimmed.
    """
    raw = read_raw(path)
    report = validate_table(raw, schema, Path(path).name)
    extras = [c for c in raw.columns if c not in schema.names and not str(c).startswith("_")]
    if extras and len(report.valid):
        pos = report.valid["_row"].astype(int).to_numpy() - HEADER_ROWS - 1
        for c in extras:
            values = raw[c].iloc[pos].astype("string").str.strip()
            report.valid[c] = values.mask(values == "").to_numpy()
    report.valid = pd.concat([complete(report.valid.drop(columns="_row"), schema),
                              report.valid[["_row"]]], axis=1)
    return report


# everything at once --------------------------------------------------------------------------
@dataclass
class FunnelResult:
    """Everything the funnel page and the command line show for one campaign (or several)."""

    journeys: pd.DataFrame
    attributed: pd.DataFrame
    stages: dict[str, int | float]
    stage_table: pd.DataFrame
    by_store: pd.DataFrame
    by_band: pd.DataFrame
    by_segment: pd.DataFrame | None
    by_campaign: pd.DataFrame | None
    daily: pd.DataFrame
    decay: pd.DataFrame
    lift: Lift
    anomalies: dict[str, int]
    store_wide: dict[str, Any]
    window: Window | None = None
    notes: list[str] = field(default_factory=list)
    lift_like_for_like: Lift | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the command line's JSON shape (see `geo.commands.funnel`)."""
        def rows(df: pd.DataFrame | None) -> dict[str, dict[str, object]] | None:
            if df is None:
                return None
            cols = list(STAGES) + ["revenue", "redemption_rate", "holdout_targeted",
                                   "holdout_redeemed", "holdout_rate"]
            table = df[cols].to_dict(orient="index")
            return {str(k): {c: _jsonable(v) for c, v in row.items()} for k, row in table.items()}
        return {
            "stages": self.stages,
            "conversion": {r.stage: {"step": _jsonable(r.step_rate), "cumulative": _jsonable(r.cumulative_rate)}
                           for r in self.stage_table.itertuples()},
            "by_store": rows(self.by_store),
            "by_band": rows(self.by_band),
            "by_segment": rows(self.by_segment),
            "by_campaign": rows(self.by_campaign),
            "holdout": self.lift.as_dict(),
            "holdout_like_for_like": (None if self.lift_like_for_like is None
                                      else self.lift_like_for_like.as_dict()),
            "holdout_stages": funnel_stages(self.journeys, "holdout"),
            "anomalies": self.anomalies,
            "store_wide": self.store_wide,
            "daily": [{"date": r.date.date().isoformat(), "group": r.group,
                       "redemptions": int(r.redemptions), "revenue": float(r.revenue)}
                      for r in self.daily.itertuples()],
            "window": self.window.as_dict() if self.window else None,
            "notes": self.notes,
        }


def _jsonable(v: object) -> object:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else round(float(v), 6)
    return v


def analyse_funnel(targets: pd.DataFrame, events: pd.DataFrame | None,
                   redemptions: pd.DataFrame | None, *, window: Window | None = None,
                   bands: Sequence[float] = DEFAULT_BANDS, store_wide_codes: Sequence[str] = (),
                   cost_per_email: float = 0.0, bin_min: float = 1.0,
                   implied: bool = True, accept_typos: bool = False) -> FunnelResult:
    """Attribute redemptions, build journeys and compute every view of the funnel.

    Parameters
    ----------
    targets, events, redemptions
        Validated tables (see `geo.data.tables`); events and redemptions may be None.
    window
        Offer window; redemptions outside it are flagged and not counted.
    bands
        Travel-time band edges in minutes (when targets carry no ``band``).
    store_wide_codes
        Generic codes anyone may use.
    cost_per_email
        Cost of one e-mail (revenue currency) for the cost per incremental visit.
    bin_min
        Bin width of the distance-decay curve, minutes.
    implied
        Whether later e-mail events imply earlier ones.
    accept_typos
        Count a code one slip away from exactly one issued code as that code
        (see `geo.funnel.attribution.likely_typos`); default False: reported only.
    """
    red = redemptions if redemptions is not None else pd.DataFrame(
        columns=["coupon_code", "store_id", "timestamp", "amount"])
    attributed = attribute_redemptions(targets, red, window=window, store_wide_codes=store_wide_codes,
                                       accept_typos=accept_typos)
    journeys = build_journeys(targets, events, attributed, bands=bands, implied=implied)
    anomalies = anomaly_counts(attributed)
    hold = journeys["group"].eq("holdout").fillna(False)
    anomalies["holdout_contacted"] = int(journeys.loc[hold, "sent"].sum())
    notes = ["Opens are inflated by mail privacy proxies (e.g. Apple Mail Privacy Protection); "
             "read clicks alongside opens."]
    if events is None or len(events) == 0:
        notes.append("No provider events: sent, delivered, opened and clicked are zero.")
    if window is None:
        notes.append("No offer window given: no redemption is flagged as outside the window.")
    lift = holdout_lift(journeys, cost_per_email=cost_per_email)
    if lift.holdout_n:
        notes.append("Holdout visits are seen only through a loyalty card at the till, treatment "
                     "visits through their code too: the like-for-like basis counts "
                     "card-observed redemptions in both groups.")
    return FunnelResult(
        journeys=journeys, attributed=attributed,
        stages=funnel_stages(journeys, "treatment"), stage_table=stage_table(journeys),
        by_store=breakdown(journeys, "store_id"), by_band=breakdown(journeys, "band"),
        by_segment=breakdown(journeys, "segment") if "segment" in journeys else None,
        by_campaign=breakdown(journeys, "campaign_id") if "campaign_id" in journeys else None,
        daily=daily_redemptions(attributed), decay=decay_curve(journeys, bin_min=bin_min),
        lift=lift, anomalies=anomalies, store_wide=store_wide_summary(attributed), window=window,
        notes=notes, lift_like_for_like=like_for_like_lift(journeys, attributed,
                                                           cost_per_email=cost_per_email))
