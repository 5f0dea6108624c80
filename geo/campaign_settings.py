"""Keep one set of campaign settings per workspace, used by every page and the saved campaign.

The catchment mode, its bands (travel minutes and radius kilometres, each kept
so that switching mode loses nothing), the drive traffic factor, the cost per
e-mail, the discount per redeemed coupon and the currency are set on whichever
page the marketer is on and read by all the others: Catchments, Reach, the
campaign saved from Reach and the Funnel. They live in the workspace's
settings under ``"campaign"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from geo.modes import Mode
from geo.money import check_currency, default_currency
from geo.workspace import Workspace

KEY = "campaign"
"""Where the settings live in ``Workspace.settings()``."""


def _bands(values: Iterable[float | str], what: str) -> tuple[float, ...]:
    """Sorted distinct band limits; ValueError for anything else (settings files are JSON)."""
    try:
        out = tuple(sorted({float(v) for v in values}))
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers, got {values!r}") from None
    if not out or out[0] <= 0 or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} must be positive numbers, got {values!r}")
    return out


@dataclass(frozen=True)
class CampaignSettings:
    """A workspace's campaign settings.

    Attributes
    ----------
    mode
        The catchment mode (`geo.modes.Mode`).
    minutes
        Travel-time band limits in minutes (walk, bike, drive).
    km
        Radius band limits in kilometres.
    traffic
        Drive speed factor (1.0 free flow, 0.7 = 30 % slower).
    cost_per_email
        Cost of one sent e-mail, in ``currency``.
    discount_value
        Value of the discount per redeemed coupon, in ``currency``.
    currency
        ISO 4217 code of every money figure.
    """

    mode: Mode = Mode.WALK
    minutes: tuple[float, ...] = (5.0, 10.0, 15.0)
    km: tuple[float, ...] = (0.5, 1.0, 2.0)
    traffic: float = 1.0
    cost_per_email: float = 0.002
    discount_value: float = 5.0
    currency: str = "EUR"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode.parse(self.mode))
        object.__setattr__(self, "minutes", _bands(self.minutes, "band minutes"))
        object.__setattr__(self, "km", _bands(self.km, "band kilometres"))
        object.__setattr__(self, "currency", check_currency(self.currency))
        for name in ("traffic", "cost_per_email", "discount_value"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0 or (name == "traffic" and value == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'traffic' else 'non-negative'}"
                                 f" number, got {value}")
            object.__setattr__(self, name, value)

    @property
    def bands(self) -> tuple[float, ...]:
        """The band limits of the current mode, in its unit (minutes or km)."""
        return self.bands_for(self.mode)

    def bands_for(self, mode: Mode | str) -> tuple[float, ...]:
        """The band limits kept for ``mode``."""
        return self.minutes if Mode.parse(mode).is_travel else self.km

    def with_bands(self, mode: Mode | str, bands: tuple[float, ...] | list[float]) -> CampaignSettings:
        """A copy with ``bands`` as the limits of ``mode`` (minutes or km)."""
        limits = tuple(bands)
        return replace(self, minutes=limits) if Mode.parse(mode).is_travel else replace(self, km=limits)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values (as stored in the workspace and in a saved campaign)."""
        out = asdict(self)
        out["mode"] = self.mode.value
        out["minutes"], out["km"] = list(self.minutes), list(self.km)
        return out


def _legacy(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings kept under older keys (before one set served every page)."""
    reach = settings.get("reach") or {}
    found = {"mode": settings.get("mode"), "minutes": settings.get("minutes"),
             "km": settings.get("km"), "traffic": reach.get("traffic"),
             "cost_per_email": reach.get("cost_per_email", settings.get("funnel_cost_per_email")),
             "discount_value": reach.get("discount_value")}
    return {k: v for k, v in found.items() if v not in (None, [], "")}


def load_settings(workspace: Workspace) -> CampaignSettings:
    """The workspace's campaign settings; defaults (currency from the locale) where unset.

    Values that no longer parse fall back to the defaults rather than fail.
    """
    settings = workspace.settings()
    values = {"currency": default_currency(), **_legacy(settings), **(settings.get(KEY) or {})}
    try:
        return CampaignSettings(**{k: v for k, v in values.items()
                                   if k in CampaignSettings.__dataclass_fields__})
    except (TypeError, ValueError):
        return CampaignSettings(currency=default_currency())


def save_settings(workspace: Workspace, **changes: Any) -> CampaignSettings:
    """Change some settings, check them, store them all and return them.

    Raises
    ------
    ValueError
        A value is out of range (the stored settings are unchanged).
    """
    current = load_settings(workspace)
    if "bands" in changes:
        current = current.with_bands(changes.get("mode", current.mode), changes.pop("bands"))
    new = replace(current, **changes)
    workspace.update_settings(**{KEY: new.as_dict()})
    return new
