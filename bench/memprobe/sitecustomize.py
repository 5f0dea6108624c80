"""Memory probe for `bench/bench_load.py --probe`: on SIGUSR1 the server reports what it holds.

Put on the server's ``PYTHONPATH`` (before the project) by the benchmark only;
never part of the app. On each SIGUSR1 the process collects garbage, reads its
RSS, asks glibc to return free pages (``malloc_trim(0)``), reads its RSS
again and counts live objects by type (those the garbage collector tracks:
not NumPy buffers), then appends one JSON line to the file named by ``GEO_MEMPROBE_OUT``.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import signal
import sys


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


WATCHED = ("AppSession", "SessionState", "ScriptRunner", "WidgetMetadata", "DataFrame", "Series",
           "ForwardMsg", "Workspace", "Selection")
"""Types counted by name in every report (the sessions, their state, tables)."""


def _holders(objects: list, kind: str, depth: int = 3) -> list[str]:
    """Type chains of what keeps the first live object of ``kind`` alive (referrer of referrer...)."""
    target = next((o for o in objects if type(o).__qualname__ == kind), None)
    chains: list[str] = []
    frontier = [(target, kind)] if target is not None else []
    for _ in range(depth):
        nxt = []
        for obj, path in frontier:
            for ref in gc.get_referrers(obj):
                if ref is objects or ref is frontier or type(ref).__qualname__ == "frame":
                    continue
                nxt.append((ref, f"{path} <- {type(ref).__qualname__}"))
        frontier = nxt[:12]
    chains = sorted({path for _, path in frontier})
    return chains[:12]


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


def _mallinfo() -> dict:
    """The C heap (glibc): MB in use, free in the heap (fragments malloc_trim cannot return), mmapped."""
    try:
        f = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    f.restype = _MallInfo2
    m = f()
    return {"in_use_mb": m.uordblks / 1e6, "free_mb": m.fordblks / 1e6, "mmapped_mb": m.hblkhd / 1e6}


def _arrow_release() -> dict:
    """PyArrow's pool (mimalloc or jemalloc, not glibc): bytes held, and RSS after it releases unused memory."""
    if "pyarrow" not in sys.modules:
        return {}
    pool = sys.modules["pyarrow"].default_memory_pool()
    out = {"backend": pool.backend_name, "allocated_mb": pool.bytes_allocated() / 1e6,
           "max_mb": pool.max_memory() / 1e6, "rss_before_mb": _rss_mb()}
    pool.release_unused()
    out["rss_after_mb"] = _rss_mb()
    return out


def _report(signum, frame) -> None:  # noqa: ANN001, ARG001 — a signal handler's signature
    gc.collect()
    before = _rss_mb()
    trimmed = ctypes.CDLL("libc.so.6").malloc_trim(0) if sys.platform.startswith("linux") else 0
    after = _rss_mb()
    objects = gc.get_objects()
    kinds = collections.Counter(type(o).__qualname__ for o in objects)
    watched = {k: kinds.get(k, 0) for k in WATCHED}
    line = {"watched": watched, "heap": _mallinfo(), "arrow": _arrow_release(),
            "py_blocks": sys.getallocatedblocks(),
            "holders": _holders(objects, "AppSession") if watched["AppSession"] > 1 else [],
            "rss_mb": before, "rss_trimmed_mb": after, "trim_returned": int(trimmed),
            "objects": len(objects),
            "threads": len(os.listdir("/proc/self/task")), "top": kinds.most_common(40)}
    with open(os.environ["GEO_MEMPROBE_OUT"], "a") as f:
        f.write(json.dumps(line) + "\n")


if os.environ.get("GEO_MEMPROBE_OUT"):
    signal.signal(signal.SIGUSR1, _report)
