"""Upload recipients to a SendGrid Marketing list with contact upsert jobs (suppressions untouched)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pandas as pd

from geo.export.base import (
    Adapter,
    Collected,
    Job,
    JobLost,
    JobState,
    outcomes_frame,
    with_travel,
)
from geo.export.client import ExportError, ProviderError, Secret
from geo.export.csv_layouts import ApiField
from geo.keys import email_key

#: our field -> (custom field name, SendGrid field type); the travel field (``travel_minutes``
#: or ``distance_km``, Number) comes from `geo.export.csv_layouts.API_TRAVEL_FIELDS`
CUSTOM_FIELDS = {
    "store_name": ("nearest_store", "Text"),
    "store_address": ("store_address", "Text"),
    "coupon_code": ("coupon_code", "Text"),
    "offer_start": ("offer_start", "Text"),
    "offer_end": ("offer_end", "Text"),
    "tags": ("tags", "Text"),
}


class SendGridAdapter(Adapter):
    """SendGrid v3 Marketing Campaigns (``https://api.sendgrid.com``; EU: ``api.eu.sendgrid.com``).

    Each batch is one ``PUT /v3/marketing/contacts`` (up to 30,000 contacts or
    6 MB) returning a job id that is polled on ``/contacts/imports/{id}``; rows
    that errored are read from the job's ``errors_url`` file. Custom fields are
    created when missing and referenced by id; a field that SendGrid has not
    made usable yet ("invalid custom field ids") is retried after a pause.
    Contacts carry no subscription status, so uploads never touch suppressions.

    Parameters
    ----------
    field_ready_attempts
        Upload attempts while freshly created custom fields are not yet usable.
    **kwargs
        See `geo.export.base.Adapter`.
    """

    provider = "sendgrid"
    max_batch_size = 30_000
    max_batch_bytes = 6_000_000
    default_base_url = "https://api.sendgrid.com"

    def __init__(self, api_key: str | Secret | None = None, *, field_ready_attempts: int = 5,
                 **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self.field_ready_attempts = field_ready_attempts
        self._field_ids: dict[str, str] = {}

    def auth_headers(self) -> dict[str, str]:
        """Bearer authentication with the key."""
        return {"Authorization": f"Bearer {self.secret().reveal()}"}

    def error_detail(self, response: httpx.Response) -> str:
        """The ``errors`` of the body (field: message), else the start of the body."""
        try:
            errors = response.json().get("errors") or []
        except (ValueError, AttributeError):
            return response.text[:200] or response.reason_phrase
        return "; ".join((f"{e['field']}: " if e.get("field") else "") + str(e.get("message", ""))
                         for e in errors) or response.reason_phrase

    def list_lists(self) -> pd.DataFrame:
        """The account's Marketing lists (``id``, ``name``, ``members``), following ``next`` links."""
        rows: list[dict[str, Any]] = []
        url: str | None = "/v3/marketing/lists"
        params: dict[str, Any] | None = {"page_size": 1000}
        while url:
            body = self.http.request("GET", url, params=params).json()
            rows += [{"id": str(x["id"]), "name": x.get("name", ""),
                      "members": int(x.get("contact_count", 0))} for x in body.get("result", [])]
            url, params = (body.get("_metadata") or {}).get("next"), None
        return pd.DataFrame(rows, columns=["id", "name", "members"])

    def custom_fields(self, travel: ApiField) -> dict[str, tuple[str, str]]:
        """Our field -> (custom field name, type), with ``travel``'s field."""
        return with_travel(CUSTOM_FIELDS, travel, (travel.name, travel.kind))

    def planned_fields(self, mode: str | None = None) -> pd.DataFrame:
        """The reserved ``first_name`` and the custom fields of ``mode``'s travel field."""
        rows = [{"field": "first_name", "provider_field": "first_name", "type": "Text",
                 "native": True}]
        rows += [{"field": f, "provider_field": name, "type": kind, "native": False}
                 for f, (name, kind) in self.custom_fields(self.travel_field(mode)).items()]
        return pd.DataFrame(rows)

    def _existing_fields(self) -> dict[str, str]:
        body = self.http.request("GET", "/v3/marketing/field_definitions").json()
        return {f["name"].lower(): str(f["id"]) for f in body.get("custom_fields", [])}

    def ensure_fields(self, list_id: str, mode: str | None = None) -> pd.DataFrame:
        """Create the custom fields the account lacks, note every field's id; return the plan with ``created``."""
        existing = self._existing_fields()
        plan = self.planned_fields(mode)
        plan["created"] = False
        for i, (f, name, kind) in enumerate(zip(plan["field"], plan["provider_field"], plan["type"], strict=True)):
            if plan.at[i, "native"]:
                continue
            if name not in existing:
                resp = self.http.request("POST", "/v3/marketing/field_definitions", idempotent=False,
                                         allow=(400,), json={"name": name, "field_type": kind})
                if resp.status_code == 400:  # a lost first attempt may have created it
                    existing = self._existing_fields()
                    if name not in existing:
                        raise ExportError(f"sendgrid: cannot create custom field {name}: "
                                          f"{self.error_detail(resp)}")
                else:
                    existing[name] = str(resp.json()["id"])
                plan.at[i, "created"] = True
            self._field_ids[f] = existing[name]
        return plan

    def _contact(self, row: dict[str, Any], fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
        contact: dict[str, Any] = {"email": row["email"]}
        if "first_name" in row:
            contact["first_name"] = str(row["first_name"])[:50]
        contact["custom_fields"] = {self._field_ids.get(f, f"<id of {name}>"): row[f]
                                    for f, (name, _) in fields.items() if f in row}
        return contact

    def payload(self, list_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        """A contacts upsert body: the list id and one contact per recipient, custom fields by id."""
        travel, rows = self.upload_records(batch)
        fields = self.custom_fields(travel)
        return {"list_ids": [list_id], "contacts": [self._contact(r, fields) for r in rows]}

    def submit(self, list_id: str, batch: pd.DataFrame) -> Job:
        """Upsert the batch, retrying while freshly created custom fields are not yet usable."""
        body = self.payload(list_id, batch)
        for attempt in range(1, self.field_ready_attempts + 1):
            try:
                resp = self.http.request("PUT", "/v3/marketing/contacts", json=body)
                return Job(str(resp.json()["job_id"]))
            except ProviderError as exc:
                not_ready = exc.status == 400 and "invalid custom field ids" in exc.detail
                if not not_ready or attempt == self.field_ready_attempts:
                    raise
                self.policy.sleep(self.policy.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _job(self, job: Job) -> dict[str, Any]:
        resp = self.http.request("GET", f"/v3/marketing/contacts/imports/{job.id}", allow=(404,))
        if resp.status_code == 404:
            raise JobLost(f"sendgrid: import job {job.id} is unknown; its recipients will be "
                          "sent again")
        body: dict[str, Any] = resp.json()
        return body

    def status(self, job: Job) -> JobState:
        """Poll the import job: done once completed, errored or failed."""
        body = self._job(job)
        status = body.get("status")
        return JobState(done=status in ("completed", "errored", "failed"), failed=status == "failed",
                        detail=str(status))

    def collect(self, list_id: str, job: Job, batch: pd.DataFrame) -> Collected:
        """Accept the batch, less the rows listed in the job's error file."""
        body = self._job(job)
        status = body.get("status")
        results = body.get("results") or {}
        emails = batch["email"]
        if status == "completed":
            return Collected(outcomes_frame(emails, "accepted"))
        errors = self._errors(results.get("errors_url") or "")
        if status == "failed" and not errors:
            return Collected(outcomes_frame(emails, "failed", f"sendgrid import job {job.id} failed"))
        failed = emails.isin(errors.keys())
        return Collected(outcomes_frame(emails, failed.map({True: "failed", False: "accepted"}).tolist(),
                                        [errors.get(e, "") for e in emails]))

    def _errors(self, url: str) -> dict[str, str]:
        """Rows of the job's error file (CSV with an ``email`` column and an ``error`` column)."""
        if not url:
            return {}
        text = self.http.request("GET", url, auth=False).text
        reader = csv.DictReader(io.StringIO(text))
        out: dict[str, str] = {}
        for row in reader:
            low = {k.lower().strip(): v for k, v in row.items() if k}
            email = email_key(low.get("email") or low.get("identifier")) or ""
            out[email] = low.get("error") or low.get("message") or "rejected by sendgrid"
        return out

    def notes(self) -> list[str]:
        """Suppressions stay in force: contacts carry no subscription status."""
        return ["SendGrid contacts have no subscription status: global and group suppressions "
                "stay in force and uploads never remove them"]
