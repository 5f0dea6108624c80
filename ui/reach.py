"""Cached wrappers for the reach page: one assignment per (mode, traffic, stores), audiences, map URLs.

The assignment, the audience and the reach index are shared
`st.cache_resource` objects (nothing is recomputed or unpickled per rerun);
the assignment is computed once per (mode, traffic, stores), the audience
once per set of filters. A catchment-slider move is answered in the browser
(`ui.reach_preview`); only its settled value reruns the page's details.
Everything here is keyed by plain values and workspace table versions.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from geo.modes import Mode
from geo.targeting.audience import Audience, AudienceFilters, prepare_audience
from geo.targeting.preview import KM_MAX
from geo.targeting.reach import ReachIndex, index_reach
from geo.targeting.suppression import recently_contacted
from geo.workspace import open_workspace
from ui import engine
from ui.selection import Selection

DRAFTS_KEY = "reach_drafts"


def campaigns_version(root: str, workspace: str) -> str:
    """A string that changes whenever a campaign of the workspace is saved or gets new files."""
    folder = open_workspace(workspace, Path(root)).campaigns_dir()
    if not folder.exists():
        return "none"
    stamps = sorted(f"{p.relative_to(folder)}:{p.stat().st_mtime_ns}:{p.stat().st_size}"
                    for p in folder.glob("*/*") if p.is_file())
    return hashlib.sha1("|".join(stamps).encode()).hexdigest()[:16]


@st.cache_resource(show_spinner="Routing customers to their nearest store…", max_entries=8)
def assignment(sel: Selection) -> pd.DataFrame:
    """Nearest store per customer for ``mode``.

    In radius mode, crow-flies up to `geo.targeting.preview.KM_MAX` km (the slider's end).

    Shared and read-only: a slider move only thresholds it (never copy or mutate it).
    """
    if sel.mode == Mode.RADIUS:
        return engine.radius_assignment(sel, KM_MAX)
    return engine.assignment(sel)


@st.cache_data(show_spinner=False, max_entries=16)
def contacted(root: str, ws: str, campaigns: str, days: int, today: str) -> list[str]:
    """E-mail keys contacted by the workspace's campaigns in the ``days`` days before ``today``."""
    return recently_contacted(open_workspace(ws, Path(root)), days, today).tolist()


@st.cache_data(show_spinner=False, max_entries=8)
def saved_suppression(root: str, ws: str, version: str) -> tuple[list[str], dict | None]:
    """`geo.targeting.suppression.saved_suppression` of the workspace (``version``: the table's version)."""
    from geo.targeting.suppression import saved_suppression as load

    keys, about = load(open_workspace(ws, Path(root)))
    return keys.tolist(), about


def suppression_digest(addresses: list[str]) -> str:
    """Short digest of a suppression list (its cache key)."""
    return hashlib.sha1("\n".join(sorted(addresses)).encode()).hexdigest()[:16]


@st.cache_resource(show_spinner="Applying the audience rules…", max_entries=8)
def audience(sel: Selection, filters_json: str, suppression_key: str,
             _suppression: tuple[str, ...], campaigns: str, today: str) -> Audience:
    """Per-customer consent and filter flags (`geo.targeting.audience.prepare_audience`), shared, read-only.

    ``filters_json`` is `AudienceFilters.as_dict` as JSON; ``suppression_key``
    is `suppression_digest` of ``_suppression``.
    """
    filters = AudienceFilters(**{k: (tuple(v) if isinstance(v, list) else v)
                                 for k, v in json.loads(filters_json).items()})
    customers = sel.customers()
    recent = (contacted(sel.root, sel.workspace, campaigns, filters.exclude_contacted_days, today)
              if filters.exclude_contacted_days is not None else None)
    return prepare_audience(customers, filters=filters, suppression=list(_suppression),
                            contacted=recent, today=today)


@st.cache_resource(show_spinner="Applying the audience rules to the catchments…", max_entries=8)
def reach_index(sel: Selection, audience_key: str, _audience: Audience) -> ReachIndex:
    """`geo.targeting.reach.index_reach` of an audience over the assignment, shared and read-only.

    ``audience_key`` identifies ``_audience`` (the arguments of `audience`).
    A minutes-slider move then only calls `ReachIndex.at`.
    """
    return index_reach(_audience, assignment(sel), sel.chosen_stores(), mode=sel.mode)


@st.cache_data(show_spinner=False, max_entries=8)
def chart_spec(kind: str, unit: str = "min") -> dict:
    """Vega-Lite spec (no data) of a reach chart, built with Altair once: ``waterfall`` or ``histogram``."""
    from geo.targeting.reach import STAGE_LABELS, STAGES
    from geo.views import reach_charts as rc

    if kind == "waterfall":
        sample = pd.DataFrame({"stage": list(STAGES), "label": [STAGE_LABELS[s] for s in STAGES],
                               "customers": 0, "removed": 0})
        return rc.chart_spec(rc.waterfall_chart(rc.waterfall_table(sample)))
    sample = pd.DataFrame({"bin_start": [0.0], "bin_end": [1.0], "treatment": [0], "holdout": [0]})
    return rc.chart_spec(rc.travel_histogram_chart(rc.histogram_table(sample), unit=unit))


@st.cache_data(show_spinner=False, max_entries=64)
def expected_outcome(root: str, ws: str, campaigns: str, recipients: tuple[tuple[str, int], ...],
                     bands: tuple[float, ...], mode: str, cost_per_email: float,
                     discount_value: float):
    """`geo.targeting.forecast.forecast` for treatment recipients per band label (history keyed by version)."""
    from geo.targeting.forecast import forecast

    per_band = pd.Series(dict(recipients), dtype="int64")
    return forecast(open_workspace(ws, Path(root)), per_band, list(bands), mode=mode,
                    cost_per_email=cost_per_email, discount_value=discount_value)


class Draft:
    """A target list with coupon codes, drawn once per selection and kept for the session.

    Downloads and the saved campaign then carry the same codes. ``build`` is
    called at most once (on the first download or save); it may run in a
    download's own thread, hence the lock.
    """

    def __init__(self, key: str, build: Callable[[], pd.DataFrame]):
        self.key = key
        self._build = build
        self._lock = threading.Lock()
        self._targets: pd.DataFrame | None = None
        self.saved_as: str | None = None

    def targets(self) -> pd.DataFrame:
        """The target list (built on first use)."""
        with self._lock:
            if self._targets is None:
                self._targets = self._build()
            return self._targets

    def redraw(self) -> pd.DataFrame:
        """Draw new codes (a second campaign from the same selection needs its own)."""
        with self._lock:
            self._targets = self._build()
            self.saved_as = None
            return self._targets


def draft(key: str, build: Callable[[], pd.DataFrame]) -> Draft:
    """The session's `Draft` for selection ``key`` (a new one when the selection changed)."""
    drafts: dict[str, Draft] = st.session_state.setdefault(DRAFTS_KEY, {})
    if key not in drafts:
        drafts.clear()  # one selection at a time: older drafts are never saved
        drafts[key] = Draft(key, build)
    return drafts[key]


def selection_key(**params) -> str:
    """Digest of the parameters that define a target list."""
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
