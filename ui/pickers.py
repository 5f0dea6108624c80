"""Pickers shared by the pages: stores (with "all" and "none") and settings-backed choices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st


def _set(key: str, value: list[str]) -> None:
    st.session_state[key] = value


def store_picker(label: str, names: Mapping[str, str], key: str, *,
                 help: str | None = None) -> list[str]:
    """A multiselect of stores (all chosen at first) with "All" and "None" buttons.

    Parameters
    ----------
    label
        The widget's label.
    names
        ``{store_id: name}`` in the order to offer them.
    key
        Session key of the selection (kept for the session, across pages).
    help
        Tooltip of the multiselect.
    """
    ids: Sequence[str] = list(names)
    if key not in st.session_state:
        st.session_state[key] = list(ids)
    elif not set(st.session_state[key]) <= set(ids):  # stores of another workspace
        st.session_state[key] = [s for s in st.session_state[key] if s in ids] or list(ids)
    chosen = st.multiselect(label, ids, key=key, format_func=lambda s: f"{names[s]} ({s})",
                            help=help, persist_state="session")
    left, right = st.columns(2)
    left.button("All stores", key=f"{key}_all", on_click=_set, args=(key, list(ids)),
                width="stretch")
    right.button("No store", key=f"{key}_none", on_click=_set, args=(key, []), width="stretch")
    return list(chosen)
