"""Ad platforms: hashed customer lists (Google Customer Match, Meta) and local ad targets (pins, postcodes)."""

from __future__ import annotations

from geo.ads.audiences import (
    COLUMNS,
    MIN_MEMBERS,
    PLATFORMS,
    AdAudience,
    AdsConsentMissing,
    ad_candidates,
    audience_rows,
    build_audience,
)
from geo.ads.pins import catchment_postcodes, covering_pins, in_catchment

__all__ = ["COLUMNS", "MIN_MEMBERS", "PLATFORMS", "AdAudience", "AdsConsentMissing",
           "ad_candidates", "audience_rows", "build_audience", "catchment_postcodes",
           "covering_pins", "in_catchment"]
