"""Demand per store per day: a campaign's expected redemptions spread over the days of its offer window.

The daily profile
    Past campaigns give the day on which each attributed redemption was made
    (a treatment target's own code, redeemed inside the offer window). The
    count on day ``d`` of the window (0 = the first day), falling on weekday
    ``w``, is modelled as ``N_c · g_d · f_w / Σ_d' g_d' · f_w'`` for campaign
    ``c`` with ``N_c`` redemptions: ``g`` is the **day-of-window profile**
    ("a code redeemable across a three-day period makes traffic spike on those
    days"), ``f`` the **weekday factor** (mean 1). Both are the multinomial
    maximum-likelihood fit (a log-linear Poisson model with a term per campaign,
    found by Newton's method). A weekday
    factor needs at least two past campaigns that start on different weekdays
    (else it is confounded with the day of the window and held at 1); days of a
    window longer than any past one use the mean of the known days. With no
    history every day weighs the same, said plainly.

The forecast
    Per store, the expected total is ``Σ_band recipients(store, band) ·
    redeem_rate(band)`` with the rates of `geo.targeting.forecast.forecast`, so
    the stores add up to the campaign's expected total; each day gets its share
    of the profile, so the days add up to the store's total. The interval of a
    store-day is a normal approximation that adds the Poisson variance of the
    count to the campaign total's relative uncertainty (from the forecast's
    simulated range): ``sd = sqrt(e + (e · r)²)``, ``low/high = e ∓ z · sd``,
    floored at 0. Revenue per store-day is the expected redemptions times the
    bands' revenue per redemption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import GeoError
from geo.keys import code_keys
from geo.stats import z_value
from geo.targeting.bands import band_index, band_labels
from geo.targeting.forecast import Forecast, forecast
from geo.targeting.targets import OfferWindow
from geo.workspace import Workspace

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAILY_COLUMNS = ["store_id", "date", "weekday", "day", "share", "expected", "low", "high", "revenue"]
_NEWTON_ROUNDS = 100


@dataclass(frozen=True)
class DailyProfile:
    """How redemptions spread over the days of an offer window.

    Attributes
    ----------
    day_weight
        ``g_d`` per day of the window (0 = first day), mean 1; empty without history.
    weekday_factor
        ``f_w`` per weekday (Monday first), mean 1 over the weekdays seen.
    campaigns
        The past campaigns used.
    redemptions
        Attributed redemptions they hold.
    weekday_fitted
        False when the weekday factor was held at 1.
    """

    day_weight: np.ndarray
    weekday_factor: np.ndarray
    campaigns: tuple[str, ...]
    redemptions: int
    weekday_fitted: bool

    def shares(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Share of the window's redemptions on each of ``dates`` (the window's days, in order); sums to 1."""
        n = len(dates)
        if n == 0:
            return np.empty(0)
        known = self.day_weight
        fill = float(known.mean()) if len(known) else 1.0
        g = np.array([known[d] if d < len(known) else fill for d in range(n)])
        w = g * self.weekday_factor[np.asarray(dates.weekday)]
        total = w.sum()
        return w / total if total > 0 else np.full(n, 1.0 / n)

    def describe(self) -> str:
        """One sentence for a page: what the profile rests on."""
        if not self.campaigns:
            return ("No past redemptions by day: every day of the window is given the same share "
                    "(an assumption, not a measure).")
        days = ", ".join(f"day {d + 1}: {w / self.day_weight.sum():.0%}" for d, w in enumerate(self.day_weight))
        week = ("with a weekday effect" if self.weekday_fitted else
                "no weekday effect (it needs two past campaigns starting on different weekdays)")
        return (f"Daily profile from {self.redemptions:,} redemptions of {len(self.campaigns)} past "
                f"campaign(s) ({days}); {week}.")


def window_days(window: OfferWindow) -> pd.DatetimeIndex:
    """The calendar days an offer window touches, first to last."""
    return pd.date_range(window.start.normalize(), window.end.normalize(), freq="D")


def campaign_window(workspace: Workspace, name: str) -> OfferWindow:
    """The offer window saved with campaign ``name`` (`GeoError` when it has none)."""
    meta = workspace.campaign_meta(name)
    if not (meta.get("offer_start") and meta.get("offer_end")):
        raise GeoError(f"campaign {name!r} has no offer window; save it from the Reach page or with "
                       "`geo reach --offer-start ... --offer-end ...`")
    return OfferWindow.parse(meta["offer_start"], meta["offer_end"])


def attributed_redemptions(workspace: Workspace, name: str) -> pd.DataFrame:
    """Redemptions of campaign ``name`` made with a treatment target's own code inside the offer window.

    Returns ``store_id, date, day, amount`` (``day`` = day of the window, 0
    first); empty when the campaign has no redemptions or no window.
    """
    empty = pd.DataFrame({"store_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                          "day": pd.Series(dtype=int), "amount": pd.Series(dtype=float)})
    targets = workspace.load_campaign_file(name, "targets")
    red = workspace.load_campaign_file(name, "redemptions")
    meta = workspace.campaign_meta(name)
    if targets is None or red is None or not len(red) or not meta.get("offer_start"):
        return empty
    window = campaign_window(workspace, name)
    treat = targets[(targets["group"].astype("string") == "treatment").to_numpy(bool)]
    codes = set(code_keys(treat["coupon_code"]).dropna())
    ts = pd.to_datetime(red["timestamp"], utc=True).dt.tz_localize(None)
    keep = code_keys(red["coupon_code"]).isin(codes).to_numpy(bool) & (ts >= window.start).to_numpy() \
        & (ts <= window.end).to_numpy()
    date = ts[keep].dt.normalize()
    return pd.DataFrame({"store_id": red.loc[keep, "store_id"].astype(str).to_numpy(),
                         "date": date.to_numpy(), "day": (date - window.start.normalize()).dt.days.to_numpy(),
                         "amount": pd.to_numeric(red.loc[keep, "amount"], errors="coerce").fillna(0.0).to_numpy()})


def fit_profile(workspace: Workspace, *, only: Sequence[str] | None = None,
                exclude: Sequence[str] = ()) -> DailyProfile:
    """Fit the daily profile on the workspace's past campaigns (see the module notes).

    Parameters
    ----------
    only
        Use only these campaigns (a backtest fits on one, forecasts another).
    exclude
        Leave these out (the campaign being forecast).
    """
    cells: list[tuple[int, int, int, int]] = []  # campaign, day, weekday, count
    used: list[str] = []
    for name in workspace.list_campaigns():
        if name in exclude or (only is not None and name not in only):
            continue
        red = attributed_redemptions(workspace, name)
        if not len(red):
            continue
        window = campaign_window(workspace, name)
        days = window_days(window)
        counts = np.bincount(red["day"].to_numpy(int), minlength=len(days))[:len(days)]
        c = len(used)
        used.append(name)
        cells += [(c, d, int(days[d].weekday()), int(k)) for d, k in enumerate(counts)]
    if not used:
        return DailyProfile(np.empty(0), np.ones(7), (), 0, False)
    cell = np.array(cells, dtype=np.int64)
    starts = {int(r[2]) for r in cell if r[1] == 0}
    fit_week = len(starts) >= 2
    g, f = _poisson_fit(cell, fit_week)
    return DailyProfile(g, f, tuple(used), int(cell[:, 3].sum()), fit_week)


def _poisson_fit(cell: np.ndarray, fit_week: bool) -> tuple[np.ndarray, np.ndarray]:
    """Log-linear Poisson fit (Newton / IRLS) of counts on campaign, day-of-window and weekday effects.

    The campaign effects make it the multinomial fit within each campaign.
    Returns the day weights ``g`` (mean 1) and weekday factors ``f`` (mean 1
    over the weekdays seen, 1 for the others).
    """
    camp, day, wd, y = cell[:, 0], cell[:, 1], cell[:, 2], cell[:, 3].astype(float)
    n_days = int(day.max()) + 1
    weekdays = np.unique(wd)[1:] if fit_week else np.empty(0, dtype=np.int64)
    cols = [camp == c for c in range(int(camp.max()) + 1)] + [day == d for d in range(1, n_days)] \
        + [wd == w for w in weekdays]
    x = np.column_stack(cols).astype(float)
    coef = np.zeros(x.shape[1])
    coef[:camp.max() + 1] = np.log(np.maximum(np.bincount(camp, weights=y) / np.bincount(camp), 0.5))
    for _ in range(_NEWTON_ROUNDS):
        mu = np.exp(x @ coef)
        step = np.linalg.lstsq(x.T @ (x * mu[:, None]), x.T @ (y - mu), rcond=None)[0]
        coef += step
        if np.abs(step).max() < 1e-10:
            break
    g = np.exp(np.concatenate([[0.0], coef[camp.max() + 1:camp.max() + n_days]]))
    log_f = np.full(7, np.nan)
    seen = np.unique(wd)
    log_f[seen] = 0.0
    log_f[weekdays] = coef[camp.max() + n_days:]
    f = np.exp(log_f)
    f = np.where(np.isfinite(f), f / np.nanmean(f), 1.0)
    return g / g.mean(), f


def store_totals(fc: Forecast, recipients: pd.DataFrame) -> pd.DataFrame:
    """Expected redemptions and revenue per store from the forecast's band rates.

    Parameters
    ----------
    fc
        `geo.targeting.forecast.forecast` of the campaign (with history).
    recipients
        Treatment recipients: ``store_id, band, recipients`` (band labels as in ``fc``).
    """
    rates = fc.rates.set_index("band")
    rate = rates["redeem_rate"].reindex(recipients["band"]).to_numpy(float)
    rpr = rates["revenue_per_redemption"].reindex(recipients["band"]).fillna(0.0).to_numpy(float)
    n = recipients["recipients"].to_numpy(float)
    part = pd.DataFrame({"store_id": recipients["store_id"].astype(str).to_numpy(),
                         "expected": n * np.nan_to_num(rate), "revenue": n * np.nan_to_num(rate) * rpr})
    return part.groupby("store_id", sort=True)[["expected", "revenue"]].sum()


def daily_forecast(fc: Forecast, recipients: pd.DataFrame, window: OfferWindow, profile: DailyProfile
                   ) -> pd.DataFrame:
    """Expected redemptions (with an interval) and revenue per store and day of the offer window.

    Returns
    -------
    DataFrame
        `DAILY_COLUMNS`: ``store_id, date, weekday, day`` (1 = first day),
        ``share`` (of the store's total on that day), ``expected``, ``low``,
        ``high`` (at ``fc.totals.confidence``) and ``revenue``. Empty when the
        forecast has no history.
    """
    if not fc.has_history:
        return pd.DataFrame(columns=DAILY_COLUMNS)
    totals = store_totals(fc, recipients)
    dates = window_days(window)
    share = profile.shares(dates)
    t = fc.totals
    z = z_value(t.confidence)
    rel = ((t.redemptions_high - t.redemptions_low) / (2 * z * t.redemptions)
           if t.redemptions > 0 and np.isfinite(t.redemptions_high) else 0.0)
    n_s, n_d = len(totals), len(dates)
    e = np.outer(totals["expected"].to_numpy(), share).ravel()
    sd = np.sqrt(e + (e * rel) ** 2)
    return pd.DataFrame({
        "store_id": np.repeat(totals.index.to_numpy(), n_d),
        "date": np.tile(dates.strftime("%Y-%m-%d").to_numpy(), n_s),
        "weekday": np.tile(np.array(WEEKDAYS)[dates.weekday], n_s),
        "day": np.tile(np.arange(1, n_d + 1), n_s),
        "share": np.tile(share, n_s), "expected": e,
        "low": np.maximum(e - z * sd, 0.0), "high": e + z * sd,
        "revenue": np.outer(totals["revenue"].to_numpy(), share).ravel(),
    })


def recipients_by_store_band(targets: pd.DataFrame, bands: Sequence[float], *, metric: str = "travel_min"
                             ) -> pd.DataFrame:
    """Treatment recipients per store and band of a target list: ``store_id, band, recipients``.

    Targets beyond the last band are counted in it (a saved campaign's own
    bands may differ from the current ones).
    """
    t = targets[(targets["group"].astype("string") == "treatment").to_numpy(bool)]
    labels = band_labels(bands)
    values = t[metric].to_numpy(float) if metric in t else np.full(len(t), np.nan)
    idx = band_index(values, bands)
    idx = np.where((idx < 0) & np.isfinite(values), len(labels) - 1, idx)
    idx = np.where(idx < 0, len(labels) - 1, idx)
    out = pd.DataFrame({"store_id": t["store_id"].astype(str).to_numpy(), "band": np.array(labels)[idx]})
    return out.groupby(["store_id", "band"], sort=True).size().rename("recipients").reset_index()


def campaign_daily_forecast(workspace: Workspace, name: str, bands: Sequence[float], *, mode: str = "drive",
                            history: Sequence[str] | None = None) -> tuple[pd.DataFrame, Forecast, DailyProfile]:
    """Daily demand per store for saved campaign ``name``, from the other campaigns' history.

    Parameters
    ----------
    workspace
        The workspace holding the campaign and its history.
    name
        A saved (planned or sent) campaign: its treatment targets and offer window.
    bands
        Band limits (minutes, or km in radius mode) the history is read in.
    mode
        The campaign's mode (``radius`` reads ``crow_km``).
    history
        Past campaigns to learn from (default: every other campaign).
    """
    targets = workspace.load_campaign_file(name, "targets")
    if targets is None:
        raise GeoError(f"campaign {name!r} has no target list in workspace {workspace.name!r}")
    window = campaign_window(workspace, name)
    others = [c for c in workspace.list_campaigns() if c != name] if history is None else list(history)
    metric = "crow_km" if mode == "radius" else "travel_min"
    rec = recipients_by_store_band(targets, bands, metric=metric)
    fc = forecast(workspace, rec.groupby("band")["recipients"].sum(), bands, mode=mode, only=others)
    profile = fit_profile(workspace, only=others)
    return daily_forecast(fc, rec, window, profile), fc, profile


def backtest(workspace: Workspace, fit_on: str, forecast_of: str, bands: Sequence[float], *,
             mode: str = "drive") -> tuple[pd.DataFrame, float]:
    """Fit on campaign ``fit_on``, forecast campaign ``forecast_of``, compare with its redemptions per store-day.

    Returns
    -------
    table, mape
        Per store and day: ``expected``, ``actual``, ``ape`` (absolute
        percentage error, NaN where nothing was redeemed); ``mape`` is the mean
        of ``ape`` over the store-days with redemptions, in percent.
    """
    daily, fc, _ = campaign_daily_forecast(workspace, forecast_of, bands, mode=mode, history=[fit_on])
    if not fc.has_history:
        raise GeoError(f"campaign {fit_on!r} has no provider events to learn from")
    actual = attributed_redemptions(workspace, forecast_of)
    got = actual.assign(date=pd.to_datetime(actual["date"]).dt.strftime("%Y-%m-%d")) \
        .groupby(["store_id", "date"]).size().rename("actual")
    out = daily.join(got, on=["store_id", "date"]).fillna({"actual": 0})
    out["actual"] = out["actual"].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ape"] = np.where(out["actual"] > 0, 100 * np.abs(out["expected"] - out["actual"]) / out["actual"],
                              np.nan)
    mape = float(np.nanmean(out["ape"])) if out["ape"].notna().any() else float("nan")
    return out, mape
