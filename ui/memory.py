"""Give freed memory back to the operating system while the server runs.

Under glibc a long-running Python server keeps the pages it freed (closed
sessions, evicted cache entries, the many short-lived frames of a rerun) in its
heap: the resident size stays near its peak although nothing uses them.
`heap_trimmer` starts one daemon thread per server that, every `TRIM_EVERY_S`
seconds, runs a full garbage collection (a dropped session is a web of
reference cycles that only a full collection frees, and an idle server
allocates too little to trigger one) and then glibc's ``malloc_trim(0)``, which
returns whole free pages to the system (it never moves or frees live objects).
On other C libraries it only collects.

`bench/bench_load.py` measures the effect (server memory after ten sessions
have closed, against its warm level).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading

import streamlit as st

TRIM_EVERY_S = 60.0
"""Seconds between two trims: each costs tens of milliseconds (the full collection) on the demo's heap."""


def _malloc_trim() -> ctypes._CFuncPtr | None:
    """The C library's ``malloc_trim`` (glibc), or None when the C library has none (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def trim_heap() -> bool:
    """Return the C heap's free pages to the operating system now; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def collect_and_trim() -> bool:
    """Free unreachable reference cycles, then return free pages (`trim_heap`); False if only collected."""
    gc.collect()
    return trim_heap()


def _trim_forever(stop: threading.Event, every_s: float) -> None:
    while not stop.wait(every_s):
        collect_and_trim()


@st.cache_resource(show_spinner=False)
def heap_trimmer(every_s: float = TRIM_EVERY_S) -> threading.Event:
    """Start the server's one collecting and trimming thread (once per process); the returned event stops it."""
    stop = threading.Event()
    threading.Thread(target=_trim_forever, args=(stop, every_s), name="heap-trimmer",
                     daemon=True).start()
    return stop
