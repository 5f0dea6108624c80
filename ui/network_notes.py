"""Say in the page what the road network could not do: stores it cannot place, and what its load found."""

from __future__ import annotations

import streamlit as st

from geo.network.routing import unplaced_message
from ui import engine


def show_network_notes(root: str, ws: str, sv: str, source: str, mode: str, store_ids: tuple[str, ...]) -> None:
    """Warn, naming them, about selected stores the ``mode`` network cannot place; caption its load notes.

    The notes (`geo.network.routing.Router.notes`) say how many pieces and nodes the
    network has, which ways were clipped, which nodes were set aside and which
    area test is used. Errors loading the network propagate (wrap the call in
    `ui.errors.shown_as_message`).
    """
    unplaced = engine.unplaced_stores(root, ws, sv, source, mode, store_ids)
    message = unplaced_message(unplaced, mode, len(store_ids))
    if message:
        st.warning(message, icon="⚠️")
    notes = engine.network_notes(source, mode)
    if notes:
        st.caption("**Road network:** " + " ".join(notes))
