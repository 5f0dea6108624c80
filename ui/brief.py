"""The campaign brief's download buttons (PDF and HTML), built only when clicked."""

from __future__ import annotations

import streamlit as st

from geo.brief.content import campaign_brief
from geo.brief.render import brief_html, brief_pdf
from geo.export.downloads import download_name
from geo.workspace import Workspace


def brief_downloads(ws: Workspace, campaign: str) -> None:
    """Two buttons: the campaign's brief for store managers as PDF and as HTML."""
    with st.expander("Brief for store managers (PDF)"):
        st.caption("One or two pages per campaign: a map of each store's targets, counts, the "
                   "offer window and code rules, expected redemptions per day where past "
                   "campaigns give a history, and how to key a code at the till.")
        left, right = st.columns(2)
        left.download_button("Download the brief (PDF)",
                             data=lambda: brief_pdf(campaign_brief(ws, campaign)),
                             file_name=download_name(campaign, layout="brief", fmt="pdf"), mime="application/pdf", on_click="ignore",
                             key="funnel_brief_pdf")
        right.download_button("Download the brief (HTML)",
                              data=lambda: brief_html(campaign_brief(ws, campaign)).encode("utf-8"),
                              file_name=download_name(campaign, layout="brief", fmt="html"), mime="text/html", on_click="ignore",
                              key="funnel_brief_html")
