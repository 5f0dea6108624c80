"""Assign customers held in Parquet parts, part by part, in this process or on a Dask cluster.

What runs where
    The driver loads the network, computes the stores' sparse times once
    (bounded by ``max_minutes``) and reduces them to per-node answers
    (`geo.catchments.assign.NodeAnswers`, 40 bytes per node). Those answers and
    a copy of the router without its edge matrix (`Router.for_snapping`, about
    50 bytes per node) are broadcast to every worker once. Each part is then a
    task: read its ``customer_id, lat, lon``, snap, index the answers
    (`geo.catchments.assign.assign_snapped`, the very step of the in-memory
    path, so results are identical) and write one output part. Only counts come
    back; they are summed by a final task (`combine`).

Memory
    Driver: the graph, one scratch block of Dijkstra and the summed catchments.
    Worker: the broadcast arrays plus one part (about 200 bytes per customer
    while it is processed). Customers never have to fit in memory together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from geo.catchments.assign import NodeAnswers, assign_snapped, node_answers
from geo.errors import DataError
from geo.network.routing import Router
from geo.network.stores import StoreTimes
from geo.scale.cluster import AUTO, IN_PROCESS, LOCAL, check_scheduler, dask_client
from geo.scale.parts import check_parts, list_parts, part_label, read_points

AUTO_LOCAL_ROWS = 2_000_000
"""With ``scheduler="auto"``, sources of at least this many customers run on a `LocalCluster`."""


@dataclass
class PartCounts:
    """Counts of one or more assigned parts (what comes back from the workers).

    Attributes
    ----------
    customers, reachable
        Customers read and those assigned to a store.
    per_store
        Customers per store id.
    reasons
        Unreachable customers per reason (`geo.network.routing.REASONS`).
    outputs
        Output parts written, in input order.
    error
        ``(part, reason, row, column)`` of a part that was refused, else None.
    """

    customers: int = 0
    reachable: int = 0
    per_store: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    error: tuple[str, str, int | None, str | None] | None = None


def combine(counts: Iterable[PartCounts]) -> PartCounts:
    """Sum part counts; keep the first refusal (a part that failed stops the run)."""
    total = PartCounts()
    for c in counts:
        if c.error is not None and total.error is None:
            total.error = c.error
        total.customers += c.customers
        total.reachable += c.reachable
        for key, value in c.per_store.items():
            total.per_store[key] = total.per_store.get(key, 0) + value
        for key, value in c.reasons.items():
            total.reasons[key] = total.reasons.get(key, 0) + value
        total.outputs += c.outputs
    return total


def _combine_args(*counts: PartCounts) -> PartCounts:
    return combine(counts)


def assign_part(part: Path, label: str, out: Path, router: Router, answers: NodeAnswers,
                max_minutes: float | None) -> PartCounts:
    """Assign one part and write it to ``out`` (Parquet); a bad part comes back as `PartCounts.error`.

    Errors are returned, not raised, so they cross process boundaries intact
    and the driver raises `DataError` naming the part.
    """
    try:
        customers = read_points(part, label)
    except DataError as exc:
        return PartCounts(error=(exc.file, exc.reason, exc.row, exc.column))
    snap = router.snap(customers["lat"].to_numpy(float), customers["lon"].to_numpy(float), served=answers.served)
    out_frame = assign_snapped(answers, snap, customers, max_minutes=max_minutes)
    out.parent.mkdir(parents=True, exist_ok=True)
    out_frame.to_parquet(out, index=False)
    reach = out_frame["reachable"].to_numpy(bool)
    per_store = out_frame["store_id"].value_counts(sort=False)
    reasons = out_frame.loc[~reach, "unreachable_reason"].astype(str).value_counts(sort=False)
    return PartCounts(customers=len(out_frame), reachable=int(reach.sum()),
                      per_store={str(k): int(v) for k, v in per_store.items() if v},
                      reasons={str(k): int(v) for k, v in reasons.items()}, outputs=[str(out)])


def output_path(out_dir: Path, index: int) -> Path:
    """Output part ``index`` in ``out_dir`` (``part-00000.parquet`` ...), one per input part, same order."""
    return Path(out_dir) / f"part-{index:05d}.parquet"


def choose_scheduler(scheduler: str, rows: int) -> str:
    """Resolve ``"auto"``: a `LocalCluster` from `AUTO_LOCAL_ROWS` customers on, else in process."""
    scheduler = check_scheduler(scheduler)
    if scheduler != AUTO:
        return scheduler
    return LOCAL if rows >= AUTO_LOCAL_ROWS else IN_PROCESS


def assign_parts(router: Router, stores: pd.DataFrame, source: str | Path, out_dir: str | Path, *,
                 traffic: float = 1.0, max_minutes: float | None = None, scheduler: str = AUTO,
                 workers: int | None = None, processes: bool = True, times: StoreTimes | None = None) -> PartCounts:
    """Assign every customer of a Parquet file or folder to the nearest store; write partitioned Parquet.

    Parameters
    ----------
    router
        Router of the travel mode's network.
    stores
        ``store_id, lat, lon`` (EPSG:4326).
    source
        A Parquet/GeoParquet file or a folder of parts (see `geo.scale.parts`).
    out_dir
        Folder receiving ``part-NNNNN.parquet``, one per input part, rows in
        input order, columns of `geo.catchments.assign.ASSIGN_COLUMNS`.
    traffic, max_minutes
        As in `geo.catchments.assign.assign_customers`.
    scheduler
        ``"none"`` (this process), ``"local"`` (a `LocalCluster`), a scheduler
        address (``tcp://HOST:8786``; every worker must see ``source`` and
        ``out_dir`` at the same paths) or ``"auto"`` (`choose_scheduler`).
    workers, processes
        Local cluster size and kind (see `geo.scale.cluster.dask_client`).
    times
        The stores' `Router.store_times` to reuse (same stores, traffic and
        ``max_minutes``); computed here when None.

    Returns
    -------
    PartCounts
        Totals over every part. Every part's footer is checked before any work
        (a bad part is refused by name, nothing is written); a part with bad rows
        raises `DataError` naming it, the row and the column.
    """
    parts = list_parts(source)
    rows = check_parts(parts, source)
    labels = [part_label(p, source) for p in parts]
    outs = [output_path(Path(out_dir), i) for i in range(len(parts))]
    if times is None:
        times = router.store_times(stores, traffic=traffic, limit_min=max_minutes)
    answers = node_answers(times, stores)
    chosen = choose_scheduler(scheduler, sum(rows))
    if chosen == IN_PROCESS:
        total = PartCounts()
        for part, label, out in zip(parts, labels, outs, strict=True):
            total = combine([total, assign_part(part, label, out, router, answers, max_minutes)])
            _raise_refusal(total)
    else:
        with dask_client(chosen, workers=workers, processes=processes) as client:
            snapper, shared = client.scatter([router.for_snapping(), answers], broadcast=True)
            futures = [client.submit(assign_part, part, label, out, snapper, shared, max_minutes,
                                     key=f"assign-{label}-{i}", pure=False)
                       for i, (part, label, out) in enumerate(zip(parts, labels, outs, strict=True))]
            total = client.submit(_combine_args, *futures, pure=False).result()
    _raise_refusal(total)
    return total


def _raise_refusal(counts: PartCounts) -> None:
    if counts.error is not None:
        part, reason, row, column = counts.error
        raise DataError(part, f"{reason}; nothing was assigned from this part, fix it and run again",
                        row=row, column=column)


def read_output(out_dir: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read every output part of `assign_parts` back, in order (for tests and small results)."""
    parts = sorted(Path(out_dir).glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p, columns=columns) for p in parts], ignore_index=True)


def summary_json(counts: PartCounts) -> dict[str, Any]:
    """The counts as the JSON fields `python -m geo assign` prints."""
    return {"customers": counts.customers, "reachable": counts.reachable,
            "unreachable": counts.customers - counts.reachable,
            "unreachable_by_reason": dict(sorted(counts.reasons.items())),
            "per_store": dict(sorted(counts.per_store.items())), "parts": len(counts.outputs)}
