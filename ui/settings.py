"""Widget callbacks that keep the workspace's campaign settings (`geo.campaign_settings`)."""

from __future__ import annotations

import streamlit as st

from geo.campaign_settings import save_settings
from geo.catchments.trade_area import even_bands
from geo.modes import Mode
from geo.workspace import Workspace


def _save(ws: Workspace, **values: object) -> None:
    try:
        save_settings(ws, **values)
    except ValueError as exc:  # a widget's range keeps values valid; say so if one is not
        st.toast(f"Not kept: {exc}", icon="⚠️")


def save_on_change(ws: Workspace, field: str, key: str) -> None:
    """Keep the value of widget ``key`` as the workspace's setting ``field`` (a callback)."""
    _save(ws, **{field: st.session_state[key]})


def save_even_bands(ws: Workspace, mode: Mode, count_key: str, longest_key: str) -> None:
    """Keep ``count`` evenly spaced bands up to ``longest`` as ``mode``'s bands (a callback)."""
    bands = even_bands(float(st.session_state[longest_key]), int(st.session_state[count_key]))
    _save(ws, mode=mode, bands=bands)
