"""Upload recipients to a Klaviyo list with bulk profile import jobs, never touching consent."""

from __future__ import annotations

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
from geo.export.client import Secret
from geo.export.csv_layouts import ApiField
from geo.export.recipients import tag_list
from geo.keys import email_key

#: our field -> Klaviyo profile property (free-form, nothing to create); the travel property
#: (``travel_minutes`` or ``distance_km``) comes from `geo.export.csv_layouts.API_TRAVEL_FIELDS`
PROPERTIES = {
    "store_name": "nearest_store",
    "store_address": "store_address",
    "coupon_code": "coupon_code",
    "offer_start": "offer_start",
    "offer_end": "offer_end",
    "tags": "esp_tags",
}
JSONAPI = "application/vnd.api+json"


class KlaviyoAdapter(Adapter):
    """Klaviyo API (``https://a.klaviyo.com``, JSON:API, pinned ``revision`` header).

    Each batch is one ``POST /api/profile-bulk-import-jobs`` (up to 10,000
    profiles or 5 MB) that upserts profiles and adds them to the list; the job is
    polled until ``complete`` and its ``import-errors`` are read per recipient.
    Bulk import never changes consent, and this adapter never calls the
    subscription endpoint (it clears unsubscribes and suppressions).

    Parameters
    ----------
    revision
        Value of the ``revision`` header (the API version this code was written for).
    **kwargs
        See `geo.export.base.Adapter`.
    """

    provider = "klaviyo"
    error_page_size = 100  # import errors per page (Klaviyo allows 1 to 100)
    max_batch_size = 10_000
    max_batch_bytes = 5_000_000
    default_base_url = "https://a.klaviyo.com"

    def __init__(self, api_key: str | Secret | None = None, *, revision: str = "2026-07-15",
                 **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self.revision = revision

    def auth_headers(self) -> dict[str, str]:
        """The private key, the pinned ``revision`` and the JSON:API content types."""
        return {"Authorization": f"Klaviyo-API-Key {self.secret().reveal()}",
                "revision": self.revision, "Accept": JSONAPI, "Content-Type": JSONAPI}

    def error_detail(self, response: httpx.Response) -> str:
        """The ``errors`` of the body (code: detail), else the start of the body."""
        try:
            errors = response.json().get("errors") or []
        except (ValueError, AttributeError):
            return response.text[:200] or response.reason_phrase
        return "; ".join(f"{e.get('code', '')}: {e.get('detail') or e.get('title', '')}"
                         for e in errors) or response.reason_phrase

    def list_lists(self) -> pd.DataFrame:
        """The account's lists (``id``, ``name``; ``members`` unknown), following ``next`` links."""
        rows: list[dict[str, Any]] = []
        url: str | None = "/api/lists"
        while url:
            body = self.http.request("GET", url).json()
            rows += [{"id": str(x["id"]), "name": x.get("attributes", {}).get("name", ""),
                      "members": None} for x in body.get("data", [])]
            url = (body.get("links") or {}).get("next")
        return pd.DataFrame(rows, columns=["id", "name", "members"])

    def properties(self, travel: ApiField) -> dict[str, tuple[str, str]]:
        """Our field -> (profile property, type shown), with ``travel``'s property."""
        plain = {f: (p, "list" if f == "tags" else "text") for f, p in PROPERTIES.items()}
        return with_travel(plain, travel, (travel.name, travel.kind))

    def planned_fields(self, mode: str | None = None) -> pd.DataFrame:
        """``first_name`` and the profile properties of ``mode``'s travel field, all built in."""
        rows = [{"field": "first_name", "provider_field": "first_name", "type": "text",
                 "native": True}]
        rows += [{"field": f, "provider_field": f"properties.{p}", "type": kind, "native": True}
                 for f, (p, kind) in self.properties(self.travel_field(mode)).items()]
        return pd.DataFrame(rows)

    def ensure_fields(self, list_id: str, mode: str | None = None) -> pd.DataFrame:
        """The plan with ``created`` False: profile properties need no creating."""
        return self.planned_fields(mode).assign(created=False)  # properties are free-form

    def _profile(self, row: dict[str, Any], fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
        props = {p: row[f] for f, (p, _) in fields.items() if f in row}
        if "tags" in row:
            props["esp_tags"] = tag_list(row["tags"])
        attrs: dict[str, Any] = {"email": row["email"], "properties": props}
        if "first_name" in row:
            attrs["first_name"] = row["first_name"]
        return {"type": "profile", "attributes": attrs}

    def payload(self, list_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        """A bulk profile import job body: one profile per recipient, added to ``list_id``."""
        travel, rows = self.upload_records(batch)
        fields = self.properties(travel)
        return {"data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [self._profile(r, fields) for r in rows]}},
            "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}}}}

    def submit(self, list_id: str, batch: pd.DataFrame) -> Job:
        """Submit the batch as a bulk profile import job."""
        body = self.http.request("POST", "/api/profile-bulk-import-jobs",
                                 json=self.payload(list_id, batch)).json()
        return Job(str(body["data"]["id"]))

    def _job(self, job: Job) -> dict[str, Any]:
        resp = self.http.request("GET", f"/api/profile-bulk-import-jobs/{job.id}", allow=(404,))
        if resp.status_code == 404:
            raise JobLost(f"klaviyo: import job {job.id} is unknown (expired); its recipients "
                          "will be sent again")
        attrs: dict[str, Any] = resp.json()["data"]["attributes"]
        return attrs

    def status(self, job: Job) -> JobState:
        """Poll the import job: done once complete or cancelled, with its counts."""
        attrs = self._job(job)
        status = attrs.get("status")
        return JobState(done=status in ("complete", "cancelled"), failed=status == "cancelled",
                        detail=f"{status}: {attrs.get('completed_count', 0)} done, "
                               f"{attrs.get('failed_count', 0)} failed")

    def collect(self, list_id: str, job: Job, batch: pd.DataFrame) -> Collected:
        """Accept the batch, less the profiles listed in the job's import errors."""
        attrs = self._job(job)
        if attrs.get("status") == "cancelled":
            return Collected(outcomes_frame(batch["email"], "failed",
                                            f"klaviyo import job {job.id} was cancelled"))
        errors: dict[str, str] = {}
        url: str | None = f"/api/profile-bulk-import-jobs/{job.id}/import-errors"
        params: dict[str, Any] | None = {"page[size]": self.error_page_size}
        while url:
            body = self.http.request("GET", url, params=params).json()
            for item in body.get("data", []):
                a = item.get("attributes", {})
                original = a.get("original_payload") or {}
                email = email_key(original.get("email")
                                  or (original.get("attributes") or {}).get("email")) or ""
                errors[email] = f"{a.get('code', 'error')}: {a.get('detail') or a.get('title', '')}"
            url, params = (body.get("links") or {}).get("next"), None
        emails = batch["email"]
        failed = emails.isin(errors.keys())
        return Collected(outcomes_frame(emails, failed.map({True: "failed", False: "accepted"}).tolist(),
                                        [errors.get(e, "") for e in emails]))

    def notes(self) -> list[str]:
        """Consent is never changed: new profiles get no email subscription."""
        return ["Klaviyo bulk import never changes consent: existing profiles keep their "
                "subscription and suppressions; new profiles are created without an email "
                "subscription (subscribe them in Klaviyo with your record of consent)"]
