"""Keep automation rules for new leads in the workspace: catchment, filters, holdout, provider, tag.

A rule says who a new lead must be to get the welcome (within ``limit``
minutes of a store by ``mode``, or ``limit`` km in radius mode, and passing
the audience filters), how many are held out, where the treatment goes
(provider and list) and which tag or list starts the provider's own
automation (``tag``, with ``{store_id}`` replaced per recipient: a Mailchimp
tag ``o2o-welcome-S01``, or a Klaviyo list that a flow listens to). Rules
live in the workspace settings under ``"sync_rules"``, keyed by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from geo.errors import WorkspaceError
from geo.modes import Mode
from geo.targeting.audience import AudienceFilters
from geo.workspace import Workspace, check_name

KEY = "sync_rules"
"""Where the rules live in ``Workspace.settings()``."""
PROVIDERS = ("mailchimp", "klaviyo", "sendgrid", "brevo")
DEFAULT_TAG = "o2o-welcome-{store_id}"


def _tuple(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    out = tuple(str(v).strip() for v in value if str(v).strip())
    return out or None


def filters_from_dict(values: dict[str, Any] | None) -> AudienceFilters:
    """`AudienceFilters` from their JSON form (`AudienceFilters.as_dict`); unknown keys refused."""
    values = dict(values or {})
    unknown = set(values) - set(AudienceFilters.__dataclass_fields__)
    if unknown:
        raise WorkspaceError(f"unknown audience filter(s) {', '.join(sorted(unknown))}")
    for k in ("segments", "location_sources"):
        if k in values:
            values[k] = _tuple(values[k])
    return AudienceFilters(**values)


@dataclass(frozen=True)
class SyncRule:
    """One automation rule (see the module notes).

    Attributes
    ----------
    name
        The rule's name (letters, digits, spaces, ``.``, ``_``, ``-``).
    provider, list_id
        Where the treatment goes: ``mailchimp``, ``klaviyo``, ``sendgrid`` or
        ``brevo``, and the audience/list id there.
    mode
        ``walk``, ``bike``, ``drive`` or ``radius``.
    limit
        Catchment limit: minutes for the travel modes, km in radius mode.
    filters
        Audience filters beyond the consent rule.
    holdout
        Share of each run's eligible new leads held out, in [0, 1).
    seed
        Seed of the holdout draw (each run adds its run number).
    tag
        Tag added to every recipient; ``{store_id}`` becomes the store's id.
    offer_days
        Length of the offer, in days from the day of the run.
    network
        Road network source for the travel modes (a file or ``demo``).
    traffic
        Drive speed factor (1.0 free flow).
    include_existing
        False (default): the first run records the customers already there as
        seen and sends nothing; only leads that appear later are welcomed.
        True: the first run welcomes every eligible customer.
    """

    name: str
    provider: str
    list_id: str
    mode: str = "walk"
    limit: float = 10.0
    filters: AudienceFilters = field(default_factory=AudienceFilters)
    holdout: float = 0.10
    seed: int = 0
    tag: str = DEFAULT_TAG
    offer_days: int = 7
    network: str | None = None
    traffic: float = 1.0
    include_existing: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", check_name(self.name))
        provider = str(self.provider).strip().lower()
        if provider not in PROVIDERS:
            raise WorkspaceError(f"rule {self.name!r}: unknown provider {self.provider!r}; use one "
                                 f"of {', '.join(PROVIDERS)}")
        object.__setattr__(self, "provider", provider)
        if not str(self.list_id).strip():
            raise WorkspaceError(f"rule {self.name!r}: the provider list id is empty")
        object.__setattr__(self, "list_id", str(self.list_id).strip())
        try:
            object.__setattr__(self, "mode", Mode.parse(self.mode).value)
        except ValueError as exc:
            raise WorkspaceError(f"rule {self.name!r}: {exc}") from None
        checks: tuple[tuple[str, float, Callable[[float], bool], str], ...] = (("limit", float(self.limit), lambda v: v > 0, "a positive number"),
                  ("holdout", float(self.holdout), lambda v: 0 <= v < 1, "in [0, 1)"),
                  ("offer_days", float(self.offer_days), lambda v: v >= 1, "at least 1"),
                  ("traffic", float(self.traffic), lambda v: v > 0, "a positive number"))
        for name, value, ok, what in checks:
            if not math.isfinite(value) or not ok(value):
                raise WorkspaceError(f"rule {self.name!r}: {name} must be {what}, got {value}")
        object.__setattr__(self, "offer_days", int(self.offer_days))
        if isinstance(self.filters, dict):
            object.__setattr__(self, "filters", filters_from_dict(self.filters))
        if self.mode != Mode.RADIUS.value and not self.network:
            raise WorkspaceError(f"rule {self.name!r}: mode {self.mode} needs a road network "
                                 "(a file or 'demo'); use mode radius without one")

    @property
    def unit(self) -> str:
        """``min`` or ``km``."""
        return Mode.parse(self.mode).unit

    def tag_for(self, store_id: str) -> str:
        """The tag of a recipient of store ``store_id``."""
        return self.tag.replace("{store_id}", str(store_id))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values (as stored in the workspace)."""
        out = asdict(self)
        out["filters"] = self.filters.as_dict()
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SyncRule:
        """A rule from its stored form; unknown keys are ignored (older or newer versions)."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError as exc:
            raise WorkspaceError(f"sync rule {values.get('name')!r} is incomplete: {exc}") from None

    def edited(self, **changes: Any) -> SyncRule:
        """A copy with ``changes`` applied (and checked)."""
        return replace(self, **changes)


def _stored(workspace: Workspace) -> dict[str, dict[str, Any]]:
    return dict(workspace.settings().get(KEY) or {})


def list_rules(workspace: Workspace) -> list[SyncRule]:
    """The workspace's rules, by name."""
    return [SyncRule.from_dict(v) for _, v in sorted(_stored(workspace).items())]


def load_rule(workspace: Workspace, name: str) -> SyncRule:
    """The rule called ``name``; `WorkspaceError` naming the known rules when there is none."""
    stored = _stored(workspace)
    if name not in stored:
        known = ", ".join(sorted(stored)) or "none"
        raise WorkspaceError(f"no sync rule {name!r} in workspace {workspace.name!r} "
                             f"(known: {known}); create it on the Export page")
    return SyncRule.from_dict(stored[name])


def save_rule(workspace: Workspace, rule: SyncRule) -> SyncRule:
    """Store ``rule`` (replacing one of the same name) and return it."""
    stored = _stored(workspace)
    stored[rule.name] = rule.as_dict()
    workspace.update_settings(**{KEY: stored})
    return rule


def delete_rule(workspace: Workspace, name: str) -> None:
    """Remove the rule ``name`` (its runs stay in the sync state for the record)."""
    stored = _stored(workspace)
    stored.pop(name, None)
    workspace.update_settings(**{KEY: stored})
