"""Build the funnel's Altair charts from small pre-aggregated frames, and export them as PNG and CSV.

Every builder takes a frame that pandas has already aggregated (a few rows per
store, band, minute or day, never one row per customer), because the chart's
data travels to the browser with it. Each returns an ``altair.Chart`` (or layer)
whose data is exactly the frame given, so the page can offer that same frame
as the chart's CSV download (`table_csv`) next to its PNG (`chart_png`).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from geo.funnel.funnel import STAGES

PALETTE = {"treatment": "#1f77b4", "holdout": "#ff7f0e", "unattributed": "#9e9e9e"}
WIDTH = 520


def _require(df: pd.DataFrame, columns: list[str], chart: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{chart}: the table lacks column(s) {', '.join(missing)}; "
                         f"found {', '.join(map(str, df.columns)) or 'none'}")


def _group_scale() -> alt.Scale:
    return alt.Scale(domain=list(PALETTE), range=list(PALETTE.values()))


def funnel_chart(stages: pd.DataFrame, *, title: str = "Campaign funnel (unique customers)") -> alt.LayerChart:
    """Horizontal bars of customers per stage, labelled with the cumulative conversion.

    Parameters
    ----------
    stages
        `geo.funnel.funnel.stage_table` output: ``stage``, ``customers``, ``step_rate``,
        ``cumulative_rate``.
    """
    _require(stages, ["stage", "customers", "step_rate", "cumulative_rate"], "funnel_chart")
    order = [s for s in STAGES if s in set(stages["stage"])] or list(stages["stage"])
    base = alt.Chart(stages, title=title).encode(
        y=alt.Y("stage:N", sort=order, title=None),
        x=alt.X("customers:Q", title="Customers"),
        tooltip=[alt.Tooltip("stage:N"), alt.Tooltip("customers:Q", format=","),
                 alt.Tooltip("step_rate:Q", format=".1%", title="of previous stage"),
                 alt.Tooltip("cumulative_rate:Q", format=".1%", title="of targeted")])
    bars = base.mark_bar(color=PALETTE["treatment"])
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("cumulative_rate:Q", format=".1%"))
    chart: alt.LayerChart = (bars + labels).properties(width=WIDTH)
    return chart


def breakdown_chart(table: pd.DataFrame, by: str, *, label: str | None = None,
                    axis_title: str | None = None, title: str | None = None) -> alt.LayerChart:
    """Treatment redemption rate per value of ``by`` as bars, the holdout's rate as a tick.

    Parameters
    ----------
    table
        `geo.funnel.funnel.breakdown(journeys, by)` (index or column ``by``), with
        ``redemption_rate``, ``holdout_rate``, ``targeted``, ``redeemed``,
        ``revenue``.
    by
        The breakdown's key (``store_id``, ``band``, ``segment``...).
    label
        Column naming each bar on the axis (default ``by``; e.g. ``store_name``).
    axis_title, title
        Axis and chart titles (default from ``by``).
    """
    df = table.reset_index() if by not in table.columns else table
    label = label or by
    _require(df, [label, "redemption_rate", "holdout_rate", "targeted", "redeemed", "revenue"],
             "breakdown_chart")
    name = axis_title or by.replace("_id", "").replace("_", " ").capitalize()
    tooltip = [alt.Tooltip(f"{label}:N", title=name.lower()), alt.Tooltip("targeted:Q", format=","),
               alt.Tooltip("redeemed:Q", format=","),
               alt.Tooltip("redemption_rate:Q", format=".2%", title="treatment rate"),
               alt.Tooltip("holdout_rate:Q", format=".2%", title="holdout rate"),
               alt.Tooltip("revenue:Q", format=",.2f")]
    base = alt.Chart(df, title=title or f"Redemption rate by {name.lower()}").encode(
        x=alt.X(f"{label}:N", title=name, sort=None), tooltip=tooltip)
    bars = base.mark_bar(color=PALETTE["treatment"]).encode(
        y=alt.Y("redemption_rate:Q", title="Redemption rate", axis=alt.Axis(format="%")))
    ticks = base.mark_tick(color=PALETTE["holdout"], thickness=3, size=24).encode(y="holdout_rate:Q")
    chart: alt.LayerChart = (bars + ticks).properties(width=WIDTH)
    return chart


def store_chart(by_store: pd.DataFrame, *, label: str = "store_id",
                title: str = "Redemption rate by store") -> alt.LayerChart:
    """Treatment redemption rate per store as bars, the holdout's rate as a tick.

    Parameters
    ----------
    by_store
        `geo.funnel.funnel.breakdown(journeys, "store_id")` (index or column
        ``store_id``), with ``redemption_rate``, ``holdout_rate``, ``targeted``,
        ``redeemed``, ``revenue``.
    label
        Column naming the store on the axis (e.g. ``store_name`` when joined in).
    """
    return breakdown_chart(by_store, "store_id", label=label, axis_title="Store", title=title)


def decay_chart(curve: pd.DataFrame, *, title: str = "Redemption rate vs travel time") -> alt.LayerChart:
    """The distance-decay curve: rate per travel-minute bin with its interval band.

    Parameters
    ----------
    curve
        `geo.funnel.funnel.decay_curve` output: ``minutes``, ``targeted``, ``redeemed``,
        ``rate``, ``rate_low``, ``rate_high``.
    """
    _require(curve, ["minutes", "targeted", "redeemed", "rate", "rate_low", "rate_high"], "decay_chart")
    base = alt.Chart(curve, title=title).encode(x=alt.X("minutes:Q", title="Travel time (minutes)"))
    band = base.mark_area(opacity=0.2, color=PALETTE["treatment"]).encode(
        y=alt.Y("rate_low:Q", title="Redemption rate", axis=alt.Axis(format="%")), y2="rate_high:Q")
    line = base.mark_line(color=PALETTE["treatment"]).encode(y="rate:Q")
    points = base.mark_circle(color=PALETTE["treatment"]).encode(
        y="rate:Q", size=alt.Size("targeted:Q", title="Customers"),
        tooltip=[alt.Tooltip("minutes:Q", title="minutes (bin middle)"),
                 alt.Tooltip("targeted:Q", format=","), alt.Tooltip("redeemed:Q", format=","),
                 alt.Tooltip("rate:Q", format=".2%"), alt.Tooltip("rate_low:Q", format=".2%"),
                 alt.Tooltip("rate_high:Q", format=".2%")])
    chart: alt.LayerChart = (band + line + points).properties(width=WIDTH)
    return chart


def daily_chart(daily: pd.DataFrame, *, title: str = "Redemptions per day") -> alt.Chart:
    """Stacked bars of redemptions per day and group.

    Parameters
    ----------
    daily
        `geo.funnel.funnel.daily_redemptions` output: ``date``, ``group``,
        ``redemptions``, ``revenue``.
    """
    _require(daily, ["date", "group", "redemptions", "revenue"], "daily_chart")
    chart: alt.Chart = alt.Chart(daily, title=title).mark_bar().encode(
        x=alt.X("yearmonthdate(date):T", title="Day"),
        y=alt.Y("redemptions:Q", title="Redemptions"),
        color=alt.Color("group:N", scale=_group_scale(), title="Group"),
        tooltip=[alt.Tooltip("yearmonthdate(date):T", title="day"), "group:N",
                 alt.Tooltip("redemptions:Q", format=","), alt.Tooltip("revenue:Q", format=",.2f")],
    ).properties(width=WIDTH)
    return chart


def holdout_chart(lift: pd.DataFrame, *, title: str = "Treatment vs holdout") -> alt.LayerChart:
    """Redemption rate of each group with its confidence interval as an error bar.

    Parameters
    ----------
    lift
        `geo.funnel.lift.lift_table` output: ``group``, ``customers``, ``redeemed``,
        ``rate``, ``rate_low``, ``rate_high``.
    """
    _require(lift, ["group", "customers", "redeemed", "rate", "rate_low", "rate_high"], "holdout_chart")
    base = alt.Chart(lift, title=title).encode(x=alt.X("group:N", title=None, sort=list(PALETTE)))
    bars = base.mark_bar().encode(
        y=alt.Y("rate:Q", title="Redemption rate", axis=alt.Axis(format="%")),
        color=alt.Color("group:N", scale=_group_scale(), legend=None),
        tooltip=["group:N", alt.Tooltip("customers:Q", format=","),
                 alt.Tooltip("redeemed:Q", format=","), alt.Tooltip("rate:Q", format=".2%"),
                 alt.Tooltip("rate_low:Q", format=".2%"), alt.Tooltip("rate_high:Q", format=".2%")])
    errors = base.mark_rule(strokeWidth=2).encode(y="rate_low:Q", y2="rate_high:Q")
    chart: alt.LayerChart = (bars + errors).properties(width=WIDTH / 2)
    return chart


def _vl_version() -> str | None:
    import vl_convert as vlc
    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return wanted if wanted in vlc.get_vegalite_versions() else None


def chart_png(chart: alt.TopLevelMixin, *, scale: float = 2.0) -> bytes:
    """Render a chart to PNG bytes with vl-convert (no browser, no network).

    Parameters
    ----------
    chart
        Any Altair chart.
    scale
        Pixel density factor (2 gives crisp images on high-DPI screens).
    """
    import vl_convert as vlc
    png: bytes = vlc.vegalite_to_png(chart.to_dict(), vl_version=_vl_version(), scale=scale)
    return png


def table_csv(df: pd.DataFrame) -> bytes:
    """A chart's table as UTF-8 CSV bytes (index kept when it is named, dates as ISO text)."""
    keep_index = df.index.name is not None or any(n is not None for n in (df.index.names or []))
    csv: str = df.to_csv(index=keep_index, date_format="%Y-%m-%dT%H:%M:%S")
    return csv.encode("utf-8")
