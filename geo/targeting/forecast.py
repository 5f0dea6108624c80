"""Forecast a campaign's outcome from the workspace's past campaigns, with a range and an ROI.

History is read per travel band. For every saved campaign that has provider
events, each treatment target counts once: *sent* when the provider recorded
any event for the address (a click implies an open, any event implies a
send, as providers count them), *opened*, *clicked*, and *redeemed* when its
coupon code was redeemed inside the campaign's offer window; revenue is the
sum of those redemptions' amounts. Campaigns without events (never sent, or
not yet imported) are skipped. Past targets are put into the current bands by
their travel minutes (kilometres in radius mode), so a 5/10/15 forecast uses
5/10/15 history whatever bands the old campaign used.

Rates carry a Jeffreys interval (the Beta(k + 1/2, n - k + 1/2) posterior).
The range of the expected redemptions, revenue and ROI comes from a seeded
simulation that combines that uncertainty with the binomial chance of this
audience: for each draw, a rate per band from its posterior, redemptions from
the binomial, revenue per redemption from the normal approximation of the
band's mean amount. A band with no history borrows the rates of all bands
pooled (``basis="all bands"``). Revenue is the revenue *attributed* to coupons,
not the lift over the holdout (see `geo.funnel.funnel` for measured lift).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from geo.keys import code_keys, email_keys
from geo.modes import Mode
from geo.stats import jeffreys_interval
from geo.targeting.bands import band_index, band_labels
from geo.workspace import Workspace

RATES = ("open", "click", "redeem")
DEFAULT_CONFIDENCE = 0.90
DEFAULT_DRAWS = 4000
NO_HISTORY = ("No past campaign in this workspace has provider events yet, so there is no "
              "history to base an expected outcome on.")


@dataclass(frozen=True)
class ForecastTotals:
    """The whole audience's expected outcome, with ranges at ``confidence``.

    Counts are expected numbers (means); ``_low`` / ``_high`` bound the
    ``confidence`` range of the simulation. Money in the revenue's currency;
    ROI as a ratio (0.5: the campaign returns 1.5 times its cost). NaN where
    there is no history.
    """

    recipients: int
    opens: float
    clicks: float
    redemptions: float
    redemptions_low: float
    redemptions_high: float
    revenue: float
    revenue_low: float
    revenue_high: float
    cost: float
    cost_low: float
    cost_high: float
    roi: float
    roi_low: float
    roi_high: float
    confidence: float

    def as_dict(self) -> dict[str, float]:
        """The figures as a dict (JSON output)."""
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass
class Forecast:
    """Expected outcome of sending a campaign to an audience.

    Attributes
    ----------
    has_history
        False when no past campaign could be used; then every figure is NA.
    message
        One sentence for the page (what the forecast is based on, or why none).
    campaigns
        Names of the past campaigns used.
    rates
        Per band: ``band, sent, opened, clicked, redeemed, revenue`` (history),
        ``open_rate, click_rate, redeem_rate`` with ``_low`` / ``_high`` bounds,
        ``revenue_per_redemption`` and ``basis`` (``band`` or ``all bands``).
    expected
        Per band: ``band, recipients, opens, clicks, redemptions,
        redemptions_low, redemptions_high, revenue``.
    totals
        The whole audience's expected outcome (`ForecastTotals`).
    """

    has_history: bool
    message: str
    campaigns: list[str]
    rates: pd.DataFrame
    expected: pd.DataFrame
    totals: ForecastTotals


def _naive(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts, utc=True)
    return ts.dt.tz_localize(None)


def campaign_history(workspace: Workspace, name: str) -> pd.DataFrame | None:
    """Outcome per treatment target of one saved campaign, or None when it has no events.

    Returns
    -------
    DataFrame with ``travel_min, crow_km, sent, opened, clicked, redeemed``
    (booleans) and ``revenue`` (sum of the target's redemption amounts inside the
    offer window).
    """
    targets = workspace.load_campaign_file(name, "targets")
    events = workspace.load_campaign_file(name, "events")
    if targets is None or events is None or not len(events):
        return None
    t = targets[(targets["group"].astype("string") == "treatment").to_numpy(bool)]
    t = t.reset_index(drop=True)
    key = email_keys(t["email"])
    ev = events.assign(_key=email_keys(events["email"]),
                       _event=events["event"].astype("string").str.lower())

    def seen(kinds: list[str]) -> np.ndarray:
        hit: np.ndarray = key.isin(ev.loc[ev["_event"].isin(kinds), "_key"]).to_numpy(bool)
        return hit

    clicked = seen(["clicked"])
    opened = seen(["opened", "clicked"])
    sent = seen(["sent", "delivered", "opened", "clicked", "bounced", "unsubscribed"])
    revenue = np.zeros(len(t))
    redemptions = workspace.load_campaign_file(name, "redemptions")
    if redemptions is not None and len(redemptions) and "coupon_code" in t:
        r = redemptions.assign(_code=code_keys(redemptions["coupon_code"]),
                               _ts=_naive(redemptions["timestamp"]))
        meta = workspace.campaign_meta(name)
        if meta.get("offer_start") and meta.get("offer_end"):
            from geo.targeting.targets import OfferWindow
            w = OfferWindow.parse(meta["offer_start"], meta["offer_end"])
            r = r[(r["_ts"] >= w.start) & (r["_ts"] <= w.end)]
        amount = r.groupby("_code")["amount"].sum()
        code = code_keys(t["coupon_code"])
        revenue = amount.reindex(code).fillna(0.0).to_numpy(float)
        redeemed = code.isin(amount.index).to_numpy(bool)
    else:
        redeemed = np.zeros(len(t), bool)

    def col(c: str) -> np.ndarray:
        values: np.ndarray = (t[c].to_numpy(float, na_value=np.nan) if c in t
                              else np.full(len(t), np.nan))
        return values

    return pd.DataFrame({"travel_min": col("travel_min"), "crow_km": col("crow_km"),
                         "sent": sent, "opened": opened & sent, "clicked": clicked & sent,
                         "redeemed": redeemed & sent, "revenue": np.where(sent, revenue, 0.0)})


def history_by_band(workspace: Workspace, bands: Sequence[float], *, mode: str = "drive",
                    only: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Sum past outcomes per current band (of the campaigns named in ``only``, when given).

    Returns
    -------
    rows, campaigns
        ``band, sent, opened, clicked, redeemed, revenue, revenue_sq`` per band
        (sum of squared per-redeemer revenue, for its spread) and the names of
        the campaigns used.
    """
    labels = band_labels(bands)
    used: list[str] = []
    parts: list[pd.DataFrame] = []
    for name in workspace.list_campaigns():
        if only is not None and name not in only:
            continue
        h = campaign_history(workspace, name)
        if h is None or not h["sent"].any():
            continue
        used.append(name)
        idx = band_index(h["crow_km" if mode == Mode.RADIUS else "travel_min"].to_numpy(), bands)
        parts.append(h.assign(_band=idx)[idx >= 0])
    rows = pd.DataFrame({"band": labels})
    if not parts:
        for c in ("sent", "opened", "clicked", "redeemed", "revenue", "revenue_sq"):
            rows[c] = 0
        return rows, used
    h = pd.concat(parts, ignore_index=True)
    h = h[h["sent"]]
    k = len(labels)
    for c in ("sent", "opened", "clicked", "redeemed"):
        rows[c] = np.bincount(h["_band"], weights=h[c].astype(float), minlength=k).astype(int)
    rows["revenue"] = np.bincount(h["_band"], weights=h["revenue"], minlength=k)
    rows["revenue_sq"] = np.bincount(h["_band"], weights=h["revenue"] ** 2, minlength=k)
    return rows, used


def _rates(hist: pd.DataFrame, confidence: float) -> pd.DataFrame:
    r = hist.copy()
    pooled = hist[["sent", "opened", "clicked", "redeemed", "revenue", "revenue_sq"]].sum()
    borrow = r["sent"] == 0
    for c in ("sent", "opened", "clicked", "redeemed", "revenue", "revenue_sq"):
        r.loc[borrow, c] = pooled[c]
    r["basis"] = np.where(borrow, "all bands", "band")
    for rate, col in zip(RATES, ("opened", "clicked", "redeemed"), strict=True):
        n, k = r["sent"].to_numpy(float), r[col].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            r[f"{rate}_rate"] = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        r[f"{rate}_rate_low"], r[f"{rate}_rate_high"] = jeffreys_interval(k, n, confidence)
    red = r["redeemed"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(red > 0, r["revenue"] / np.maximum(red, 1), np.nan)
        var = np.where(red > 1, (r["revenue_sq"] - red * mean ** 2) / np.maximum(red - 1, 1),
                       0.0)
    r["revenue_per_redemption"] = mean
    r["revenue_per_redemption_se"] = np.sqrt(np.maximum(var, 0) / np.maximum(red, 1))
    return r


def _empty_forecast(labels: list[str], recipients: np.ndarray, message: str) -> Forecast:
    nan = float("nan")
    expected = pd.DataFrame({"band": labels, "recipients": recipients})
    for c in ("opens", "clicks", "redemptions", "redemptions_low", "redemptions_high",
              "revenue"):
        expected[c] = nan
    figures = {f: nan for f in ForecastTotals.__dataclass_fields__ if f != "recipients"}
    totals = ForecastTotals(recipients=int(np.sum(recipients)), **figures)
    return Forecast(False, message, [], pd.DataFrame({"band": labels}), expected, totals)


def forecast(workspace: Workspace, recipients_per_band: pd.Series, bands: Sequence[float], *,
             mode: str = "drive", cost_per_email: float = 0.0, discount_value: float = 0.0,
             margin: float = 1.0, confidence: float = DEFAULT_CONFIDENCE,
             draws: int = DEFAULT_DRAWS, seed: int = 0, only: Sequence[str] | None = None) -> Forecast:
    """Expected opens, clicks, redemptions, revenue and ROI for an audience.

    Parameters
    ----------
    workspace
        A `geo.workspace.Workspace` whose saved campaigns give the history.
    recipients_per_band
        Treatment recipients per band label (e.g. ``targets.groupby("band").size()``
        over the treatment group); missing bands count as zero.
    bands
        The band limits (minutes, or km in radius mode) that define the labels.
    mode
        ``drive``, ``walk``, ``bike`` or ``radius`` (radius bands use crow-flies km).
    cost_per_email
        Sending cost per recipient, in the revenue's currency.
    discount_value
        Cost of one redeemed coupon (the discount given), same currency.
    margin
        Share of revenue kept as profit (1.0 = judge ROI on revenue).
    confidence
        Width of the ranges (0.90 → 5th to 95th percentile).
    draws, seed
        Size and seed of the simulation that gives the ranges (reproducible).
    only
        Use only these past campaigns (a backtest fits on one and forecasts another).
    """
    labels = band_labels(bands)
    n = recipients_per_band.reindex(labels).fillna(0).to_numpy(dtype=np.int64)
    hist, used = history_by_band(workspace, bands, mode=mode, only=only)
    if not used:
        return _empty_forecast(labels, n, NO_HISTORY)
    if hist["sent"].sum() == 0:
        return _empty_forecast(labels, n, "Past campaigns exist but none of their recipients "
                                          "fall inside these bands: no expected outcome.")
    r = _rates(hist, confidence)
    rng = np.random.default_rng(seed)
    sent_h = r["sent"].to_numpy(float)
    p_red = rng.beta(r["redeemed"].to_numpy(float) + 0.5,
                     sent_h - r["redeemed"].to_numpy(float) + 0.5, size=(draws, len(labels)))
    red = rng.binomial(n, p_red)
    rpr = r["revenue_per_redemption"].fillna(0.0).to_numpy(float)
    rpr_draw = np.maximum(rng.normal(rpr, r["revenue_per_redemption_se"].to_numpy(float),
                                     size=(draws, len(labels))), 0.0)
    revenue = (red * rpr_draw).sum(axis=1)
    redemptions = red.sum(axis=1)
    cost = cost_per_email * n.sum() + discount_value * redemptions
    with np.errstate(invalid="ignore", divide="ignore"):
        roi = np.where(cost > 0, (revenue * margin - cost) / np.where(cost > 0, cost, 1), np.nan)
    q = [(1 - confidence) / 2, (1 + confidence) / 2]

    def span(x: np.ndarray) -> tuple[float, float, float]:
        if np.isnan(x).all():
            return float("nan"), float("nan"), float("nan")
        lo, hi = np.nanquantile(x, q)
        return float(np.nanmean(x)), float(lo), float(hi)

    expected = pd.DataFrame({
        "band": labels, "recipients": n,
        "opens": n * r["open_rate"].to_numpy(float),
        "clicks": n * r["click_rate"].to_numpy(float),
        "redemptions": n * r["redeem_rate"].to_numpy(float),
        "redemptions_low": np.quantile(red, q[0], axis=0),
        "redemptions_high": np.quantile(red, q[1], axis=0),
        "revenue": n * r["redeem_rate"].to_numpy(float) * rpr,
    })
    _, red_lo, red_hi = span(redemptions.astype(float))
    _, rev_lo, rev_hi = span(revenue)
    _, cost_lo, cost_hi = span(cost.astype(float))
    _, roi_lo, roi_hi = span(roi)
    point_rev = float(expected["revenue"].sum())
    point_cost = cost_per_email * n.sum() + discount_value * float(expected["redemptions"].sum())
    roi_m = (point_rev * margin - point_cost) / point_cost if point_cost > 0 else float("nan")
    totals = ForecastTotals(
        recipients=int(n.sum()), opens=float(expected["opens"].sum()),
        clicks=float(expected["clicks"].sum()), redemptions=float(expected["redemptions"].sum()),
        redemptions_low=red_lo, redemptions_high=red_hi, revenue=point_rev,
        revenue_low=rev_lo, revenue_high=rev_hi, cost=float(point_cost), cost_low=cost_lo,
        cost_high=cost_hi, roi=roi_m, roi_low=roi_lo, roi_high=roi_hi, confidence=confidence)
    borrowed = [b for b, basis in zip(labels, r["basis"], strict=True) if basis != "band"]
    message = (f"Based on {int(hist['sent'].sum()):,} recipients of {len(used)} past "
               f"campaign(s)" + (f"; bands {', '.join(borrowed)} have no history and use all "
                                 f"bands pooled" if borrowed else "") + ".")
    if not (r["redeemed"] > 0).any():
        message += " No past redemption yet, so revenue is estimated as zero."
    cols = ["band", "sent", "opened", "clicked", "redeemed", "revenue"] + \
        [f"{x}_rate{s}" for x in RATES for s in ("", "_low", "_high")] + \
        ["revenue_per_redemption", "basis"]
    return Forecast(True, message, used, r[cols], expected, totals)
