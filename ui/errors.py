"""Show domain errors as messages in the page, never as tracebacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from geo.errors import GeoError


@contextmanager
def shown_as_message(what: str) -> Iterator[None]:
    """Run a block; a `GeoError` becomes an ``st.error`` saying what failed and why."""
    try:
        yield
    except GeoError as exc:
        st.error(f"{what}: {exc}", icon="⚠️")
        st.stop()


@contextmanager
def shown_inline(what: str) -> Iterator[None]:
    """Run a block; a `GeoError` becomes an ``st.error`` and the page goes on below it.

    Use it where a failure must change nothing the user set: the widgets below
    still render, so their values (selections, mode, bands) are kept.
    """
    try:
        yield
    except GeoError as exc:
        st.error(f"{what}: {exc}", icon="⚠️")
