"""Give freed memory back to the operating system while the server runs.

Under glibc a long-running Python server keeps the pages it freed (closed
sessions, evicted cache entries, the many short-lived frames of a rerun) in its
heap: the resident size stays near its peak although nothing uses them.
`heap_trimmer` starts one daemon thread per server. Every `POLL_S` seconds it
counts the sessions the server holds; when that count has fallen (Streamlit
dropped closed sessions), and in any case every `TRIM_EVERY_S` seconds, it runs
a full garbage collection (a dropped session is a web of reference cycles that
only a full collection frees, and an idle server allocates too little to
trigger one) and then glibc's ``malloc_trim(0)``, which returns whole free
pages to the system (it never moves or frees live objects). On other C
libraries it only collects.

Streamlit keeps a closed session for ``server.disconnectedSessionTTL`` seconds
(120 by default) so that a reconnecting tab gets it back, but removes it from
its store only when the store is next written (on an idle server, never), and
then without shutting it down, so the runtime keeps its download files and
dataframe sources. `reap_closed_sessions` removes the expired ones and shuts
them down, so memory goes back one TTL after the last tab closed, without
waiting for a new visitor.

`bench/bench_load.py` measures the effect (server memory after ten sessions
have closed, against its warm level).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
from collections.abc import Callable

import streamlit as st

_LOG = logging.getLogger(__name__)

TRIM_EVERY_S = 60.0
"""Seconds between two trims at the latest: each costs tens of milliseconds (the full collection) on the demo's heap."""

POLL_S = 5.0
"""Seconds between two counts of the server's sessions (a count costs microseconds)."""


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


def reap_closed_sessions(manager: object) -> int | None:
    """Shut down the closed sessions whose reconnection time has passed; the number of sessions held after.

    Parameters
    ----------
    manager : streamlit.runtime.websocket_session_manager.WebsocketSessionManager
        The server's session manager. Its store of closed sessions is a TTL
        cache (``server.disconnectedSessionTTL`` seconds) that Streamlit reaps
        only when it next writes to it, and then without shutting the sessions
        down: their download files, dataframe sources and uploads stay in the
        runtime's managers. Here the expired ones are removed under the
        manager's own storage lock (as Streamlit's writes to that store are)
        and shut down as `close_session` shuts down a stored session.

    Returns
    -------
    int or None
        Open plus closed-but-resumable sessions, or None when this Streamlit
        keeps its sessions differently (then nothing is touched).
    """
    try:
        active = manager._active_session_info_by_id
        store = manager._session_storage._cache
        lock = manager._storage_lock
        expire = store.expire
    except AttributeError:
        return None
    with lock:
        expired = [info.session for _, info in expire()]
        held = len(active) + len(store)
    for session in expired:
        try:
            session.shutdown()
        except Exception:  # noqa: BLE001 — one session's teardown must not stop the others' or the trimmer
            _LOG.warning("could not shut down expired session %s", getattr(session, "id", "?"), exc_info=True)
    return held


def server_session_count() -> int | None:
    """Sessions held by the running Streamlit server after `reap_closed_sessions`; None outside a server."""
    from streamlit import runtime

    if not runtime.exists():
        return None
    return reap_closed_sessions(getattr(runtime.get_instance(), "_session_mgr", None))


def _trim_forever(stop: threading.Event, every_s: float, poll_s: float,
                  count_sessions: Callable[[], int | None], trim: Callable[[], object]) -> None:
    """Trim when the session count falls, and every ``every_s`` seconds at the latest, until ``stop``."""
    held = count_sessions()
    waited = 0.0
    while not stop.wait(poll_s):
        waited += poll_s
        now = count_sessions()
        dropped = held is not None and now is not None and now < held
        held = now
        if dropped or waited >= every_s:
            trim()
            waited = 0.0


@st.cache_resource(show_spinner=False)
def heap_trimmer(every_s: float = TRIM_EVERY_S, poll_s: float = POLL_S) -> threading.Event:
    """Start the server's one collecting and trimming thread (once per process); the returned event stops it."""
    stop = threading.Event()
    threading.Thread(target=_trim_forever, args=(stop, every_s, poll_s, server_session_count,
                                                 collect_and_trim),
                     name="heap-trimmer", daemon=True).start()
    return stop
