"""The campaign brief for store managers: content (`geo.brief.content`) and its PDF and HTML (`geo.brief.render`)."""

from __future__ import annotations

from geo.brief.content import CampaignBrief, brief_summary, campaign_brief, map_shapes, with_locations
from geo.brief.render import brief_html, brief_pdf

__all__ = ["CampaignBrief", "brief_html", "brief_pdf", "brief_summary", "campaign_brief",
           "map_shapes", "with_locations"]
