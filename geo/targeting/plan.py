"""Assemble a campaign's parameters once, for the Reach page and ``python -m geo reach`` alike.

A `CampaignPlan` is what a saved campaign remembers about how its target list
was drawn: the workspace's campaign settings (mode, traffic, costs, currency),
the bands up to the chosen catchment limit, the stores, the audience filters,
the holdout and its seed, the network and the reference date. `plan_campaign`
is the one function that builds it; `CampaignPlan.params` is what goes into
``campaign.json`` and what the Funnel reads back (`geo.funnel.campaign`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from geo.campaign_settings import CampaignSettings
from geo.modes import Mode
from geo.targeting.audience import AudienceFilters
from geo.targeting.live import bands_up_to


@dataclass(frozen=True)
class CampaignPlan:
    """How a campaign's target list is drawn (see the module notes).

    Attributes
    ----------
    settings
        The workspace's campaign settings when the list was drawn.
    bands
        Band limits up to the catchment limit, in the mode's unit.
    stores
        Ids of the stores on the map.
    filters
        Audience filters beyond the consent rule.
    holdout, seed
        Share held out per store and band, and the draw's seed.
    network
        The road network's source (None in radius mode without one).
    today
        Reference date of the recency filters and recent contacts (ISO).
    suppressed_addresses
        Addresses on the suppression list used.
    """

    settings: CampaignSettings
    bands: tuple[float, ...]
    stores: tuple[str, ...]
    filters: AudienceFilters
    holdout: float
    seed: int
    network: str | None
    today: str
    suppressed_addresses: int = 0

    @property
    def mode(self) -> Mode:
        """The catchment mode."""
        return self.settings.mode

    @property
    def traffic(self) -> float:
        """The drive speed factor used (1.0 for the other modes)."""
        return self.settings.traffic if self.mode is Mode.DRIVE else 1.0

    @property
    def limit(self) -> float:
        """The catchment's outer limit (minutes, or km for the radius)."""
        return self.bands[-1]

    def params(self) -> dict[str, Any]:
        """The parameters a saved campaign keeps (``campaign.json``'s ``params``)."""
        s = self.settings
        return {"mode": self.mode.value, "bands": list(self.bands), "unit": self.mode.unit,
                "traffic": self.traffic, "holdout": self.holdout, "seed": self.seed,
                "network": self.network, "stores": list(self.stores),
                "filters": self.filters.as_dict(), "today": self.today,
                "suppressed_addresses": self.suppressed_addresses,
                "cost_per_email": s.cost_per_email, "discount_value": s.discount_value,
                "currency": s.currency}


def plan_campaign(settings: CampaignSettings, *, limit: float, stores: Sequence[str],
                  filters: AudienceFilters | None = None, holdout: float, seed: int,
                  network: str | None, today: object, suppressed_addresses: int = 0,
                  mode: Mode | str | None = None) -> CampaignPlan:
    """Build the plan of a campaign from the workspace's settings and the choices made.

    Parameters
    ----------
    settings
        The workspace's campaign settings (`geo.campaign_settings.load_settings`).
    limit
        The catchment's outer limit (minutes, or km in radius mode); the bands
        are the settings' limits below it, then it.
    stores
        Ids of the stores on the map.
    filters
        Audience filters (default: none beyond consent).
    holdout, seed
        Share held out, in [0, 1), and the draw's seed.
    network
        The road network's source string.
    today
        Reference date (anything ``str()`` gives as an ISO date).
    suppressed_addresses
        Addresses on the suppression list in use.
    mode
        Overrides the settings' mode (e.g. ``--mode`` on the command line).
    """
    if not 0 <= float(holdout) < 1:
        raise ValueError(f"holdout share must be in [0, 1), got {holdout}")
    if mode is not None:
        settings = replace(settings, mode=Mode.parse(mode))
    return CampaignPlan(settings=settings, bands=tuple(bands_up_to(settings.bands, limit)),
                        stores=tuple(sorted(str(s) for s in stores)),
                        filters=filters or AudienceFilters(), holdout=float(holdout),
                        seed=int(seed), network=network, today=str(today),
                        suppressed_addresses=int(suppressed_addresses))
