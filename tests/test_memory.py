"""The server's heap trimmer: freed C-heap pages go back to the system; one thread per server."""

from __future__ import annotations

import threading

import psutil
import pytest

from ui import memory

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
