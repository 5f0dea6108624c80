"""Cached funnel computations and upload checks for the funnel page, plus its chart-with-downloads block.

Results are cached by plain values: the workspace and campaign names, the
campaign files' versions (`geo.funnel.campaign.campaign_versions`) and the
page's numeric inputs; uploads by their bytes. Never by DataFrames.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from geo.data.activity import ActivityImport, read_activity
from geo.data.ingest import check_file
from geo.data.validate import ValidationReport
from geo.funnel.campaign import analyse_campaign, upload_columns
from geo.funnel.funnel import FunnelResult
from geo.views.charts import chart_png, table_csv
from geo.workspace import open_workspace


@st.cache_data(show_spinner="Attributing redemptions and building the funnel…", max_entries=16)
def campaign_funnel(root: str, workspace: str, campaign: str, versions: tuple[str, ...],
                    cost_per_email: float, bin_min: float,
                    accept_typos: bool = False) -> FunnelResult:
    """`geo.funnel.campaign.analyse_campaign`, keyed by the campaign files' ``versions``."""
    ws = open_workspace(workspace, Path(root))
    return analyse_campaign(ws, campaign, cost_per_email=cost_per_email, bin_min=bin_min,
                            accept_typos=accept_typos)


@st.cache_data(show_spinner="Checking the activity export…", max_entries=8)
def checked_events(data: bytes, file_name: str, layout: str, sent_at: str | None,
                   campaign_id: str | None) -> ActivityImport:
    """Read and validate an uploaded provider export (`geo.data.activity.read_activity`)."""
    return read_activity(data, name=file_name, layout=layout, sent_at=sent_at,
                         campaign_id=campaign_id)


@st.cache_data(show_spinner=False, max_entries=8)
def upload_headers(data: bytes, file_name: str) -> list[str]:
    """Column headers of an uploaded table."""
    return upload_columns(data, name=file_name)


@st.cache_data(show_spinner="Checking the till export…", max_entries=8)
def checked_redemptions(data: bytes, file_name: str,
                        mapping: tuple[tuple[str, str], ...]) -> ValidationReport:
    """Validate an uploaded till export against `geo.data.schema.REDEMPTIONS` with ``mapping``."""
    return check_file(data, "redemptions", name=file_name, mapping=dict(mapping))


def chart_block(chart, table: pd.DataFrame, stem: str, key: str) -> None:
    """Show an Altair chart with "PNG" (rendered on click) and "CSV" (its table) downloads.

    Parameters
    ----------
    chart
        An Altair chart built from ``table`` (already aggregated).
    table
        The chart's data, offered as CSV.
    stem
        File name without extension.
    key
        Unique widget key prefix.
    """
    st.altair_chart(chart, key=f"{key}_chart")
    png, csv = st.columns(2, width=360)
    png.download_button("Chart as PNG", data=lambda: chart_png(chart), file_name=f"{stem}.png",
                        mime="image/png", key=f"{key}_png", on_click="ignore",
                        icon=":material/image:")
    csv.download_button("Table as CSV", data=lambda: table_csv(table), file_name=f"{stem}.csv",
                        mime="text/csv", key=f"{key}_csv", on_click="ignore",
                        icon=":material/table:")
