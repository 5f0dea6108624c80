"""Session-wide choices (data root, active workspace) with one owner: this module."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from geo.workspace import DEMO, Workspace, default_root, list_workspaces, open_workspace

WS_KEY = "workspace"
"""Session key of the active workspace, and its query parameter (``?workspace=NAME``)."""


def data_root() -> Path:
    """The data root for this server (``$GEO_DATA_DIR`` or the project's data folder)."""
    return default_root()


def workspace_picker() -> str:
    """The sidebar's workspace selector, kept in the URL (``?workspace=NAME``).

    A reload, a bookmark or a shared link therefore opens the same workspace.
    A link naming a workspace that does not exist opens the demo and says so.
    Returns the active workspace's name.
    """
    names = list_workspaces(data_root())
    asked = st.query_params.get(WS_KEY)
    if asked and asked not in names and st.session_state.get(WS_KEY) != asked:
        st.warning(f"The link names workspace “{asked}”, which does not exist here: showing "
                   f"“{DEMO}”. Choose another workspace below.")
    name = st.selectbox("Workspace", names, index=names.index(DEMO) if DEMO in names else 0,
                        key=WS_KEY, bind="query-params",
                        help="Each workspace keeps its own customers, stores, settings and "
                             "campaigns on disk. The choice is part of the page's address, so "
                             "a reload or a shared link keeps it.")
    return str(name)


def active_workspace() -> Workspace:
    """The workspace chosen in the sidebar (the demo until the user picks another)."""
    root = data_root()
    name = st.session_state.get(WS_KEY, DEMO)
    if name not in list_workspaces(root):
        name = DEMO
    return open_workspace(name, root)
