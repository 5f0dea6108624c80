"""Open a Dask client on a `LocalCluster` or an existing scheduler, and always close what was opened.

``scheduler`` is ``"local"`` (a `LocalCluster` on this machine, one
single-threaded worker per core) or a scheduler address such as
``tcp://10.0.0.5:8786``. The cluster and the client are closed on leaving the
``with`` block, on error too, so no worker process outlives the command.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from geo.errors import GeoError

LOCAL = "local"
IN_PROCESS = "none"
AUTO = "auto"
CONNECT_TIMEOUT_S = 10


def check_scheduler(scheduler: str) -> str:
    """Return ``scheduler`` if it is ``auto``, ``none``, ``local`` or a ``tcp://`` address, else raise `GeoError`."""
    text = str(scheduler).strip()
    if text in (AUTO, IN_PROCESS, LOCAL) or text.startswith(("tcp://", "tls://")):
        return text
    raise GeoError(f"--scheduler must be auto, none, local or a scheduler address such as tcp://HOST:8786, "
                   f"got {scheduler!r}")


@contextmanager
def dask_client(scheduler: str, *, workers: int | None = None, processes: bool = True) -> Iterator[Any]:
    """Yield a ``distributed.Client`` on ``scheduler``; close it (and a local cluster) on exit.

    Parameters
    ----------
    scheduler
        ``"local"`` or a scheduler address (``tcp://HOST:8786``).
    workers
        Local workers (default: one per core).
    processes
        Local workers as processes (default) or threads of this process (tests).
    """
    import distributed

    Client: Any = distributed.Client  # untyped library: called through Any
    LocalCluster: Any = distributed.LocalCluster
    scheduler = check_scheduler(scheduler)
    if scheduler == LOCAL:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=processes, dashboard_address=None, silence_logs=logging.ERROR)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise GeoError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                       "`dask scheduler` and workers with `dask worker ADDRESS`, or use --scheduler local") from None
    try:
        check_workers(client, scheduler)
        yield client
    finally:
        client.close()


def worker_ready() -> bool:
    """A task that succeeds on a worker that can import this package (see `check_workers`)."""
    return True


def check_workers(client: Any, scheduler: str) -> None:
    """Raise `GeoError` when the cluster's workers cannot run this package's tasks.

    The scheduler and every worker must import ``geo`` (the same environment and
    the project on their ``PYTHONPATH``); a task that cannot be unpickled there
    fails with a remote traceback, which is worded here instead.
    """
    try:
        client.submit(worker_ready, pure=False).result(timeout=CONNECT_TIMEOUT_S * 6)
    except Exception as exc:  # distributed re-raises the worker's error under several types
        raise GeoError(f"the Dask cluster at {scheduler} cannot run this project's tasks ({exc}); start its scheduler "
                       "and every worker in the same Python environment with the project importable (for example "
                       "PYTHONPATH=/path/to/project dask scheduler, and dask worker ADDRESS likewise), with the "
                       "customer parts and the output folder at the same paths") from None
