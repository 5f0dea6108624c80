"""The reach page's live preview component: slider, headline counts and targets map in the browser.

The numbers and the map data come from `geo.targeting.preview` (`reach_curve`,
`targets_by_store`, `preview_map_json`), computed once per selection for
every slider step, cached here and served as static files; the browser
(``reach_preview.js``) only looks them up, so a slider move never waits for
the server. The chosen value comes back as the component's ``limit`` state
once the slider rests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from geo.modes import Mode
from geo.targeting.live import Overlap, overlap_index
from geo.targeting.preview import (
    preview_counts_json,
    preview_map_json,
    preview_stores,
    reach_curve,
    slider_steps,
    snap_to_step,
    targets_by_store,
)
from geo.targeting.reach import ReachIndex
from ui import cache
from ui import reach as ui
from ui.selection import Selection

_HERE = Path(__file__).parent
_COMPONENT = st.components.v2.component(
    "o2o.reach_preview", js=(_HERE / "reach_preview.js").read_text(encoding="utf-8"),
    css=(_HERE / "reach_preview.css").read_text(encoding="utf-8"), isolate_styles=False)


@st.cache_resource(show_spinner=False, max_entries=8)
def overlap(sel: Selection) -> Overlap:
    """`geo.targeting.live.overlap_index` of the page's assignment, shared and read-only."""
    customers = sel.customers() if sel.mode == Mode.RADIUS else None
    return overlap_index(ui.assignment(sel), sel.chosen_stores(), mode=sel.mode,
                         customers=customers)


@st.cache_data(show_spinner=False, max_entries=64)
def counts_url(sel: Selection, audience_key: str, holdout: float, _index: ReachIndex) -> str:
    """URL of the preview's counts for every step (`geo.targeting.preview.preview_counts_json`)."""
    over = overlap(sel)
    steps = slider_steps(sel.mode)
    return cache.publish_static("reach-counts", preview_counts_json(
        reach_curve(_index, over, steps, holdout=holdout), targets_by_store(_index, steps)))


@st.cache_data(show_spinner=False, max_entries=16)
def stores_payload(sel: Selection, audience_key: str, _index: ReachIndex) -> list[dict]:
    """`geo.targeting.preview.preview_stores` in the reach index's store order (that of the counts)."""
    return preview_stores(_index.stores)


@st.cache_data(show_spinner="Preparing the map of targets…", max_entries=16)
def map_url(sel: Selection, audience_key: str, _index: ReachIndex) -> str:
    """URL of `geo.targeting.preview.preview_map_json` served as a static file (fetched once)."""
    return cache.publish_static("reach-preview", preview_map_json(_index, slider_steps(sel.mode)))


def preview(*, key: str, mode: str, limit: float, counts_data_url: str, map_data_url: str,
            stores: list[dict], roads_url: str | None,
            on_change: Callable[[], None] | None = None) -> float:
    """Mount the preview; return the slider's settled value (minutes, or km in radius mode).

    Parameters
    ----------
    key
        Widget key; its state holds ``limit``.
    mode
        ``drive``, ``walk``, ``bike`` or ``radius``.
    limit
        Value to start from when the key has no state yet (snapped to a step).
    counts_data_url, map_data_url, stores
        `counts_url`, `map_url` and `stores_payload` output.
    roads_url
        URL of the road lines to draw under the targets, or None.
    on_change
        Called when the user settles on a new value.
    """
    steps = slider_steps(mode)
    radius = mode == Mode.RADIUS
    start = snap_to_step(limit, steps)
    current = st.session_state.get(key)
    settled = getattr(current, "limit", None) if current is not None else None
    shown = snap_to_step(settled, steps) if settled is not None else start
    result = _COMPONENT(
        key=key, default={"limit": start}, height="content",
        on_limit_change=on_change or (lambda: None),
        data={"kind": "km" if radius else "min",
              "label": "Radius (km)" if radius else "Travel time (minutes)",
              "unit": "km" if radius else "min", "min": float(steps[0]),
              "max": float(steps[-1]), "step": float(steps[1] - steps[0]),
              "steps": [float(x) if radius else int(x) for x in steps], "limit": shown,
              "counts_url": counts_data_url, "map_url": map_data_url, "roads_url": roads_url,
              "stores": stores})
    value = getattr(result, "limit", None)
    return snap_to_step(value if value is not None else start, steps)

