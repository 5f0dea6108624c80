"""The audit trail of the active workspace, as a table on the Data page."""

from __future__ import annotations

import streamlit as st

from geo.audit import audit_table, read_audit
from geo.text import plural
from geo.workspace import Workspace


def show_audit_trail(ws: Workspace, *, last: int = 200) -> None:
    """Show who downloaded, exported, imported or deleted what in ``ws``, newest first."""
    trail = read_audit(ws.root, ws.name)
    with st.expander(f"Audit trail of “{ws.name}” ({plural(len(trail.events), 'event')})"):
        if trail.events.empty:
            st.caption("Nothing recorded yet: downloads of target lists, exports to providers, "
                       "imports and deletions appear here.")
            return
        st.dataframe(audit_table(trail).head(last), hide_index=True)
        st.caption(f"Newest first; the last {last} shown. All of it: "
                   f"`python -m geo audit --workspace \"{ws.name}\" --json`."
                   + (f" {trail.damaged} damaged line(s) skipped." if trail.damaged else ""))
