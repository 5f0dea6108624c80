"""Run an export: dry run, then a batched, journaled, resumable upload with a per-recipient report.

The module runs past the house's ~400 lines because it is one flow: `dry_run` and
`run_export` share the steps that decide what an export is (prepared targets, one
travel mode, the export id, the destination and what the journal already holds),
and `DryRun` and `ExportResult` are what they return. Providers, the journal, the
HTTP client and the file layouts each have their own module.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from geo import audit
from geo.access import Actor, actor_or_local
from geo.errors import GeoError
from geo.export.base import Adapter, Job, JobLost, JobState, mask_email
from geo.export.client import ExportError
from geo.export.csv_layouts import distance_values, layout_mode
from geo.export.journal import FINAL, Destination, ExportJournal, ExportKey
from geo.export.recipients import PreparedTargets, fingerprint, prepare_targets
from geo.modes import Mode
from geo.workspace import Workspace

log = logging.getLogger("geo.export")

REPORT_COLUMNS = ["customer_id", "email", "status", "reason", "outcome", "job_id"]


@dataclass
class DryRun:
    """What an export would do, with nothing sent.

    Attributes
    ----------
    summary
        JSON-ready dict: counts (in all and ``per_store``), batches, fields, a
        sample payload with masked emails, the provider's consent notes, and
        what the journal already holds.
    fields
        Our fields and the provider fields they map to.
    skipped
        Rows that would not be exported, with the reason.
    """

    summary: dict[str, Any]
    fields: pd.DataFrame
    skipped: pd.DataFrame


@dataclass
class ExportResult:
    """Outcome of `run_export`.

    Attributes
    ----------
    export_id, provider, list_id
        Which export this is.
    report
        One row per target-list row: ``customer_id, email, status, reason,
        outcome, job_id``; status is ``accepted``, ``failed``, ``refused``,
        ``excluded``, or ``pending``/``sent`` when the export is incomplete.
    complete
        True when every eligible recipient ended accepted or failed.
    fields
        Field mapping with ``created`` (None when nothing was sent).
    sent_requests
        False when the run found the export already finished and made no request.
    notes
        The provider's consent notes.
    destination
        Where it went (with ``export_id``, the journal's key): provider, API
        root, account fingerprint and list.
    """

    export_id: str
    provider: str
    list_id: str
    report: pd.DataFrame
    complete: bool
    fields: pd.DataFrame | None = None
    sent_requests: bool = True
    notes: list[str] = field(default_factory=list)
    destination: Destination | None = None

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        return {k: int(v) for k, v in self.report["status"].value_counts().items()}

    def accepted_notes(self) -> dict[str, int]:
        """Accepted recipients per provider note (e.g. kept status unsubscribed), if any."""
        ok = self.report.loc[self.report["status"] == "accepted", "outcome"].fillna("")
        return {str(k): int(v) for k, v in ok[ok != ""].value_counts().items()}

    @property
    def failed(self) -> int:
        """Recipients that failed (before sending or at the provider)."""
        return int((self.report["status"] == "failed").sum())

    @property
    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's output)."""
        counts = self.counts()
        failures = self.report.loc[self.report["status"] == "failed", ["email", "reason"]]
        created = [] if self.fields is None or "created" not in self.fields else \
            self.fields.loc[self.fields["created"], "provider_field"].tolist()
        return {
            "export_id": self.export_id, "provider": self.provider, "list_id": self.list_id,
            **_where(self.destination),
            "complete": self.complete, "sent_requests": self.sent_requests,
            **{s: counts.get(s, 0) for s in ("accepted", "failed", "refused", "excluded")},
            "open": counts.get("pending", 0) + counts.get("sent", 0),
            "fields_created": created,
            "accepted_notes": self.accepted_notes(),
            "failures": [{"email": mask_email(e), "reason": str(r).replace(str(e), mask_email(e))}
                         for e, r in failures.head(20).itertuples(index=False)],
            "notes": self.notes,
        }

    def report_csv(self) -> bytes:
        """The per-recipient report as UTF-8 CSV bytes (for a download button)."""
        text: str = self.report.to_csv(index=False)
        return text.encode("utf-8")

    def to_csv(self, path: str | Path) -> Path:
        """Write the per-recipient report as CSV and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.report.to_csv(path, index=False)
        return path


def journal_path(workspace: Workspace) -> Path:
    """The export journal of a `geo.workspace.Workspace`: ``<path>/exports/journal.sqlite``."""
    return Path(workspace.path) / "exports" / "journal.sqlite"


def _open_journal(journal: ExportJournal | str | Path) -> tuple[ExportJournal, bool]:
    if isinstance(journal, ExportJournal):
        return journal, False
    return ExportJournal(journal), True


def _where(destination: Destination | None) -> dict[str, str | None]:
    """The API root and account of a destination, for summaries (None when unknown)."""
    return {"api_root": destination and destination.api_root,
            "account": destination and destination.account}


def journal_state(journal: ExportJournal | str | Path, export_id: str,
                  destination: Destination) -> dict[str, int]:
    """Recipients per journal state (``pending``, ``sent``, ``accepted``, ``failed``) of one export.

    Parameters
    ----------
    journal
        An `ExportJournal` or the path of its file.
    export_id
        The export's id (see `dry_run`).
    destination
        Where it goes (`geo.export.base.Adapter.destination`): the same export id
        sent to another API root, account or list is another export.

    Returns
    -------
    Empty when the journal file does not exist or has no such export (nothing is
    created). ``pending`` or ``sent`` recipients mean an interrupted export that
    `run_export` resumes; only ``accepted``/``failed`` means it finished.
    """
    if not isinstance(journal, ExportJournal) and not Path(journal).exists():
        return {}
    jr, own = _open_journal(journal)
    try:
        key = ExportKey.of(export_id, destination)
        if not jr.exists(key):
            return {}
        return {k: int(v) for k, v in jr.recipients(key)["state"].value_counts().items()}
    finally:
        if own:
            jr.close()


def list_mode(eligible: pd.DataFrame) -> str | None:
    """The travel mode of the recipients (``drive``, ``walk``, ``bike``, ``radius``) or None.

    Raises
    ------
    ExportError
        When the list mixes modes: every recipient of an export gets the same
        provider field, minutes or (radius mode) kilometres.
    """
    try:
        return layout_mode(eligible)
    except GeoError as exc:
        raise ExportError(str(exc)) from None


def export_id_of(eligible: pd.DataFrame, provider: str, list_id: str) -> str:
    """The default export id: `fingerprint` of the values an upload sends (km in radius mode)."""
    mode = list_mode(eligible)
    km = distance_values(eligible, mode) if mode == Mode.RADIUS else None
    return fingerprint(eligible, provider, str(list_id), distance_km=km)


def dry_run(targets: pd.DataFrame | PreparedTargets, adapter: Adapter, list_id: str, *,
            journal: ExportJournal | str | Path | None = None, export_id: str | None = None,
            sample_size: int = 2) -> DryRun:
    """Describe an export without sending anything (and without needing an API key).

    Parameters
    ----------
    targets
        The target list (or its `prepare_targets` result).
    adapter
        The provider adapter; only its offline methods are used.
    list_id
        Audience/list the export would upload to.
    journal
        Optional journal, to report what an earlier run of this export to the same
        destination already did (left empty without an API key: the account is
        then unknown).
    export_id
        Export id; by default the fingerprint of the recipients, provider and list.
    sample_size
        Recipients in the sample payload (their emails are masked).
    """
    prepared = targets if isinstance(targets, PreparedTargets) else prepare_targets(targets)
    eligible, skipped = prepared.eligible, prepared.skipped
    mode = list_mode(eligible)
    export_id = export_id or export_id_of(eligible, adapter.provider, str(list_id))
    sample = eligible.head(sample_size).assign(email=lambda d: d["email"].map(mask_email))
    fields = adapter.planned_fields(mode)
    try:
        destination = adapter.destination(str(list_id))
    except ExportError:   # no key: a dry run needs none, but then the account is unknown
        destination = None
    already = {} if journal is None or destination is None else \
        journal_state(journal, export_id, destination)
    summary = {
        "dry_run": True, "provider": adapter.provider, "list_id": str(list_id),
        **_where(destination),
        "export_id": export_id, "travel_mode": mode, "recipients": int(len(eligible)),
        "batches": math.ceil(len(eligible) / adapter.batch_size), "batch_size": adapter.batch_size,
        **{s: int((skipped["state"] == s).sum()) for s in ("excluded", "refused", "failed")},
        "skip_reasons": {k: int(v) for k, v in skipped["rule"].value_counts().items()},
        "per_store": {str(k): int(v) for k, v in
                      eligible["store_id"].astype("string").fillna("(none)").value_counts()
                      .sort_index().items()},
        "fields": fields.to_dict("records"),
        "sample_payload": adapter.payload(str(list_id), sample) if len(sample) else None,
        "notes": adapter.notes(), "already_in_journal": already,
    }
    return DryRun(summary, fields, skipped)


def _batches(adapter: Adapter, list_id: str, rows: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """Split rows at the provider's row limit, then any batch over its byte limit into equal parts."""
    limit = adapter.max_batch_bytes
    for start in range(0, len(rows), adapter.batch_size):
        stack = [rows.iloc[start:start + adapter.batch_size]]
        while stack:
            chunk = stack.pop(0)
            size = len(json.dumps(adapter.payload(list_id, chunk), default=str)) if limit else 0
            if limit and size > limit and len(chunk) > 1:
                parts = min(len(chunk), math.ceil(size * 1.05 / limit))
                step = math.ceil(len(chunk) / parts)
                stack[:0] = [chunk.iloc[i:i + step] for i in range(0, len(chunk), step)]
                continue
            yield chunk


def _wait(adapter: Adapter, job: Job) -> JobState | None:
    """Poll a job until it ends; None when ``max_polls`` ran out (resume later)."""
    policy = adapter.policy
    for _ in range(policy.max_polls):
        state = adapter.status(job)
        if state.done:
            return state
        policy.sleep(policy.poll_interval)
    log.warning("%s job %s still running after %d polls", adapter.provider, job.id, policy.max_polls)
    return None


def _merge_follow_up(outcomes: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Fail recipients whose follow-up (tags) failed, keeping the reason."""
    bad = extra.loc[extra["state"] == "failed"].set_index("email")["reason"]
    hit = outcomes["email"].isin(bad.index) & (outcomes["state"] == "accepted")
    outcomes = outcomes.copy()
    outcomes.loc[hit, "state"] = "failed"
    outcomes.loc[hit, "reason"] = "saved, but tags not applied: " + \
        outcomes.loc[hit, "email"].map(bad)
    return outcomes


def _complete_job(adapter: Adapter, jr: ExportJournal, key: ExportKey, list_id: str,
                  job: Job, batch: pd.DataFrame) -> bool:
    """Poll a job, read its results (and its follow-up's), journal them; False if unfinished."""
    try:
        state = _wait(adapter, job)
    except JobLost as exc:
        log.warning("%s", exc)
        jr.finish_job(key, job.id, "lost")
        jr.reset_sent(key, job.id)
        return False
    if state is None:
        return False
    collected = adapter.collect(list_id, job, batch)
    outcomes = collected.outcomes
    if collected.follow_up is not None:
        child_id = jr.child_job(key, job.id)
        if child_id is None:
            child = adapter.submit_follow_up(list_id, collected.follow_up)
            jr.add_job(key, child.id, child.kind, parent_id=job.id)
        else:
            child = Job(child_id, "tags")
        if _wait(adapter, child) is None:
            return False
        outcomes = _merge_follow_up(outcomes, adapter.collect(list_id, child, batch).outcomes)
        jr.finish_job(key, child.id, "done")
    lost = batch.loc[~batch["email"].isin(outcomes["email"]), "email"]
    if len(lost):
        outcomes = pd.concat([outcomes, pd.DataFrame(
            {"email": lost, "state": "failed", "outcome": "",
             "reason": f"{adapter.provider} returned no result for this recipient"})])
    jr.mark_outcomes(key, outcomes)
    jr.finish_job(key, job.id, "done")
    return True


def _report(jr: ExportJournal, key: ExportKey, skipped: pd.DataFrame) -> pd.DataFrame:
    journaled = jr.recipients(key).rename(columns={"state": "status"})
    rest = skipped.rename(columns={"state": "status"}).assign(outcome="", job_id=None)
    parts = [p for p in (journaled, rest) if len(p)]
    if not parts:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    return pd.concat(parts, ignore_index=True)[REPORT_COLUMNS]


def run_export(targets: pd.DataFrame | PreparedTargets, adapter: Adapter, list_id: str, *,
               journal: ExportJournal | str | Path, export_id: str | None = None,
               progress: Callable[[int, int], None] | None = None,
               actor: Actor | None = None, workspace: Workspace | None = None) -> ExportResult:
    """Upload a target list to a provider list, resumably, and report per recipient.

    Only treatment members with consent are uploaded (see `prepare_targets`),
    each with the travel field of the list's mode: whole minutes for drive, walk
    and bike, crow-flies km with one decimal in radius mode (see
    `geo.export.csv_layouts.api_travel_field`).
    The journal keys the export by its id and its destination (provider, API
    root, account, list: `geo.export.base.Adapter.destination`), so the same
    campaign sent to a list of the same id on another server or account is
    uploaded there too.
    Steps: journal every recipient as pending; if the journal shows this export
    finished, return at once without any request; else make sure the custom
    fields of that mode exist, poll jobs an interrupted run had submitted, then submit the
    remaining recipients in batches at the provider's limits, poll each job to
    the end and journal each recipient as accepted or failed with the reason.

    Parameters
    ----------
    targets
        The target list (or its `prepare_targets` result).
    adapter
        Provider adapter (holds the key, base URL, retry policy and batch size).
    list_id
        The provider's audience/list id.
    journal
        An `ExportJournal` or the path of its SQLite file
        (see `journal_path` for the workspace's one).
    export_id
        Export id; by default a fingerprint of recipients, provider and list, so
        running the same export to the same destination again resumes it or,
        when finished, does nothing.
    progress
        Called with ``(recipients done, recipients to do)`` after each batch.
    actor, workspace
        Who exports (`geo.access.require` ``export``: admin; None is the local
        OS user) and the workspace whose audit trail records the run, even an
        interrupted one (None records nothing).

    Raises
    ------
    ExportError
        When no API key is set or the list mixes travel modes (nothing is
        sent), or the provider refuses a request (bad key, unknown list) or
        stays unreachable; what was done so far is journaled and a re-run resumes.
    """
    actor_or_local(actor).require("export")
    prepared = targets if isinstance(targets, PreparedTargets) else prepare_targets(targets)
    eligible, skipped = prepared.eligible, prepared.skipped
    list_id = str(list_id)
    mode = list_mode(eligible)
    export_id = export_id or export_id_of(eligible, adapter.provider, list_id)
    destination = adapter.destination(list_id)
    key = ExportKey.of(export_id, destination)
    jr, own = _open_journal(journal)
    requests = False
    try:
        jr.start(key, eligible)
        states = jr.recipients(key)
        if states["state"].isin(FINAL).all():
            jr.finish(key)
            return ExportResult(export_id, adapter.provider, list_id, _report(jr, key, skipped),
                                True, sent_requests=False, notes=adapter.notes(),
                                destination=destination)
        requests = True
        fields = adapter.ensure_fields(list_id, mode)
        rows = eligible.set_index("email", drop=False)
        total, done = len(states), int(states["state"].isin(FINAL).sum())
        complete = True
        jobs = jr.jobs(key)
        for job_id in jobs.loc[(jobs["status"] == "submitted") & (jobs["kind"] == "upsert"),
                               "job_id"]:
            emails = states.loc[(states["job_id"] == job_id) & (states["state"] == "sent"), "email"]
            batch = rows.loc[rows.index.intersection(emails)].reset_index(drop=True)
            log.info("%s: resuming job %s (%d recipients)", adapter.provider, job_id, len(batch))
            if _complete_job(adapter, jr, key, list_id, Job(job_id), batch):
                done += len(batch)
        jr.reset_sent(key, None)
        states = jr.recipients(key)
        pending = states.loc[states["state"] == "pending", "email"]
        todo = rows.loc[rows.index.intersection(pending)].reset_index(drop=True)
        if len(todo) < len(pending):
            complete = False
            log.warning("%s: %d journaled recipients are not in this target list",
                        adapter.provider, len(pending) - len(todo))
        for batch in _batches(adapter, list_id, todo):
            emails = batch["email"].tolist()
            jr.mark_sent(key, emails)
            job = adapter.submit(list_id, batch)
            jr.add_job(key, job.id, job.kind)
            jr.mark_sent(key, emails, job.id)
            if _complete_job(adapter, jr, key, list_id, job, batch):
                done += len(batch)
            else:
                complete = False
            if progress is not None:
                progress(done, total)
        complete = complete and jr.recipients(key)["state"].isin(FINAL).all()
        if complete:
            jr.finish(key)
        return ExportResult(export_id, adapter.provider, list_id, _report(jr, key, skipped),
                            bool(complete), fields=fields, notes=adapter.notes(),
                            destination=destination)
    finally:
        if workspace is not None and requests:
            _audit_export(workspace, actor, jr, key, adapter.provider, list_id)
        if own:
            jr.close()


def _audit_export(workspace: Workspace, actor: Actor | None, jr: ExportJournal, key: ExportKey,
                  provider: str, list_id: str) -> None:
    """Record an export run that made requests: recipients per journal state, by provider and list."""
    states = {str(k): int(v) for k, v in jr.recipients(key)["state"].value_counts().items()}
    left = sum(n for s, n in states.items() if s != "pending")
    audit.record(workspace, "export", left, actor=actor, provider=provider, list=list_id,
                 export_id=key.export_id, **states)
