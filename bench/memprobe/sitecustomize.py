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


def _report(signum, frame) -> None:  # noqa: ANN001, ARG001 — a signal handler's signature
    gc.collect()
    before = _rss_mb()
    trimmed = ctypes.CDLL("libc.so.6").malloc_trim(0) if sys.platform.startswith("linux") else 0
    after = _rss_mb()
    objects = gc.get_objects()
    kinds = collections.Counter(type(o).__qualname__ for o in objects)
    watched = {k: kinds.get(k, 0) for k in WATCHED}
    line = {"watched": watched, "holders": _holders(objects, "AppSession") if watched["AppSession"] > 1 else [],
            "rss_mb": before, "rss_trimmed_mb": after, "trim_returned": int(trimmed),
            "objects": len(objects),
            "threads": len(os.listdir("/proc/self/task")), "top": kinds.most_common(40)}
    with open(os.environ["GEO_MEMPROBE_OUT"], "a") as f:
        f.write(json.dumps(line) + "\n")


if os.environ.get("GEO_MEMPROBE_OUT"):
    signal.signal(signal.SIGUSR1, _report)
