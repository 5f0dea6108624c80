"""Altair charts of the reach page, built from small pre-aggregated frames (a few rows each).

Only aggregates travel to the browser: the waterfall has one row per stage and
the histogram one row per bin and group, whatever the number of customers.

Each chart comes in two parts so a slider move stays cheap: a ``*_table``
function shapes the aggregate in pandas (run on every move), and a
``*_chart`` function builds the Altair chart from such a table. Building and
validating an Altair chart takes tens of milliseconds, so the page builds each
chart once, keeps `chart_spec` (the Vega-Lite spec without its data) and sends
the new table with it on every move.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from geo.targeting.reach import STAGES

GROUP_COLOURS = {"treatment": "#1f77b4", "holdout": "#ff7f0e"}
HEIGHT = 190


def waterfall_table(waterfall: pd.DataFrame) -> pd.DataFrame:
    """Chart data of the waterfall: ``order, label, customers, removed, note``.

    Parameters
    ----------
    waterfall
        ``Reach.waterfall``: ``stage, label, customers, removed``.
    """
    return pd.DataFrame({
        "order": [STAGES.index(s) if s in STAGES else i
                  for i, s in enumerate(waterfall["stage"])],
        "label": waterfall["label"].astype(str).to_numpy(),
        "customers": waterfall["customers"].astype("int64").to_numpy(),
        "removed": waterfall["removed"].astype("int64").to_numpy(),
        "note": ["" if i == 0 else f"−{r:,}" for i, r in enumerate(waterfall["removed"])],
    })


def waterfall_chart(table: pd.DataFrame, *, title: str = "Who each rule removes") -> alt.LayerChart:
    """Horizontal bars of customers left after each stage, labelled with how many it removed.

    Parameters
    ----------
    table
        `waterfall_table` output.
    """
    base = alt.Chart(table, title=title).encode(
        y=alt.Y("label:N", sort=alt.EncodingSortField("order"), title=None),
        x=alt.X("customers:Q", title="Customers"),
        tooltip=[alt.Tooltip("label:N", title="stage"),
                 alt.Tooltip("customers:Q", format=","),
                 alt.Tooltip("removed:Q", format=",", title="removed by this stage")])
    bars = base.mark_bar(color=GROUP_COLOURS["treatment"])
    text = base.mark_text(align="left", dx=4, color="#555").encode(text="note:N")
    chart: alt.LayerChart = (bars + text).properties(height=HEIGHT)
    return chart


def histogram_table(histogram: pd.DataFrame) -> pd.DataFrame:
    """Chart data of the travel histogram: ``bin_start, bin_end, group, targets`` (long form).

    Parameters
    ----------
    histogram
        `geo.targeting.reach.travel_histogram` output: ``bin_start, bin_end, treatment, holdout``.
    """
    return histogram.melt(id_vars=["bin_start", "bin_end"], value_vars=["treatment", "holdout"],
                          var_name="group", value_name="targets")


def travel_histogram_chart(table: pd.DataFrame, *, unit: str = "min") -> alt.Chart:
    """Stacked bars of targets per bin of travel minutes (or km), treatment and holdout.

    Parameters
    ----------
    table
        `histogram_table` output.
    unit
        ``"min"`` or ``"km"`` (axis title).
    """
    what = "Distance (km)" if unit == "km" else "Travel time (minutes)"
    title = "Targets by distance" if unit == "km" else "Targets by travel time"
    chart: alt.Chart = alt.Chart(table, title=title).mark_bar().encode(
        x=alt.X("bin_start:Q", bin="binned", title=what),
        x2="bin_end:Q",
        y=alt.Y("targets:Q", stack=True, title="Targets"),
        color=alt.Color("group:N", scale=alt.Scale(domain=list(GROUP_COLOURS),
                                                   range=list(GROUP_COLOURS.values())),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=[alt.Tooltip("bin_start:Q", title="from"), alt.Tooltip("bin_end:Q", title="to"),
                 "group:N", alt.Tooltip("targets:Q", format=",")],
    ).properties(height=HEIGHT)
    return chart


def chart_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite spec without its data (``data``/``datasets`` removed).

    Pass it with a table of the same columns to ``st.vega_lite_chart(table, spec)``:
    every layer reads the table given there.
    """
    spec = chart.to_dict()
    spec.pop("datasets", None)
    spec.pop("data", None)
    for layer in spec.get("layer", []):
        layer.pop("data", None)
    return spec
