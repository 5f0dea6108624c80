"""Session-wide choices (data root, active workspace) with one owner: this module."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from geo.workspace import DEMO, Workspace, default_root, list_workspaces, open_workspace

WS_KEY = "workspace"


def data_root() -> Path:
    """The data root for this server (``$GEO_DATA_DIR`` or the project's data folder)."""
    return default_root()


def active_workspace() -> Workspace:
    """The workspace chosen in the sidebar (the demo until the user picks another)."""
    from ui.cache import ensure_demo

    root = data_root()
    ensure_demo(str(root))
    name = st.session_state.get(WS_KEY, DEMO)
    if name not in list_workspaces(root):
        name = DEMO
    return open_workspace(name, root)
