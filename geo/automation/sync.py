"""``geo sync``: welcome the leads that appeared (or newly consented) since a rule's last run.

One run of a rule:

1. resume the rule's unfinished runs (an interrupted upload goes on from the
   export journal; nobody is sent twice);
2. find the new leads: addresses the rule has not seen, or saw without consent
   and that are contactable now (`geo.automation.state`);
3. keep those within the rule's catchment and filters (consent judged per
   address over the whole customers table, `geo.targeting.reach`), assign the
   nearest store, draw the holdout, issue codes (never one used before in the
   workspace) and add the rule's tag;
4. save that batch, add it to the rule's running campaign (so the funnel reads
   it like any campaign) and record every address as seen, in that order;
5. push the treatment through `geo.export.run_export` under the run's own
   export id, consent re-checked per address against today's customers table
   just before sending; anyone who withdrew meanwhile is never sent, and the
   holdout never leaves the app.

Every step can be repeated: a crash anywhere leaves a run that the next call
finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.access import Actor, actor_or_local
from geo.audit import record
from geo.automation.rules import SyncRule, load_rule
from geo.automation.state import SyncState, state_path
from geo.campaign_settings import load_settings
from geo.data.consent import contactable
from geo.errors import GeoError, WorkspaceError
from geo.export.base import Adapter
from geo.export.client import ExportError
from geo.export.journal import ExportJournal, ExportKey
from geo.export.recipients import prepare_targets, with_current_consent
from geo.export.runner import journal_path, run_export
from geo.keys import email_keys
from geo.modes import Mode
from geo.targeting.codes import existing_codes
from geo.targeting.plan import plan_campaign
from geo.targeting.reach import reach
from geo.targeting.suppression import recently_contacted
from geo.targeting.targets import TARGET_COLUMNS, build_target_list, load_campaign, save_campaign
from geo.workspace import Workspace

log = logging.getLogger("geo.automation")
#: reason journaled for a recipient whose consent was withdrawn before the upload reached them
WITHDRAWN = "consent withdrawn before the upload reached this recipient: not sent"
SUMMARY_KEYS = ("new", "eligible", "treatment", "holdout", "sent", "failed")


@dataclass
class SyncSummary:
    """What a ``geo sync`` call did (the CLI prints `as_dict`).

    Attributes
    ----------
    rule
        The rule's name.
    new, eligible, treatment, holdout
        Of this call's new run: leads new to the rule; those within the
        catchment and filters with consent (one per address); how they split.
    sent, failed
        Recipients accepted by the provider and those that failed, over the new
        run and any run this call resumed.
    withdrawn
        Recipients not sent because their consent was withdrawn before the upload.
    runs
        Ids of the runs this call created or resumed.
    dry_run
        True when nothing was saved or sent.
    error
        Why an upload stopped (it is resumed next time), or None.
    note
        E.g. that the first run only recorded the customers already there.
    """

    rule: str
    new: int = 0
    eligible: int = 0
    treatment: int = 0
    holdout: int = 0
    sent: int = 0
    failed: int = 0
    withdrawn: int = 0
    runs: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    dry_run: bool = False
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when nobody failed and no upload stopped."""
        return self.failed == 0 and self.error is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary: the six counts first, then the details."""
        return {**{k: getattr(self, k) for k in SUMMARY_KEYS}, "withdrawn": self.withdrawn,
                "rule": self.rule, "runs": self.runs, "resumed": self.resumed,
                "dry_run": self.dry_run, "error": self.error, "note": self.note}


def campaign_of(rule: SyncRule | str) -> str:
    """Name of a rule's running campaign: ``sync-<rule>``."""
    return f"sync-{rule.name if isinstance(rule, SyncRule) else rule}"


def batch_path(workspace: Workspace, run_id: str) -> Path:
    """Where a run's drawn batch (treatment and holdout) is kept."""
    return Path(workspace.path) / "automation" / "runs" / f"{run_id}.parquet"


def _table(workspace: Workspace, kind: str) -> pd.DataFrame:
    df = workspace.load_table(kind)
    if df is None or df.empty:
        raise WorkspaceError(f"workspace {workspace.name!r} has no {kind}: import them on the "
                             "Data page first")
    return df


def new_leads(customers: pd.DataFrame, seen: pd.DataFrame) -> np.ndarray:
    """True per customer whose address the rule has not seen, or saw without consent and now may contact.

    Parameters
    ----------
    customers
        The customers table (``email``, ``opted_in``[, ``unsubscribed``]).
    seen
        `SyncState.seen` of the rule.
    """
    keys = email_keys(customers["email"])
    now = contactable(customers)
    before = seen.set_index("email_key")["consented"]
    known = keys.isin(before.index).to_numpy(bool)
    was = keys.map(before).fillna(False).astype(bool).to_numpy()
    fresh: np.ndarray = keys.notna().to_numpy(bool) & (~known | (~was & now))
    return fresh


def _seen_frame(customers: pd.DataFrame) -> pd.DataFrame:
    keys = email_keys(customers["email"])
    df = pd.DataFrame({"email_key": keys, "consented": contactable(customers)}).dropna(
        subset=["email_key"])
    # an address is consented only if every record is (contactable is already per address)
    return df.drop_duplicates("email_key")


def rule_assignment(rule: SyncRule, stores: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Nearest store of ``customers`` under the rule's mode (crow-flies km or travel minutes)."""
    if Mode.parse(rule.mode) is Mode.RADIUS:
        from geo.catchments.assign import radius_assign
        return radius_assign(stores, customers, km=rule.limit)
    from geo.catchments.assign import assign_customers
    from geo.network.load import load_network
    from geo.network.routing import Router
    router = Router.from_graph(load_network(str(rule.network), rule.mode))
    return assign_customers(router, stores, customers, mode=rule.mode, traffic=rule.traffic,
                            max_minutes=rule.limit)


def _with_tag(targets: pd.DataFrame, rule: SyncRule, run_id: str) -> pd.DataFrame:
    out = targets.copy()
    tag = out["store_id"].astype("string").map(rule.tag_for)
    out["tags"] = (out["tags"].astype("string").fillna("") + "," + tag).str.strip(",")
    out["sync_run"] = run_id
    return out


def draw_batch(workspace: Workspace, rule: SyncRule, customers: pd.DataFrame,
               stores: pd.DataFrame, new: np.ndarray, *, run_id: str, number: int,
               today: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """The new leads' target list (treatment and holdout, codes, tag) and how many were eligible.

    Consent and the other rules are judged over the whole customers table (an
    old record of the same address that unsubscribed blocks the new one); only
    the new leads are assigned, so every other customer is out of the catchment.
    """
    if not new.any():
        return pd.DataFrame(columns=[*TARGET_COLUMNS, "sync_run"]), 0
    plan_filters = rule.filters
    contacted = (recently_contacted(workspace, plan_filters.exclude_contacted_days, today)
                 if plan_filters.exclude_contacted_days is not None else None)
    leads = customers.loc[new]
    assignment = rule_assignment(rule, stores, leads)
    result = reach(customers, assignment, stores, bands=[rule.limit], mode=rule.mode,
                   filters=plan_filters, contacted=contacted, today=today,
                   holdout=rule.holdout, seed=rule.seed + number)
    eligible = int(len(result.values))
    start = today.normalize()
    end = start + pd.Timedelta(days=rule.offer_days) - pd.Timedelta(seconds=1)
    targets = build_target_list(result.targets, stores, mode=rule.mode, offer_start=start,
                                offer_end=end, existing_codes=existing_codes(workspace))
    return _with_tag(targets, rule, run_id), eligible


def _join_campaign(workspace: Workspace, rule: SyncRule, batch: pd.DataFrame,
                   stores: pd.DataFrame, today: pd.Timestamp, actor: Actor | None = None) -> None:
    """Add the batch to the rule's running campaign (again harmlessly: rows of a run are replaced)."""
    name = campaign_of(rule)
    previous = None
    if name in workspace.list_campaigns():
        previous = load_campaign(workspace, name).targets
    if previous is not None and "sync_run" in previous:
        run_id = str(batch["sync_run"].iloc[0]) if len(batch) else ""
        previous = previous[previous["sync_run"].astype("string") != run_id]
    parts = [p for p in (previous, batch) if p is not None and len(p)]
    if not parts:
        return
    targets = pd.concat(parts, ignore_index=True)
    settings = load_settings(workspace)
    plan = plan_campaign(settings, mode=rule.mode, limit=rule.limit,
                         stores=stores["store_id"].astype(str).tolist(), filters=rule.filters,
                         holdout=rule.holdout, seed=rule.seed, network=rule.network,
                         today=str(today.date()))
    params = {**plan.params(), "sync_rule": rule.name, "provider": rule.provider,
              "list_id": rule.list_id, "tag": rule.tag, "offer_days": rule.offer_days}
    saved = save_campaign(workspace, name, targets, params, overwrite=True, actor=actor)
    # the offer window of a running campaign spans every lead's own window
    meta = dict(saved.meta)
    meta["offer_start"] = pd.to_datetime(targets["offer_start"]).min().isoformat()
    meta["offer_end"] = pd.to_datetime(targets["offer_end"]).max().isoformat()
    workspace.save_campaign_meta(name, meta)


def _withdraw(journal: Path, key: ExportKey, eligible: pd.DataFrame) -> int:
    """Close the journaled recipients not yet uploaded who may no longer be sent; return how many.

    A recipient in a request whose job the provider never confirmed counts as
    not yet uploaded (`geo.export.run_export` would send it again).
    """
    if not journal.exists():
        return 0
    with ExportJournal(journal) as jr:
        if not jr.exists(key):
            return 0
        states = jr.recipients(key)
        # pending, or in a request whose job the provider never confirmed (run_export would resend)
        unsent = (states["state"] == "pending") | ((states["state"] == "sent")
                                                   & states["job_id"].isna())
        gone = states.loc[unsent & ~states["email"].isin(eligible["email"]), "email"]
        if len(gone):
            jr.mark_outcomes(key, pd.DataFrame({"email": gone, "state": "failed",
                                                "reason": WITHDRAWN, "outcome": ""}))
        return int(len(gone))


def send_batch(workspace: Workspace, rule: SyncRule, adapter: Adapter, run_id: str,
               batch: pd.DataFrame, customers: pd.DataFrame) -> dict[str, int]:
    """Upload a run's treatment, consent re-checked per address now; counts sent/failed/withdrawn.

    Raises
    ------
    ExportError
        When the upload stops (journaled; calling again resumes it).
    """
    prepared = prepare_targets(with_current_consent(batch, customers), file=f"sync run {run_id}")
    export_id = f"sync-{run_id}"
    journal = journal_path(workspace)
    key = ExportKey.of(export_id, adapter.destination(rule.list_id))
    _withdraw(journal, key, prepared.eligible)
    if prepared.eligible.empty and not journal.exists():
        return {"sent": 0, "failed": 0, "withdrawn": 0}
    result = run_export(prepared, adapter, rule.list_id, journal=journal, export_id=export_id)
    report = result.report
    withdrawn = (report["status"] == "failed") & (report["reason"] == WITHDRAWN)
    if not result.complete:
        raise ExportError(f"{rule.provider}: the upload of run {run_id} is not finished "
                          f"({result.summary['open']} recipients still open); it resumes next time")
    return {"sent": int((report["status"] == "accepted").sum()),
            "failed": int(((report["status"] == "failed") & ~withdrawn).sum()),
            "withdrawn": int(withdrawn.sum())}


def _finish_run(workspace: Workspace, state: SyncState, rule: SyncRule, adapter: Adapter,
                run_id: str, customers: pd.DataFrame, stores: pd.DataFrame,
                summary: SyncSummary, actor: Actor | None = None) -> None:
    path = batch_path(workspace, run_id)
    if not path.exists():
        state.update_run(run_id, status="interrupted", error=f"batch file {path} is missing")
        summary.error = f"run {run_id}: batch file {path} is missing"
        return
    batch = pd.read_parquet(path)
    run = state.run(run_id)
    if run["status"] == "prepared":
        _join_campaign(workspace, rule, batch, stores, pd.Timestamp(str(run["started_at"]))
                       .tz_localize(None), actor=actor)
    state.update_run(run_id, status="sending")
    try:
        counts = send_batch(workspace, rule, adapter, run_id, batch, customers)
    except ExportError as exc:
        state.update_run(run_id, status="interrupted", error=str(exc))
        summary.error = str(exc)
        return
    state.update_run(run_id, status="done", error="", **counts)
    summary.sent += counts["sent"]
    summary.failed += counts["failed"]
    summary.withdrawn += counts["withdrawn"]


def run_sync(workspace: Workspace, rule_name: str, adapter: Adapter | None, *,
             dry_run: bool = False, now: pd.Timestamp | str | None = None,
             actor: Actor | None = None) -> SyncSummary:
    """Run a rule once (see the module notes); the caller holds the rule's lock.

    A run that may send needs the ``automation`` permission (admin,
    `geo.access.require`); it is written to the workspace's audit trail with
    its counts, provider and list, even when its upload stopped. A dry run only
    counts and is open to every role.

    Parameters
    ----------
    workspace
        The workspace holding the rule, customers, stores and campaigns.
    rule_name
        The rule's name.
    adapter
        The provider adapter of the rule's provider (None only for a dry run).
    dry_run
        Count the new leads and how they would split; save and send nothing.
    now
        The run's time (naive UTC); the offer starts that day. Default: now.
    actor
        Who runs it; None is the operating-system user (`geo.access.local_actor`).
    """
    who = actor_or_local(actor)
    if not dry_run:
        who.require("automation")
    summary = _run_sync(workspace, rule_name, adapter, dry_run=dry_run, now=now, actor=who)
    if not dry_run and summary.runs + summary.resumed:
        rule = load_rule(workspace, rule_name)
        record(workspace, "automation", summary.sent, actor=who, rule=rule.name,
               provider=rule.provider, list=rule.list_id, runs=summary.runs + summary.resumed,
               new=summary.new, treatment=summary.treatment, holdout=summary.holdout,
               failed=summary.failed, error=summary.error)
    return summary


def _run_sync(workspace: Workspace, rule_name: str, adapter: Adapter | None, *,
              dry_run: bool, now: pd.Timestamp | str | None, actor: Actor) -> SyncSummary:
    rule = load_rule(workspace, rule_name)
    if adapter is None and not dry_run:
        raise GeoError("a sync that sends needs the provider adapter")
    if adapter is not None and adapter.provider != rule.provider:
        raise GeoError(f"rule {rule.name!r} sends to {rule.provider}, not {adapter.provider}")
    if not dry_run and adapter is not None:
        adapter.destination(rule.list_id)     # no API key: say so before drawing anything
    today = pd.Timestamp(now) if now is not None else pd.Timestamp.now("UTC").tz_localize(None)
    customers, stores = _table(workspace, "customers"), _table(workspace, "stores")
    summary = SyncSummary(rule.name, dry_run=dry_run)
    with SyncState(state_path(workspace)) as state:
        if not dry_run:
            assert adapter is not None
            for run_id in state.open_runs(rule.name):
                log.info("sync %s: resuming run %s", rule.name, run_id)
                summary.resumed.append(run_id)
                _finish_run(workspace, state, rule, adapter, run_id, customers, stores, summary, actor)
            if summary.error:
                return summary
        seen = state.seen(rule.name)
        number = state.next_number(rule.name)
        run_id = f"{rule.name}-{number:05d}"
        first = number == 1 and seen.empty
        if first and not rule.include_existing:
            summary.note = ("first run: the customers already there are recorded as seen and "
                            "nothing is sent; leads that appear from now on are welcomed")
            if not dry_run:
                state.add_run(rule.name, run_id, number, {}, _seen_frame(customers),
                              status="done", note="baseline")
                summary.runs.append(run_id)
            return summary
        new = new_leads(customers, seen)
        summary.new = int(pd.Series(email_keys(customers["email"])[new]).nunique())
        batch, summary.eligible = draw_batch(workspace, rule, customers, stores, new,
                                             run_id=run_id, number=number, today=today)
        group = batch["group"].astype("string")
        summary.treatment = int((group == "treatment").sum())
        summary.holdout = int((group == "holdout").sum())
        if dry_run:
            return summary
        counts = {"new": summary.new, "eligible": summary.eligible,
                  "treatment": summary.treatment, "holdout": summary.holdout}
        summary.runs.append(run_id)
        if batch.empty:
            state.add_run(rule.name, run_id, number, counts, _seen_frame(customers),
                          status="done", note="no eligible new lead")
            return summary
        path = batch_path(workspace, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        batch.to_parquet(path, index=False)
        state.add_run(rule.name, run_id, number, counts, _seen_frame(customers))
        assert adapter is not None
        _finish_run(workspace, state, rule, adapter, run_id, customers, stores, summary, actor)
    return summary
