"""Run a rule on a schedule: ``--every 1h`` parsing, a lock file per rule, and the loop.

The lock is an exclusive `fcntl.flock` on ``automation/<rule>.lock`` in the
workspace, taken by every ``geo sync`` (one-off, cron or loop), so two
instances never sync the same rule at once; the operating system releases
it when a process dies, so a crash leaves no stale lock behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from geo.errors import GeoError
from geo.workspace import Workspace, check_name

log = logging.getLogger("geo.automation")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)


class SyncLocked(GeoError):
    """Another ``geo sync`` holds the rule's lock."""


def parse_every(text: str) -> float:
    """Seconds of an interval written ``90s``, ``15m``, ``1h`` or ``1d``.

    Raises
    ------
    GeoError
        For anything else, or an interval under one minute.
    """
    match = _EVERY.match(str(text))
    if not match:
        raise GeoError(f"--every {text!r}: write a number and a unit, e.g. 15m, 1h or 1d")
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds < 60:
        raise GeoError(f"--every {text!r}: the interval must be at least one minute")
    return seconds


def lock_path(workspace: Workspace, rule: str) -> Path:
    """The lock file of a rule: ``<workspace>/automation/<rule>.lock``."""
    return Path(workspace.path) / "automation" / f"{check_name(rule)}.lock"


class RuleLock:
    """An exclusive, non-blocking lock on a rule (use as a context manager).

    Raises
    ------
    SyncLocked
        On entry, when another process (or another `RuleLock`) holds it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> RuleLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = self.path.read_text(encoding="utf-8").strip() or "another process"
            raise SyncLocked(f"another geo sync is running for this rule ({holder}; lock file "
                             f"{self.path}); wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def run_every(seconds: float, job: Callable[[], int], *, sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic, cycles: int | None = None) -> int:
    """Call ``job`` every ``seconds`` (counted from each start) until ``cycles`` ran (None: forever).

    A failing cycle (non-zero status, or a `GeoError`) is logged and the loop
    goes on: the next cycle resumes what it left. Returns the last status.
    ``sleep`` and ``clock`` (seconds) are injectable for tests.
    """
    status, done = 0, 0
    while cycles is None or done < cycles:
        started = clock()
        try:
            status = job()
        except GeoError as exc:
            log.error("sync cycle failed: %s", exc)
            status = 2
        done += 1
        if cycles is not None and done >= cycles:
            break
        sleep(max(0.0, seconds - (clock() - started)))
    return status
