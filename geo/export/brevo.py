"""Upload recipients to a Brevo list with contact import processes, never un-blocklisting anyone."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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
from geo.export.client import ExportError, Secret
from geo.export.csv_layouts import ApiField

#: our field -> (attribute name, Brevo attribute type); the travel attribute (``TRAVEL_MINUTES``
#: or ``DISTANCE_KM``, float) comes from `geo.export.csv_layouts.API_TRAVEL_FIELDS`
ATTRIBUTES = {
    "store_name": ("NEAREST_STORE", "text"),
    "store_address": ("STORE_ADDRESS", "text"),
    "coupon_code": ("COUPON_CODE", "text"),
    "offer_start": ("OFFER_START", "text"),
    "offer_end": ("OFFER_END", "text"),
    "tags": ("TAGS", "text"),
}
#: names the default first-name attribute takes with the account language
FIRST_NAME_ATTRIBUTES = ("FIRSTNAME", "PRENOM", "VORNAME", "NOMBRE", "NOME", "VOORNAAM")


class BrevoAdapter(Adapter):
    """Brevo API v3 (``https://api.brevo.com/v3``, header ``api-key``).

    Each batch is one ``POST /contacts/import`` with a JSON body (at most ~8 MB,
    below Brevo's 10 MB limit), ``updateExistingContacts`` on and no
    ``emailBlacklist`` flag at all (sending false could un-block someone). The
    process is polled until it ends. Brevo only counts invalid rows, so when it
    reports any, each address of that batch is looked up to tell which ones
    were not imported. Missing attributes are created first, since Brevo
    silently drops unknown ones; the first-name attribute is found by name
    because it follows the account language.

    Parameters
    ----------
    **kwargs
        See `geo.export.base.Adapter`.
    """

    provider = "brevo"
    max_batch_size = 50_000
    max_batch_bytes = 8_000_000
    default_base_url = "https://api.brevo.com/v3"

    def __init__(self, api_key: str | Secret | None = None, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self._first_name = "FIRSTNAME"

    def auth_headers(self) -> dict[str, str]:
        """The key in the ``api-key`` header."""
        return {"api-key": self.secret().reveal(), "Accept": "application/json"}

    def error_detail(self, response: httpx.Response) -> str:
        """The body's code and message, else the start of the body."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200] or response.reason_phrase
        return f"{body.get('code', '')}: {body.get('message', '')}".strip(": ") or response.reason_phrase

    def list_lists(self) -> pd.DataFrame:
        """The account's contact lists (``id``, ``name``, ``members``), read page by page."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self.http.request("GET", "/contacts/lists",
                                     params={"limit": 50, "offset": offset}).json()
            page = body.get("lists") or []
            rows += [{"id": str(x["id"]), "name": x.get("name", ""),
                      "members": int(x.get("uniqueSubscribers", x.get("totalSubscribers", 0)) or 0)}
                     for x in page]
            offset += len(page)
            if not page or offset >= int(body.get("count", 0)):
                return pd.DataFrame(rows, columns=["id", "name", "members"])

    def attributes(self, travel: ApiField) -> dict[str, tuple[str, str]]:
        """Our field -> (attribute name, type), with ``travel``'s field."""
        return with_travel(ATTRIBUTES, travel, (travel.name, travel.kind))

    def planned_fields(self, mode: str | None = None) -> pd.DataFrame:
        """The first-name attribute and the attributes of ``mode``'s travel field."""
        rows = [{"field": "first_name", "provider_field": self._first_name, "type": "text",
                 "native": True}]
        rows += [{"field": f, "provider_field": name, "type": kind, "native": False}
                 for f, (name, kind) in self.attributes(self.travel_field(mode)).items()]
        return pd.DataFrame(rows)

    def _existing(self) -> set[str]:
        body = self.http.request("GET", "/contacts/attributes").json()
        return {str(a.get("name", "")).upper() for a in body.get("attributes", [])}

    def ensure_fields(self, list_id: str, mode: str | None = None) -> pd.DataFrame:
        """Find the first-name attribute, create the attributes the account lacks; return the plan."""
        existing = self._existing()
        self._first_name = next((n for n in FIRST_NAME_ATTRIBUTES if n in existing), "FIRSTNAME")
        plan = self.planned_fields(mode)
        plan["created"] = False
        for i, (name, kind) in enumerate(zip(plan["provider_field"], plan["type"], strict=True)):
            if name in existing:
                continue
            resp = self.http.request("POST", f"/contacts/attributes/normal/{name}",
                                     idempotent=False, allow=(400,), json={"type": kind})
            if resp.status_code == 400 and name not in self._existing():
                raise ExportError(f"brevo: cannot create attribute {name}: {self.error_detail(resp)}")
            plan.at[i, "created"] = True
        return plan

    def _contact(self, row: dict[str, Any], fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
        attrs = {name: row[f] for f, (name, _) in fields.items() if f in row}
        if "first_name" in row:
            attrs[self._first_name] = row["first_name"]
        return {"email": row["email"], "attributes": attrs}

    def payload(self, list_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        """A contacts import body (JSON rows, existing contacts updated, no blocklist flag)."""
        try:
            target = int(list_id)
        except ValueError:
            raise ExportError(f"brevo list ids are integers, got {list_id!r}") from None
        travel, rows = self.upload_records(batch)
        fields = self.attributes(travel)
        return {"jsonBody": [self._contact(r, fields) for r in rows], "listIds": [target],
                "updateExistingContacts": True, "emptyContactsAttributes": False,
                "disableNotification": True}

    def submit(self, list_id: str, batch: pd.DataFrame) -> Job:
        """Submit the batch as a contacts import process."""
        body = self.http.request("POST", "/contacts/import", json=self.payload(list_id, batch)).json()
        return Job(str(body["processId"]))

    def _process(self, job: Job) -> dict[str, Any]:
        resp = self.http.request("GET", f"/processes/{job.id}", allow=(404,))
        if resp.status_code == 404:
            raise JobLost(f"brevo: import process {job.id} is unknown; its recipients will be "
                          "sent again")
        body: dict[str, Any] = resp.json()
        return body

    def status(self, job: Job) -> JobState:
        """Poll the import process: done once completed, failed or cancelled."""
        body = self._process(job)
        status = body.get("status")
        return JobState(done=status in ("completed", "failed", "cancelled"),
                        failed=status in ("failed", "cancelled"), detail=str(status))

    def collect(self, list_id: str, job: Job, batch: pd.DataFrame) -> Collected:
        """Accept the batch; when Brevo counts invalid rows, look each address up to tell which."""
        body = self._process(job)
        emails = batch["email"]
        if body.get("status") != "completed":
            why = f"{body.get('status')}" + (f": {body['error']}" if body.get("error") else "")
            return Collected(outcomes_frame(emails, "failed", f"brevo import process {job.id} "
                                            f"ended {why}"))
        info = (body.get("info") or {}).get("import") or {}
        invalid = info.get("invalid_emails") or 0
        if not invalid:
            return Collected(outcomes_frame(emails, "accepted"))
        states, reasons, notes = [], [], []
        for email in emails:  # Brevo reports counts only: find which rows it kept
            resp = self.http.request("GET", f"/contacts/{quote(email, safe='')}", allow=(404,))
            if resp.status_code == 404:
                states.append("failed")
                reasons.append("not imported by brevo (counted among invalid emails)")
                notes.append("")
            else:
                states.append("accepted")
                reasons.append("")
                notes.append("kept blocklisted: will not receive campaigns"
                             if resp.json().get("emailBlacklisted") else "")
        return Collected(outcomes_frame(emails, states, reasons, notes))

    def notes(self) -> list[str]:
        """Blocklisted contacts are updated but stay blocklisted."""
        return ["Brevo imports never send emailBlacklisted/emailBlacklist: blocklisted contacts "
                "are updated but stay blocklisted"]
