"""Turn a store assignment into a consent-aware audience: waterfall, per-store counts, holdout.

Two steps keep the slider path fast. `geo.targeting.audience.prepare_audience` does
everything that does not depend on the catchment (e-mail normalisation, the
consent rule, suppression, recent contacts, segment and the other filters)
once per set of filters. `compute_reach` then combines those per-customer flags with an
assignment frame (travel-time or radius mode, see `geo.catchments.assign`) and the chosen
bands: masks, `numpy.bincount` per store and one sort for the holdout, with no
Python loop over customers.

Waterfall stages, in order: ``in_catchment`` → ``opted_in`` (the consent rule,
judged per address: `geo.data.consent`) → ``not_suppressed`` →
``not_recently_contacted`` → ``in_segment`` (segment and the other filters) →
``one_per_email`` (the targets: one per address, the record nearest its store;
the others are the "second records of an address", listed by
`Reach.second_records`).

The band limits live in `geo.targeting.bands` and the holdout draw in
`geo.targeting.holdout`. What stays here, a little over 400 lines, is one
concern: the `Reach` result, the `ReachIndex` that answers it for any limit,
and the tables they build share the index's arrays and change together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from geo.modes import Mode
from geo.targeting.audience import (
    Audience,
    AudienceFilters,
    _arrow,
    _codes_of,
    _lookup,
    prepare_audience,
)
from geo.targeting.bands import band_edges, band_index, band_labels
from geo.targeting.holdout import draw_holdout

STAGES = ("in_catchment", "opted_in", "not_suppressed", "not_recently_contacted",
          "in_segment", "one_per_email")
STAGE_LABELS = {
    "in_catchment": "In catchment",
    "opted_in": "Opted in, never unsubscribed",
    "not_suppressed": "Not on the suppression list",
    "not_recently_contacted": "Not contacted recently",
    "in_segment": "In segment and filters",
    "one_per_email": "One per address (second records of an address left out)",
}
SECOND_RECORD_COLUMNS = ("customer_id", "email_key", "represented_by", "store_id")
DEFAULT_HOLDOUT = 0.10
DEFAULT_SEED = 0


@dataclass
class Reach:
    """What a catchment reaches once the audience rules are applied.

    Attributes
    ----------
    waterfall
        One row per stage: ``stage, label, customers, removed``.
    per_store
        One row per store: ``store_id, name`` then the count after each stage,
        then ``treatment`` and ``holdout``.
    per_band
        Targets per store and band: ``store_id, band, treatment, holdout``.
    values
        One row per target, numbers only (cheap to build on every slider
        move): ``store_id`` (categorical), ``travel_min``, ``crow_km``,
        ``band``, ``group``; same rows and order as `targets`.
    targets
        One row per targeted customer: ``customer_id, email, email_key,
        first_name, segment, store_id, travel_min`` (minutes, NA in radius
        mode), ``crow_km``, ``band`` (label such as ``"5-10"``), ``group``
        (``treatment`` / ``holdout``), sorted by store, band and customer.
        Built on first access (its text columns are the costly part).
    """

    waterfall: pd.DataFrame
    per_store: pd.DataFrame
    per_band: pd.DataFrame
    values: pd.DataFrame
    build_targets: Callable[[], pd.DataFrame] = field(repr=False)
    build_second_records: Callable[[], pd.DataFrame] = field(repr=False, default=lambda: (
        pd.DataFrame(columns=list(SECOND_RECORD_COLUMNS))))

    @cached_property
    def targets(self) -> pd.DataFrame:
        """The target list (see the class notes), built once on first access."""
        return self.build_targets()

    @cached_property
    def second_records(self) -> pd.DataFrame:
        """The records left out because another record of their address represents it.

        One row per such record inside the catchment that passed every other
        rule: ``customer_id, email_key, represented_by`` (the target's customer
        id), ``store_id``; as many rows as the waterfall's last step removes.
        """
        return self.build_second_records()

    def treatment_by_band(self) -> pd.Series:
        """Treatment recipients per band label, summed over stores (the forecast's audience)."""
        return self.per_band.groupby("band", observed=False)["treatment"].sum()

    def summary(self) -> dict[str, Any]:
        """Counts in the command line's JSON shape (totals, waterfall, per store)."""
        return summary_json(len(self.values), self.waterfall, self.per_store)


def summary_json(targets: int, waterfall: pd.DataFrame, per_store: pd.DataFrame) -> dict[str, Any]:
    """The reach counts as ``python -m geo reach`` prints them (in memory or over parts).

    Parameters
    ----------
    targets
        Number of targets (treatment and holdout).
    waterfall, per_store
        As `Reach.waterfall` and `Reach.per_store`.
    """
    return {
        "targets": int(targets),
        "treatment": int(per_store["treatment"].sum()),
        "holdout": int(per_store["holdout"].sum()),
        "waterfall": {r.stage: int(r.customers) for r in waterfall.itertuples()},
        "stores": [{k: (v if isinstance(v, str) else int(v)) for k, v in row.items()}
                   for row in per_store.drop(columns="name").to_dict("records")],
    }


# --- reach ------------------------------------------------------------------------------------

def _align(assignment: pd.DataFrame, customers: pd.DataFrame) -> np.ndarray | None:
    """Row of ``assignment`` for each customer (None when the rows already line up)."""
    a_ids, c_ids = _arrow(assignment["customer_id"]), _arrow(customers["customer_id"])
    if len(a_ids) == len(c_ids) and a_ids.null_count == 0 and c_ids.null_count == 0 \
            and pc.all(pc.equal(a_ids, c_ids)).as_py() in (True, None):
        return None
    return _lookup(customers["customer_id"], assignment["customer_id"])


def _column(assignment: pd.DataFrame, name: str, pos: np.ndarray | None,
            fill: float = np.nan) -> np.ndarray:
    values = assignment[name].to_numpy(dtype=float, na_value=np.nan) if name in assignment \
        else np.full(len(assignment), np.nan)
    if pos is None:
        return values
    out = np.full(len(pos), fill, dtype=float)
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    return out


def compute_reach(audience: Audience, assignment: pd.DataFrame, stores: pd.DataFrame, *,
                  bands: Sequence[float], mode: str = "drive",
                  holdout: float = DEFAULT_HOLDOUT, seed: int = DEFAULT_SEED) -> Reach:
    """Apply the audience rules to an assignment and draw the holdout.

    Parameters
    ----------
    audience
        Flags from `prepare_audience`.
    assignment
        One row per customer: ``customer_id, store_id`` (NA when unreachable),
        ``travel_min`` (minutes; may be NA in radius mode), ``crow_km`` and
        ``reachable`` (see `geo.catchments.assign`). Overlaps are already resolved to the
        nearest store. Customers missing from it count as out of catchment.
    stores
        The stores on the map (``store_id, name``); customers assigned to
        another store count as out of catchment.
    bands
        Band limits: minutes for ``drive``/``walk``/``bike``, kilometres
        (crow-flies) for ``radius``. A customer is in the catchment when
        within the largest.
    mode
        ``drive``, ``walk``, ``bike`` or ``radius``.
    holdout
        Share of targets held out, in [0, 1), drawn within each store and band.
    seed
        Seed of the holdout draw (same inputs and seed give the same holdout).

    Returns
    -------
    Reach

    Notes
    -----
    This is ``index_reach(audience, assignment, stores, mode=mode).at(bands,
    holdout=holdout, seed=seed)``; keep the index to answer several limits.
    """
    return index_reach(audience, assignment, stores, mode=mode).at(bands, holdout=holdout,
                                                                    seed=seed)


@dataclass
class ReachIndex:
    """The catchment-independent part of `compute_reach` for one audience, assignment and stores.

    Every audience rule is applied once; what is left depends on the outer
    limit only through ``value <= limit`` (minutes, or km in radius mode). One
    address keeps its nearest record, so the targets for any limit are the
    candidates whose value is within it. `at` answers a limit and a holdout
    with thresholds and counts on arrays (no text is touched), which is what a
    slider move runs.

    Attributes
    ----------
    audience, stores, mode
        As given to `index_reach`.
    stage_store, stage_value
        Per waterfall stage before ``one_per_email``: store code (position in
        ``stores``) and value of the customers who pass the stage's rules
        (catchment limit not yet applied).
    rows
        Candidate targets: customer row numbers (one per address, the record
        nearest its store, ties to the smaller customer id), sorted by store
        and customer id.
    store_code, value, travel, crow, id_rank
        Per candidate: store code, value compared with the limit, travel
        minutes, crow-flies km, rank of the customer id.
    """

    audience: Audience
    stores: pd.DataFrame
    mode: str
    stage_store: dict[str, np.ndarray]
    stage_value: dict[str, np.ndarray]
    rows: np.ndarray
    store_code: np.ndarray
    value: np.ndarray
    travel: np.ndarray
    crow: np.ndarray
    id_rank: np.ndarray
    second_rows: np.ndarray
    second_value: np.ndarray
    second_rep: np.ndarray

    @cached_property
    def store_ids(self) -> pd.Index:
        """Ids of the stores on the map (store code i is ``store_ids[i]``)."""
        return pd.Index(self.stores["store_id"].astype("string"))

    def at(self, bands: Sequence[float], *, holdout: float = DEFAULT_HOLDOUT,
           seed: int = DEFAULT_SEED) -> Reach:
        """The `Reach` for these bands (outer limit = the largest) and holdout; see `compute_reach`."""
        if not 0 <= holdout < 1:
            raise ValueError(f"holdout share must be in [0, 1), got {holdout}")
        labels = band_labels(bands)
        outer = band_edges(bands)[-1]
        k, n_bands = len(self.stores), len(labels)
        counts = {s: np.bincount(self.stage_store[s][self.stage_value[s] <= outer],
                                 minlength=k)[:k] for s in STAGES[:-1]}
        sel = np.flatnonzero(self.value <= outer)
        band = band_index(self.value[sel], bands)
        # targets sorted by store, band and customer id: the holdout draw follows this order
        # (candidates are kept sorted by store and id, so a stable sort by stratum suffices)
        strata = self.store_code[sel] * n_bands + band
        order = np.argsort(strata, kind="stable")
        sel, band, strata = sel[order], band[order], strata[order]
        code = self.store_code[sel]
        counts["one_per_email"] = np.bincount(code, minlength=k)[:k]
        held = draw_holdout(strata, holdout, seed)
        per_store = _per_store(counts, self.stores, code, held)
        values = pd.DataFrame({
            "store_id": pd.Categorical.from_codes(code, categories=self.store_ids.astype(str)),
            "travel_min": self.travel[sel], "crow_km": self.crow[sel],
            "band": pd.Categorical.from_codes(band, categories=labels),
            "group": pd.Categorical.from_codes(held.astype(np.int8),
                                               categories=["treatment", "holdout"]),
        })
        rows = self.rows[sel]
        second = self.second_value <= outer
        return Reach(
            waterfall=_waterfall(counts, len(self.audience.customers)), per_store=per_store,
            per_band=_per_band(self.store_ids, labels, strata, held), values=values,
            build_targets=lambda: _targets_frame(self.audience, rows, self.store_ids, values),
            build_second_records=lambda: _second_records_frame(
                self.audience, self.second_rows[second], self.second_rep[second],
                self._store_of_row(self.second_rep[second])))

    def _store_of_row(self, customer_rows: np.ndarray) -> pd.Series:
        """Store id of candidates given by customer row number."""
        pos = pd.Index(self.rows).get_indexer(customer_rows)
        return pd.Series(self.store_ids.to_numpy()[self.store_code[pos]], dtype="string")


def catchment_values(customers: pd.DataFrame, assignment: pd.DataFrame, stores: pd.DataFrame, *,
                     mode: str = "drive") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: store code, travel minutes, crow-flies km, the compared value, and "may be in a catchment".

    Parameters are those of `compute_reach` (``customers`` as in `Audience.customers`).

    Returns
    -------
    store_code
        Position of the assigned store in ``stores`` (-1: none or not on the map).
    travel, crow
        Minutes and km (NaN when unknown).
    metric
        The value compared with the band limits: ``crow`` in radius mode, else ``travel``.
    passed
        Assigned to a store on the map, reachable, with a finite non-negative ``metric``
        (the catchment limit itself is not applied).
    """
    pos = _align(assignment, customers)
    store_ids = pd.Index(stores["store_id"].astype("string"))
    store_code = _lookup(assignment["store_id"], store_ids)  # -1: NA or not on the map
    if pos is not None:
        store_code = np.where(pos >= 0, store_code[np.maximum(pos, 0)], -1)
    travel = _column(assignment, "travel_min", pos)
    crow = _column(assignment, "crow_km", pos)
    metric = crow if mode == Mode.RADIUS else travel
    reachable = (assignment["reachable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                 if "reachable" in assignment else np.ones(len(assignment), bool))
    if pos is not None:
        reachable = np.where(pos >= 0, reachable[np.maximum(pos, 0)], False)
    with np.errstate(invalid="ignore"):
        passed = (store_code >= 0) & reachable & np.isfinite(metric) & (metric >= 0)
    return store_code, travel, crow, metric, passed


def index_reach(audience: Audience, assignment: pd.DataFrame, stores: pd.DataFrame, *,
                mode: str = "drive") -> ReachIndex:
    """Apply every audience rule that does not depend on the catchment limit (see `ReachIndex`).

    Parameters are those of `compute_reach`.
    """
    customers = audience.customers
    store_code, travel, crow, metric, passed = catchment_values(customers, assignment, stores, mode=mode)
    stage_store: dict[str, np.ndarray] = {}
    stage_value: dict[str, np.ndarray] = {}
    for stage, flag in zip(STAGES[:-1], (None, audience.consented, audience.not_suppressed,
                                         audience.not_contacted, audience.in_segment), strict=True):
        if flag is not None:
            passed = passed & flag
        stage_store[stage], stage_value[stage] = store_code[passed], metric[passed]
    rows = np.flatnonzero(passed)
    # ties are broken by customer id, never by row order, so results are reproducible
    id_rank = _codes_of(customers["customer_id"].take(rows))
    # one target per address: the record nearest to its store, then the smallest customer id
    order = np.lexsort((id_rank, metric[rows], audience.email_code[rows]))
    rows, id_rank = rows[order], id_rank[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = audience.email_code[rows][1:] != audience.email_code[rows][:-1]
    representative = rows[np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))]
    second_rows, second_rep = rows[~first], representative[~first]
    rows, id_rank = rows[first], id_rank[first]
    by_store = np.lexsort((id_rank, store_code[rows]))
    rows, id_rank = rows[by_store], id_rank[by_store]
    return ReachIndex(audience=audience, stores=stores.reset_index(drop=True), mode=mode,
                      stage_store=stage_store, stage_value=stage_value, rows=rows,
                      store_code=store_code[rows], value=metric[rows], travel=travel[rows],
                      crow=crow[rows], id_rank=id_rank, second_rows=second_rows,
                      second_value=metric[second_rows], second_rep=second_rep)


def _targets_frame(audience: Audience, rows: np.ndarray, store_ids: pd.Index,
                   values: pd.DataFrame) -> pd.DataFrame:
    customers = audience.customers

    def take(col: str, dtype: str = "string") -> pd.Series:
        if col not in customers.columns:
            return pd.Series(pd.NA, index=range(len(rows)), dtype=dtype)
        return customers[col].iloc[rows].reset_index(drop=True)

    return pd.DataFrame({
        "customer_id": take("customer_id"),
        "email": take("email"),
        "email_key": audience.email_key.iloc[rows].reset_index(drop=True),
        "first_name": take("first_name"),
        "segment": take("segment"),
        "store_id": pd.Series(store_ids.to_numpy()[values["store_id"].cat.codes.to_numpy()],
                              dtype="string"),
        "travel_min": values["travel_min"].to_numpy(),
        "crow_km": values["crow_km"].to_numpy(),
        "band": values["band"].to_numpy(),
        "group": values["group"].to_numpy(),
    })


def _second_records_frame(audience: Audience, rows: np.ndarray, rep: np.ndarray,
                          store_id: pd.Series) -> pd.DataFrame:
    ids = audience.customers["customer_id"]
    return pd.DataFrame({
        "customer_id": ids.iloc[rows].astype("string").reset_index(drop=True),
        "email_key": audience.email_key.iloc[rows].reset_index(drop=True),
        "represented_by": ids.iloc[rep].astype("string").reset_index(drop=True),
        "store_id": store_id.reset_index(drop=True),
    }, columns=list(SECOND_RECORD_COLUMNS))


def _waterfall(counts: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    totals = [int(counts[s].sum()) for s in STAGES]
    removed = [n - totals[0]] + [a - b for a, b in zip(totals[:-1], totals[1:], strict=True)]
    return pd.DataFrame({"stage": list(STAGES), "label": [STAGE_LABELS[s] for s in STAGES],
                         "customers": totals, "removed": removed})


def _per_store(counts: dict[str, np.ndarray], stores: pd.DataFrame, code: np.ndarray,
               held: np.ndarray) -> pd.DataFrame:
    k = len(stores)
    out = pd.DataFrame({"store_id": stores["store_id"].astype("string").to_numpy(),
                        "name": stores["name"].astype("string").to_numpy()
                        if "name" in stores else pd.NA})
    for s in STAGES:
        out[s] = counts[s]
    out["treatment"] = np.bincount(code[~held], minlength=k)[:k]
    out["holdout"] = np.bincount(code[held], minlength=k)[:k]
    return out


def _per_band(store_ids: pd.Index, labels: list[str], strata: np.ndarray, held: np.ndarray) -> pd.DataFrame:
    k, b = len(store_ids), len(labels)
    treat = np.bincount(strata[~held], minlength=k * b)[:k * b]
    hold = np.bincount(strata[held], minlength=k * b)[:k * b]
    return pd.DataFrame({
        "store_id": np.repeat(store_ids.to_numpy(), b),
        "band": pd.Categorical(np.tile(labels, k), categories=labels),
        "treatment": treat, "holdout": hold,
    })


def reach(customers: pd.DataFrame, assignment: pd.DataFrame, stores: pd.DataFrame, *,
          bands: Sequence[float], mode: str = "drive", filters: AudienceFilters | None = None,
          suppression: Iterable[str] | None = None, contacted: Iterable[str] | None = None,
          today: pd.Timestamp | str | None = None, holdout: float = DEFAULT_HOLDOUT,
          seed: int = DEFAULT_SEED) -> Reach:
    """`prepare_audience` then `compute_reach` in one call (see both for the parameters)."""
    audience = prepare_audience(customers, filters=filters, suppression=suppression,
                                contacted=contacted, today=today)
    return compute_reach(audience, assignment, stores, bands=bands, mode=mode,
                         holdout=holdout, seed=seed)


def travel_histogram(targets: pd.DataFrame, *, column: str = "travel_min",
                     bin_width: float = 1.0) -> pd.DataFrame:
    """Targets per bin of travel minutes (or km): ``bin_start, bin_end, treatment, holdout``.

    Parameters
    ----------
    targets
        ``Reach.values`` (cheap, numbers only) or ``Reach.targets``.
    column
        ``travel_min`` (minutes) or ``crow_km`` (kilometres).
    bin_width
        Width of a bin in the column's unit.
    """
    values = targets[column].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(values)
    if not ok.any():
        return pd.DataFrame(columns=["bin_start", "bin_end", "treatment", "holdout"])
    top = int(np.ceil(values[ok].max() / bin_width)) or 1
    idx = np.clip(np.floor(values[ok] / bin_width).astype(np.int64), 0, top - 1)
    held = (targets["group"] == "holdout").to_numpy(dtype=bool, na_value=False)[ok]
    starts = np.arange(top) * bin_width
    return pd.DataFrame({"bin_start": starts, "bin_end": starts + bin_width,
                         "treatment": np.bincount(idx[~held], minlength=top),
                         "holdout": np.bincount(idx[held], minlength=top)})
