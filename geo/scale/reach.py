"""Reach counts, the waterfall, the holdout and the target list of customers held in Parquet parts.

The in-memory `geo.targeting.reach.reach` holds every customer at once. Here
the same rules run part by part (in this process, or as tasks on a Dask
cluster) and only aggregates and the targets' keys meet on the driver.

What runs where
    1. **Scan** (one task per part): read the part (strictly validated, errors
       name it) and its assigned part (`geo.scale.assign.assign_parts`; in
       radius mode the assignment is computed here), apply every per-record
       rule with the in-memory code (`geo.targeting.audience.prepare_audience`:
       e-mail keys, suppression and recent contacts broadcast once to every
       worker, segment and the other filters;
       `geo.targeting.reach.catchment_values`: store, minutes, limit). The
       consent rule (`geo.data.consent.contactable`) is applied within the
       part. Out come the per-store counts of the first stage, and, split by a
       hash of the address (`geo.keys.email_keys`) into buckets, the
       addresses that fail consent in this part and the in-catchment records
       that pass it here.
    2. **Per address** (one task per bucket; every record of an address lands
       in the same bucket): an address is contactable only when no part
       reported a record of it that fails (every record opted in, none
       unsubscribed); the other stages are counted per store; one record per
       address is kept, the nearest to its store, then the smallest customer
       id, then the first in part order (the tie-break of `compute_reach`).
    3. **Driver**: sums the counts (waterfall, per store), gathers the targets'
       keys (store, band, customer id, address, part and row), sorts them by
       store, band, customer id and address (the order `compute_reach` draws
       in), draws the holdout with `geo.targeting.holdout.draw_holdout` and one
       coupon code per treatment member (`geo.targeting.codes.generate_codes`,
       one draw, so codes are unique across parts and against ``existing``).
    4. **Write** (one task per part): the part's targets as the rows of
       `geo.targeting.targets.build_target_list`, written as one Parquet part
       per input part, in the layout asked (``targets``: every target, holdout
       marked; a provider layout: `geo.export.csv_layouts.manual_import_frame`,
       treatment only, never the holdout), or sent back for a single file.

Memory
    A scan holds one part (about 220 bytes per customer); a bucket holds
    the in-catchment, consented records of its addresses (about 70 bytes
    each) and the failing addresses (about 75 bytes each); the driver holds about 20 bytes per
    target plus its customer id and address key (60 bytes measured with
    7- and 19-character ones), and a coupon code per treatment member.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.errors import DataError
from geo.keys import email_keys
from geo.modes import Mode
from geo.scale.assign import choose_scheduler
from geo.scale.cluster import AUTO, IN_PROCESS, dask_client
from geo.scale.parts import check_parts, list_parts, part_label
from geo.targeting.audience import AudienceFilters, prepare_audience
from geo.targeting.bands import band_edges, band_index, band_labels
from geo.targeting.codes import generate_codes
from geo.targeting.holdout import draw_holdout
from geo.targeting.reach import (
    DEFAULT_HOLDOUT,
    DEFAULT_SEED,
    STAGES,
    _per_band,
    _per_store,
    _waterfall,
    catchment_values,
    summary_json,
)
from geo.targeting.targets import DateLike, build_target_list

LAYER_STAGES = STAGES[1:-1]
"""The stages counted per address in the buckets (between ``in_catchment`` and ``one_per_email``)."""
KEY_COLUMNS = ("store", "band", "customer_id", "email_key", "part", "row")
"""What the driver gathers per target."""
GROUPS = ["treatment", "holdout"]


@dataclass
class PartScan:
    """What the scan of one part sends on (see the module notes, step 1).

    Attributes
    ----------
    customers, unreachable
        Records read and those without a store.
    in_catchment
        Records within the outer limit, per store code.
    bad
        Per bucket: the addresses with a record in this part that is not
        opted in or is unsubscribed.
    candidates
        Per bucket: in-catchment records consented within this part (``email_key,
        store, value, not_suppressed, not_contacted, in_segment, customer_id,
        part, row``).
    error
        ``(part, reason, row, column)`` when the part was refused.
    """

    customers: int = 0
    unreachable: int = 0
    in_catchment: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bad: list[np.ndarray] = field(default_factory=list)
    candidates: list[pd.DataFrame] = field(default_factory=list)
    error: tuple[str, str, int | None, str | None] | None = None


@dataclass
class Bucket:
    """What one address bucket sends to the driver: stage counts per store and its targets' keys."""

    counts: dict[str, np.ndarray]
    winners: pd.DataFrame


@dataclass
class PartsReach:
    """The result of `reach_parts`, in the shapes of `geo.targeting.reach.Reach`.

    Attributes
    ----------
    customers, unreachable
        Records read and those without a store (the command's JSON fields).
    waterfall, per_store, per_band
        As `Reach.waterfall`, `Reach.per_store`, `Reach.per_band`.
    keys
        One row per target in the order of `Reach.targets`: `KEY_COLUMNS`,
        ``held`` (bool) and ``coupon_code`` (NA for the holdout).
    outputs
        The Parquet parts written (one per input part, in order), if any.
    rows_written
        Rows in those parts (treatment only in a provider layout).
    targets
        The whole target list (`build_target_list` rows) when asked for with ``keep``.
    """

    customers: int
    unreachable: int
    waterfall: pd.DataFrame
    per_store: pd.DataFrame
    per_band: pd.DataFrame
    keys: pd.DataFrame
    outputs: list[str] = field(default_factory=list)
    rows_written: int = 0
    targets: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        """Counts in the command line's JSON shape (`geo.targeting.reach.summary_json`, as `Reach.summary`)."""
        return summary_json(len(self.keys), self.waterfall, self.per_store)


@dataclass(frozen=True)
class Rules:
    """Everything a scan needs besides its part (small; shipped with every task)."""

    stores: pd.DataFrame
    mode: str
    bands: tuple[float, ...]
    filters: AudienceFilters
    today: pd.Timestamp | str | None
    buckets: int


@dataclass(frozen=True)
class TargetSpec:
    """How the write step builds and writes a part's targets."""

    stores: pd.DataFrame
    mode: str
    labels: tuple[str, ...]
    offer_start: DateLike
    offer_end: DateLike
    layout: str
    keep: bool


# --- step 1: scan a part ----------------------------------------------------------------------

def read_customer_part(part: Path, label: str) -> pd.DataFrame:
    """One part as `geo.data.tables.load_customers` reads it; a refusal names the part."""
    from geo.data.tables import load_customers

    try:
        return load_customers(part)
    except DataError as exc:
        raise DataError(label, exc.reason, row=exc.row, column=exc.column) from None


def part_assignment(customers: pd.DataFrame, assigned: Path | None, label: str, stores: pd.DataFrame,
                    mode: str, bands: Sequence[float]) -> pd.DataFrame:
    """The part's assignment: its assigned part read back, or in radius mode computed here."""
    if assigned is None:
        from geo.catchments.assign import radius_assign
        return radius_assign(stores, customers, km=max(bands))
    out = pd.read_parquet(assigned)
    same = len(out) == len(customers) and out["customer_id"].astype(str).reset_index(drop=True).equals(
        customers["customer_id"].astype(str).reset_index(drop=True))
    if not same:
        raise DataError(label, "its assigned part does not hold the same customers in the same order "
                               "(the part changed after it was assigned); run again")
    return out


def bucket_of(keys: pd.Series, buckets: int) -> np.ndarray:
    """Bucket (0 .. buckets-1) of each address key: the same in every process (a fixed-key hash)."""
    hashed = pd.util.hash_pandas_object(keys.astype(object), index=False).to_numpy()
    found: np.ndarray = (hashed % np.uint64(buckets)).astype(np.int64)
    return found


def scan_part(part: Path, label: str, index: int, assigned: Path | None, rules: Rules,
              suppression: Sequence[str], contacted: Sequence[str]) -> PartScan:
    """Step 1 for one part (see the module notes); a refused part comes back as `PartScan.error`."""
    try:
        customers = read_customer_part(part, label)
        assignment = part_assignment(customers, assigned, label, rules.stores, rules.mode, rules.bands)
    except DataError as exc:
        return PartScan(error=(exc.file, exc.reason, exc.row, exc.column))
    audience = prepare_audience(customers, filters=rules.filters, suppression=suppression,
                                contacted=contacted, today=rules.today)
    store, _, _, value, passed = catchment_values(customers, assignment, rules.stores, mode=rules.mode)
    with np.errstate(invalid="ignore"):
        inside = passed & (value <= band_edges(rules.bands)[-1])
    k = len(rules.stores)
    keys = audience.email_key
    has = audience.email_code >= 0
    bad = pd.unique(keys[has & ~audience.consented].astype(object).to_numpy())
    rows = np.flatnonzero(inside & audience.consented)
    cand = pd.DataFrame({
        "email_key": keys.iloc[rows].astype(object).to_numpy(), "store": store[rows].astype(np.int32),
        "value": value[rows], "not_suppressed": audience.not_suppressed[rows],
        "not_contacted": audience.not_contacted[rows], "in_segment": audience.in_segment[rows],
        "customer_id": customers["customer_id"].astype("string").iloc[rows].astype(object).to_numpy(),
        "part": np.full(len(rows), index, np.int32), "row": rows.astype(np.int64)})
    bad_bucket = bucket_of(pd.Series(bad, dtype=object), rules.buckets)
    cand_bucket = bucket_of(cand["email_key"], rules.buckets)
    reachable = assignment["reachable"].astype("boolean").fillna(False).to_numpy(bool)
    return PartScan(
        customers=len(customers), unreachable=int((~reachable).sum()),
        in_catchment=np.bincount(store[inside], minlength=k)[:k],
        bad=[bad[bad_bucket == b] for b in range(rules.buckets)],
        candidates=[cand[cand_bucket == b].reset_index(drop=True) for b in range(rules.buckets)])


# --- step 2: per address ----------------------------------------------------------------------

def reduce_bucket(bad: Sequence[np.ndarray], candidates: Sequence[pd.DataFrame], stores: int,
                  bands: Sequence[float]) -> Bucket:
    """Step 2 for one bucket: consent per address across parts, stage counts, one record per address."""
    cand = pd.concat(candidates, ignore_index=True)
    failing = pd.unique(np.concatenate([np.asarray(b, dtype=object) for b in bad])) if bad else []
    passed = ~cand["email_key"].isin(failing).to_numpy(bool)
    counts: dict[str, np.ndarray] = {}
    for stage, flag in zip(LAYER_STAGES, (None, "not_suppressed", "not_contacted", "in_segment"), strict=True):
        if flag is not None:
            passed = passed & cand[flag].to_numpy(bool)
        counts[stage] = np.bincount(cand["store"].to_numpy()[passed], minlength=stores)[:stores]
    kept = cand[passed]
    table = pa.Table.from_pandas(kept[["email_key", "value", "customer_id", "part", "row"]],
                                 preserve_index=False)
    order = table.sort_by([("email_key", "ascending"), ("value", "ascending"), ("customer_id", "ascending"),
                           ("part", "ascending"), ("row", "ascending")]).to_pandas() if len(kept) else None
    if order is None:
        winners = kept.iloc[:0]
    else:
        first = order.drop_duplicates("email_key", keep="first")
        winners = first.merge(kept[["part", "row", "store"]], on=["part", "row"], how="left")
    out = pd.DataFrame({
        "store": winners["store"].to_numpy(np.int32),
        "band": band_index(winners["value"].to_numpy(float), bands).astype(np.int16),
        "customer_id": winners["customer_id"].to_numpy(object),
        "email_key": winners["email_key"].to_numpy(object),
        "part": winners["part"].to_numpy(np.int32), "row": winners["row"].to_numpy(np.int64)})
    return Bucket(counts=counts, winners=out)


# --- step 3: the driver -----------------------------------------------------------------------

def target_keys(winners: Sequence[pd.DataFrame], fraction: float, seed: int, bands: Sequence[float],
                treatment_codes: Callable[[int], list[str]]) -> pd.DataFrame:
    """The targets in `Reach.targets` order with ``held`` (the holdout draw) and ``coupon_code``."""
    frame = pd.concat(winners, ignore_index=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    order = table.sort_by([(c, "ascending") for c in ("store", "band", "customer_id", "email_key")])
    keys = order.to_pandas()
    strata = keys["store"].to_numpy(np.int64) * len(band_labels(bands)) + keys["band"].to_numpy(np.int64)
    held = draw_holdout(strata, fraction, seed)
    keys["held"] = held
    code = pd.Series(pd.NA, index=keys.index, dtype="string")
    code[~held] = treatment_codes(int((~held).sum()))
    keys["coupon_code"] = code
    return keys


def summarise(scans: Sequence[PartScan], buckets: Sequence[Bucket], keys: pd.DataFrame, stores: pd.DataFrame,
              bands: Sequence[float]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Waterfall, per store and per band from the parts' and buckets' counts and the drawn targets."""
    k = len(stores)
    counts = {STAGES[0]: np.sum([s.in_catchment for s in scans], axis=0).astype(np.int64)}
    for stage in LAYER_STAGES:
        counts[stage] = np.sum([b.counts[stage] for b in buckets], axis=0).astype(np.int64)
    code = keys["store"].to_numpy(np.int64)
    held = keys["held"].to_numpy(bool)
    counts[STAGES[-1]] = np.bincount(code, minlength=k)[:k]
    labels = band_labels(bands)
    strata = code * len(labels) + keys["band"].to_numpy(np.int64)
    store_ids = pd.Index(stores["store_id"].astype("string"))
    n = sum(s.customers for s in scans)
    return (_waterfall(counts, n), _per_store(counts, stores.reset_index(drop=True), code, held),
            _per_band(store_ids, labels, strata, held))


# --- step 4: write ----------------------------------------------------------------------------

TARGET_FIELDS = ("customer_id", "email", "first_name", "segment")
"""The customer columns a target row carries (`geo.targeting.reach.Reach.targets`)."""


def read_rows(part: Path, label: str, rows: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """Some rows and columns of a customers part, typed as `geo.data.tables.load_customers` types them.

    The scan validated the whole part; parsing is per value, so the typed
    values of these rows equal the full load's at a fraction of its cost.
    """
    from geo.data.schema import CUSTOMERS, Schema
    from geo.data.validate import validate_table

    present = [c for c in columns if c in pq.read_schema(part).names]
    raw = pd.read_parquet(part, columns=present).iloc[rows].reset_index(drop=True)
    schema = Schema(CUSTOMERS.name, tuple(CUSTOMERS.column(c) for c in present))
    report = validate_table(raw, schema, label, row_numbers=rows + 2)
    report.raise_first()
    typed = report.valid.drop(columns="_row")
    for c in columns:
        if c not in typed.columns:
            typed[c] = pd.Series(pd.NA, index=typed.index, dtype="string")
    return typed


def part_targets(part: Path, label: str, assigned: Path | None, plan: pd.DataFrame, spec: TargetSpec,
                 bands: Sequence[float]) -> pd.DataFrame:
    """The part's target rows (`build_target_list` columns), in ``plan`` order (`Reach.targets` order)."""
    rows = plan["row"].to_numpy(np.int64)
    radius = assigned is None
    customers = read_rows(part, label, rows, TARGET_FIELDS + (("lat", "lon") if radius else ()))
    assignment = (part_assignment(customers, None, label, spec.stores, spec.mode, bands) if radius
                  else pd.read_parquet(assigned, columns=["customer_id", "travel_min", "crow_km"]).iloc[rows])
    if not assignment["customer_id"].astype(str).reset_index(drop=True).equals(
            customers["customer_id"].astype(str)):
        raise DataError(label, "its assigned part no longer matches it (the part changed during the run); "
                               "run again")
    store_ids = spec.stores["store_id"].astype("string").to_numpy()
    held = plan["held"].to_numpy(bool)
    reach_targets = pd.DataFrame({
        "customer_id": customers["customer_id"], "email": customers["email"],
        "email_key": email_keys(customers["email"]), "first_name": customers["first_name"],
        "segment": customers["segment"],
        "store_id": pd.Series(store_ids[plan["store"].to_numpy(np.int64)], dtype="string"),
        "travel_min": assignment["travel_min"].to_numpy(dtype=float, na_value=np.nan),
        "crow_km": assignment["crow_km"].to_numpy(dtype=float, na_value=np.nan),
        "band": pd.Categorical.from_codes(plan["band"].to_numpy(np.int64), categories=list(spec.labels)),
        "group": pd.Categorical.from_codes(held.astype(np.int8), categories=GROUPS)})
    codes = plan["coupon_code"].to_numpy(object)[~held].tolist()
    return build_target_list(reach_targets, spec.stores, mode=spec.mode, offer_start=spec.offer_start,
                             offer_end=spec.offer_end, coupon_codes=codes)


def layout_frame(targets: pd.DataFrame, layout: str, mode: str) -> pd.DataFrame:
    """What a target-list part holds for ``layout``: every target (holdout marked) or a provider's rows.

    A provider layout keeps the treatment group only (never the holdout), as
    `geo.export.downloads.write_download` does; its travel column is named for
    ``mode`` in every part, one without targets too.
    """
    if layout == "targets":
        out = targets.copy()
        for c in ("band", "group"):
            out[c] = out[c].astype("string")
        return out
    from geo.export.csv_layouts import get_layout, manual_import_frame
    frame = manual_import_frame(targets, layout)
    frame.columns = list(get_layout(layout).columns(mode).values())
    return frame


def write_part(part: Path, label: str, assigned: Path | None, plan: pd.DataFrame, spec: TargetSpec,
               bands: Sequence[float], out: Path | None) -> tuple[str | None, int, pd.DataFrame | None]:
    """Step 4 for one part: build its targets, write them to ``out`` in the layout, keep them if asked.

    Returns the path written (None when ``out`` is None), the rows written and
    the targets (with their position ``_pos`` in the whole list) when ``spec.keep``.
    """
    targets = part_targets(part, label, assigned, plan, spec, bands)
    written, rows = None, 0
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame = layout_frame(targets, spec.layout, spec.mode)
        frame.to_parquet(out, index=False)
        written, rows = str(out), len(frame)
    if not spec.keep:
        return written, rows, None
    return written, rows, targets.assign(_pos=plan.index.to_numpy())


# --- orchestration ----------------------------------------------------------------------------

class _InProcess:
    """Runs every task here, one after the other (the ``none`` scheduler)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def gather(self, items: list[Any]) -> list[Any]:
        return items

    def scatter(self, value: Any) -> Any:
        return value


class _OnDask:
    """Runs tasks on a ``distributed.Client``; results move between workers, not through the driver."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def gather(self, items: list[Any]) -> list[Any]:
        return list(self.client.gather(items))

    def scatter(self, value: Any) -> Any:
        return self.client.scatter([value], broadcast=True)[0]


def output_part(out_dir: Path, index: int) -> Path:
    """Target-list part ``index`` in ``out_dir`` (``targets-00000.parquet`` ...), one per input part."""
    return Path(out_dir) / f"targets-{index:05d}.parquet"


def reach_parts(source: str | Path, assigned: Sequence[Path] | None, stores: pd.DataFrame, *,
                bands: Sequence[float], mode: str = "drive", filters: AudienceFilters | None = None,
                suppression: Iterable[str] | None = None, contacted: Iterable[str] | None = None,
                today: pd.Timestamp | str | None = None, holdout: float = DEFAULT_HOLDOUT,
                seed: int = DEFAULT_SEED, out_dir: str | Path | None = None, layout: str = "targets",
                offer_start: DateLike = None, offer_end: DateLike = None, existing_codes: Iterable[str] = (),
                keep: bool = False, scheduler: str = AUTO, workers: int | None = None,
                processes: bool = True, buckets: int | None = None) -> PartsReach:
    """`geo.targeting.reach.reach` (and the target list) over customers held in Parquet parts.

    Parameters
    ----------
    source
        A customers Parquet file or folder of parts (`geo.scale.parts`), each
        part a customers table (`geo.data.schema.CUSTOMERS`).
    assigned
        The assigned parts of `geo.scale.assign.assign_parts` (same order and
        rows as the parts of ``source``); None in radius mode, where each part
        is assigned within the largest band (km) as it is read.
    stores, bands, mode, filters, suppression, contacted, today, holdout, seed
        As in `geo.targeting.reach.reach` (bands in minutes, or km in radius mode).
    out_dir
        A folder receiving the target list as ``targets-NNNNN.parquet``, one
        part per input part (empty parts included), rows in `Reach.targets`
        order; None writes nothing.
    layout
        ``targets`` (`build_target_list` columns, holdout rows marked and
        without a code) or a provider layout (its import columns, treatment
        only; see `layout_frame`).
    offer_start, offer_end
        The offer window of every row (needed when writing or keeping targets).
    existing_codes
        Codes already issued; the new ones never repeat them.
    keep
        Also return the whole target list (`PartsReach.targets`), e.g. for a single file.
    scheduler, workers, processes
        As in `geo.scale.assign.assign_parts`.
    buckets
        Address buckets of step 2 (default: one per part).

    Returns
    -------
    PartsReach
        Counts, waterfall, per store and band, the targets' keys, outputs.

    Raises
    ------
    DataError
        Naming the part (and row and column) when a part is refused; nothing is written then.
    """
    parts = list_parts(source)
    rows = check_parts(parts, source)
    labels = [part_label(p, source) for p in parts]
    if assigned is not None and len(assigned) != len(parts):
        raise DataError(str(source), f"{len(parts)} part(s) but {len(assigned)} assigned part(s); assign again")
    assigned_parts: list[Path | None] = list(assigned) if assigned is not None else [None] * len(parts)
    if mode == Mode.RADIUS and assigned is not None:
        raise ValueError("radius mode assigns each part as it is read: pass assigned=None")
    rules = Rules(stores=stores.reset_index(drop=True), mode=Mode.parse(mode).value, bands=tuple(bands),
                  filters=filters or AudienceFilters(), today=today, buckets=buckets or len(parts))
    sup = _address_keys(suppression)
    con = _address_keys(contacted) if rules.filters.exclude_contacted_days is not None else []
    chosen = choose_scheduler(scheduler, sum(rows))
    used = list(existing_codes)
    spec = TargetSpec(stores=rules.stores, mode=rules.mode, labels=tuple(band_labels(bands)),
                      offer_start=offer_start, offer_end=offer_end, layout=layout, keep=keep)
    run = _Run(parts, labels, assigned_parts, rules, spec, holdout, seed, used,
               Path(out_dir) if out_dir is not None else None)
    if chosen == IN_PROCESS:
        return run(_InProcess(), sup, con)
    with dask_client(chosen, workers=workers, processes=processes) as client:
        return run(_OnDask(client), sup, con)


def _address_keys(emails: Iterable[str] | None) -> list[str]:
    """Unique address keys of a list of e-mails (`geo.keys.email_keys`), what the workers receive."""
    if emails is None:
        return []
    keys = email_keys(pd.Series(list(emails), dtype="string")).dropna().unique()
    return [str(k) for k in keys]


@dataclass
class _Run:
    """One run of `reach_parts` on a runner (this process or a Dask client)."""

    parts: list[Path]
    labels: list[str]
    assigned: list[Path | None]
    rules: Rules
    spec: TargetSpec
    holdout: float
    seed: int
    used: list[str]
    out_dir: Path | None

    def __call__(self, runner: _InProcess | _OnDask, sup: list[str], con: list[str]) -> PartsReach:
        sup_f, con_f = runner.scatter(sup), runner.scatter(con)
        scans = [runner.submit(scan_part, part, label, i, assigned, self.rules, sup_f, con_f)
                 for i, (part, label, assigned) in enumerate(zip(self.parts, self.labels, self.assigned,
                                                                 strict=True))]
        heads = runner.gather([runner.submit(_head, s) for s in scans])
        for head in heads:
            _raise_refusal(head)
        n_buckets, k = self.rules.buckets, len(self.rules.stores)
        buckets = [runner.submit(_reduce, [runner.submit(_bad_piece, s, b) for s in scans],
                                 [runner.submit(_candidate_piece, s, b) for s in scans], k, self.rules.bands)
                   for b in range(n_buckets)]
        done = runner.gather(buckets)
        del scans, buckets  # the parts' pieces are no longer needed on the workers
        keys = target_keys([b.winners for b in done], self.holdout, self.seed, self.rules.bands,
                           lambda n: generate_codes(n, existing=self.used))
        waterfall, per_store, per_band = summarise(heads, done, keys, self.rules.stores, self.rules.bands)
        result = PartsReach(customers=sum(h.customers for h in heads),
                            unreachable=sum(h.unreachable for h in heads), waterfall=waterfall,
                            per_store=per_store, per_band=per_band, keys=keys[list(KEY_COLUMNS) + ["held"]])
        self._write(runner, keys, result)
        return result

    def _write(self, runner: _InProcess | _OnDask, keys: pd.DataFrame, result: PartsReach) -> None:
        """Step 4 on every part; fills ``result.outputs``, ``rows_written`` and ``targets``."""
        if self.out_dir is None and not self.spec.keep:
            return
        if self.out_dir is not None:  # parts of an earlier run with more parts would mix in
            for stale in self.out_dir.glob("targets-*.parquet"):
                stale.unlink()
        by_part = dict(tuple(keys.groupby("part", sort=True)))
        empty = keys.iloc[:0]
        tasks = [runner.submit(write_part, part, label, assigned, by_part.get(i, empty), self.spec,
                               self.rules.bands, output_part(self.out_dir, i) if self.out_dir else None)
                 for i, (part, label, assigned) in enumerate(zip(self.parts, self.labels, self.assigned,
                                                                 strict=True))]
        results = runner.gather(tasks)
        result.outputs = [path for path, _, _ in results if path is not None]
        result.rows_written = sum(rows for _, rows, _ in results)
        if self.spec.keep:
            frames = [frame for _, _, frame in results if frame is not None]
            whole = pd.concat(frames, ignore_index=True).sort_values("_pos", kind="stable")
            result.targets = whole.drop(columns="_pos").reset_index(drop=True)


def _head(scan: PartScan) -> PartScan:
    """The scan without its buckets (what the driver checks and sums)."""
    return PartScan(customers=scan.customers, unreachable=scan.unreachable, in_catchment=scan.in_catchment,
                    error=scan.error)


def _bad_piece(scan: PartScan, bucket: int) -> np.ndarray:
    return scan.bad[bucket]


def _candidate_piece(scan: PartScan, bucket: int) -> pd.DataFrame:
    return scan.candidates[bucket]


def _reduce(bad: list[np.ndarray], candidates: list[pd.DataFrame], stores: int, bands: Sequence[float]) -> Bucket:
    return reduce_bucket(bad, candidates, stores, bands)


def _raise_refusal(scan: PartScan) -> None:
    if scan.error is not None:
        part, reason, row, column = scan.error
        raise DataError(part, f"{reason}; nothing was written, fix this part and run again", row=row,
                        column=column)

