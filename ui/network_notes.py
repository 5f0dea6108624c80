"""Say in the page what the road network could not do: stores it cannot place, and what its load found."""

from __future__ import annotations

import streamlit as st

from geo.network.stores import unplaced_message
from ui import engine
from ui.selection import Selection


def show_network_notes(sel: Selection) -> None:
    """Warn, naming them, about selected stores the selection's network cannot place; caption its load notes.

    The notes (`geo.network.routing.Router.notes`) say how many pieces and nodes the
    network has, which ways were clipped, which nodes were set aside and which
    area test is used. Errors loading the network propagate (wrap the call in
    `ui.errors.shown_as_message`).
    """
    unplaced = engine.unplaced_stores(sel)
    message = unplaced_message(unplaced, sel.mode, len(sel.stores))
    if message:
        st.warning(message, icon="⚠️")
    notes = engine.network_notes(sel.source, sel.mode)
    if notes:
        st.caption("**Road network:** " + " ".join(notes))
