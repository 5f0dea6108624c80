"""The server's heap trimmer: freed C-heap pages go back to the system; one thread per server."""

from __future__ import annotations

import threading

import psutil
import pytest

from ui import memory

POLL = 2.0 ** -10
"""The test loop's poll interval, seconds (exact in binary)."""

glibc = pytest.mark.skipif(memory._malloc_trim() is None, reason="needs glibc's malloc_trim")


@glibc
def test_trim_returns_freed_pages_that_the_heap_kept():
    rss = psutil.Process().memory_info
    blocks = [bytearray(4096) for _ in range(60_000)]      # ~250 MB from malloc (above obmalloc's 512 B)
    pin = blocks[-1]                                       # the top of the heap stays in use
    del blocks                                             # freed, but kept by the heap below ``pin``
    kept = rss().rss
    assert memory.trim_heap() is True
    returned = kept - rss().rss
    assert returned > 100e6, f"only {returned / 1e6:.0f} MB returned"
    assert len(pin) == 4096


@glibc
def test_one_trimming_thread_per_server(demo_env):
    from tests.conftest import run_app

    def trimmers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "heap-trimmer"}

    older = trimmers()                 # started by earlier AppTests in this process
    memory.heap_trimmer.clear()        # as a fresh server: no trimmer cached yet
    for _ in range(2):
        at = run_app()
        assert not at.exception, at.exception
    started = list(trimmers() - older)
    assert len(started) == 1 and started[0].daemon
    stop = memory.heap_trimmer()
    assert isinstance(stop, threading.Event)
    stop.set()
    started[0].join(timeout=5)
    assert not started[0].is_alive()
    memory.heap_trimmer.clear()


def test_without_glibc_the_thread_only_collects(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.trim_heap() is False
    assert memory.collect_and_trim() is False


def test_a_dropped_cycle_is_freed_by_the_collection():
    import gc
    import weakref

    class Node:
        pass

    gc.disable()                       # as on an idle server: no automatic collection runs
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a        # a cycle, like a closed session's objects
        alive = weakref.ref(a)
        del a, b
        assert alive() is not None     # unreachable but not freed yet
        memory.collect_and_trim()
        assert alive() is None
    finally:
        gc.enable()


def _session_manager(ttl_s: int):
    """Streamlit's own session manager over its own closed-session store (TTL ``ttl_s``)."""
    from streamlit.runtime.memory_session_storage import MemorySessionStorage
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

    return WebsocketSessionManager(MemorySessionStorage(ttl_seconds=ttl_s), None, ScriptCache(), None)


def _close(manager, session) -> None:
    """Store ``session`` as Streamlit does when its tab closes (kept for a reconnect)."""
    from streamlit.runtime.session_manager import SessionInfo

    manager._session_storage.save(SessionInfo(client=None, session=session))


def test_expired_closed_sessions_are_dropped_without_a_new_visit():
    import weakref

    shut: list[str] = []

    class Session:                                 # what the store and the reaper use of an AppSession
        def __init__(self, id_: str) -> None:
            self.id = id_

        def shutdown(self) -> None:                # frees its downloads, dataframe sources, uploads
            shut.append(self.id)

    manager = _session_manager(ttl_s=0)            # the reconnection time has passed at once
    session = Session("closed-tab")
    session.me = session                           # a cycle, as a real session's objects
    alive = weakref.ref(session)
    _close(manager, session)
    del session
    assert alive() is not None                     # Streamlit's store still holds it
    assert memory.reap_closed_sessions(manager) == 0
    assert shut == ["closed-tab"]
    memory.collect_and_trim()
    assert alive() is None
    assert memory.reap_closed_sessions(manager) == 0 and shut == ["closed-tab"]   # shut down once


def test_closed_sessions_within_their_ttl_are_kept_for_a_reconnect():
    from types import SimpleNamespace

    manager = _session_manager(ttl_s=120)
    session = SimpleNamespace(id="closed-tab", shutdown=lambda: pytest.fail("a resumable session was shut down"))
    _close(manager, session)
    assert memory.reap_closed_sessions(manager) == 1
    assert manager.get_session_info("closed-tab").session is session


def test_another_session_manager_is_left_alone():
    assert memory.reap_closed_sessions(object()) is None
    assert memory.server_session_count() is None   # no server runs in this test


def _run_trimmer(counts: list[int | None], every_s: float) -> int:
    """Run the trimming loop over one session count per poll (the first before any); trims made.

    Intervals are powers of two so that the loop's sums of poll intervals are exact.
    """
    stop, trims = threading.Event(), []
    left = iter(counts)

    def count() -> int | None:
        try:
            return next(left)
        except StopIteration:
            stop.set()
            return None

    memory._trim_forever(stop, every_s, POLL, count, lambda: trims.append(1))
    return len(trims)


def test_a_fall_in_the_session_count_trims_at_once():
    assert _run_trimmer([3, 3, 3, 2, 2, 2], every_s=1e9) == 1
    assert _run_trimmer([3, 2, 4, 1, 1], every_s=1e9) == 2


def test_without_a_fall_it_trims_every_interval():
    assert _run_trimmer([3] * 10, every_s=3 * POLL) == 3
    assert _run_trimmer([None] * 10, every_s=3 * POLL) == 3


def test_a_failing_teardown_does_not_stop_the_others(caplog):
    from types import SimpleNamespace

    shut, now = [], [0.0]

    def broken() -> None:
        raise RuntimeError("teardown failed")

    manager = _session_manager(ttl_s=60)
    manager._session_storage._cache._timer = lambda: now[0]     # the store's clock, moved by the test
    _close(manager, SimpleNamespace(id="a", shutdown=broken))
    _close(manager, SimpleNamespace(id="b", shutdown=lambda: shut.append("b")))
    now[0] = 61.0                                                # both reconnection times have passed
    with caplog.at_level("WARNING", logger=memory.__name__):
        assert memory.reap_closed_sessions(manager) == 0
    assert shut == ["b"]
    assert "could not shut down expired session a" in caplog.text
