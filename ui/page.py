"""The few lines every page starts with: the active workspace and the page's title."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from geo.workspace import Workspace
from ui.state import active_workspace


@dataclass(frozen=True)
class PageStart:
    """What a page needs first: the active workspace and its data root (as text, a cache key)."""

    ws: Workspace
    root: str

    @property
    def settings(self) -> dict[str, Any]:
        """The workspace's saved settings, read now."""
        return self.ws.settings()


def start_page(title: str, caption: str | None = None) -> PageStart:
    """Show the page's title (and a caption) for the active workspace; return the workspace."""
    ws = active_workspace()
    st.title(title)
    if caption:
        st.caption(caption)
    return PageStart(ws=ws, root=str(ws.root))
