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
    from ui.cache import ensure_demo

    root = data_root()
    ensure_demo(str(root))
    names = list_workspaces(root)
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
    from ui.cache import ensure_demo

    root = data_root()
    ensure_demo(str(root))
    name = st.session_state.get(WS_KEY, DEMO)
    if name not in list_workspaces(root):
        name = DEMO
    return open_workspace(name, root)


SHELL_KEY = "_app_shell_ran"


def mark_shell() -> None:
    """Called by app.py on every run: the entry script (navigation, sidebar) is in charge."""
    st.session_state[SHELL_KEY] = True


def ensure_app_shell() -> None:
    """Make a page opened by direct URL on a fresh server run inside app.py, not alone.

    Streamlit treats an app with a ``pages/`` folder as a legacy multipage app
    until the first `st.navigation` call, so the very first request for, say,
    ``/reach`` would run ``pages/reach.py`` without the entry script (no sidebar,
    no page config). Pages call this first: it switches Streamlit to the
    `st.navigation` mode and reruns, so app.py then routes to the same page.

    Under `AppTest` (whose runtime is a mock) it does nothing: AppTest resets the
    page mode before every run and drives page scripts on their own by design.
    """
    from unittest.mock import Mock

    from streamlit.runtime import Runtime
    from streamlit.runtime.pages_manager import PagesManager

    if st.session_state.get(SHELL_KEY) or not PagesManager.uses_pages_directory:
        return
    if isinstance(Runtime._instance, Mock):
        return
    PagesManager.uses_pages_directory = False
    st.rerun()
