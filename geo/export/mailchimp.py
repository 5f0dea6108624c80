"""Upload recipients to a Mailchimp audience with batched idempotent PUTs, never changing a status."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
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
from geo.export.client import ExportError, Secret
from geo.export.csv_layouts import ApiField
from geo.export.recipients import tag_list
from geo.keys import email_key

#: our field -> (merge tag, merge-field type, name shown in Mailchimp); the travel field
#: (``TRAVELMIN`` or ``DISTKM``) comes from `geo.export.csv_layouts.API_TRAVEL_FIELDS`
MERGE_FIELDS = {
    "first_name": ("FNAME", "text", "First Name"),
    "store_name": ("STORE", "text", "Nearest store"),
    "store_address": ("STOREADDR", "text", "Store address"),
    "coupon_code": ("COUPON", "text", "Coupon code"),
    "offer_start": ("OFFERSTART", "text", "Offer start"),
    "offer_end": ("OFFEREND", "text", "Offer end"),
}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: hex MD5 of the address's identity key (`geo.keys.email_key`)."""
    return hashlib.md5((email_key(email) or "").encode()).hexdigest()


class MailchimpAdapter(Adapter):
    """Mailchimp Marketing API v3 (``https://<dc>.api.mailchimp.com/3.0``, dc from the key).

    Each batch is one ``POST /batches`` of ``PUT /lists/{id}/members/{hash}``
    operations (an idempotent upsert, so a lost response is safely resubmitted)
    carrying ``status_if_new`` and never ``status``: existing members keep their
    subscription state (unsubscribed, cleaned) and forgotten members are reported,
    not re-added. Once the batch finishes, a second batch adds the tags through
    the tags endpoint (tags on PUT only apply to new members).

    Parameters
    ----------
    status_if_new
        Status given to addresses new to the audience: ``"subscribed"`` (their
        consent is in the target list) or ``"pending"`` (double opt-in email).
    tags_syncing
        ``is_syncing`` of the tag calls: True keeps tag-triggered automations quiet.
    **kwargs
        See `geo.export.base.Adapter`; batch size defaults to 500 operations.
    """

    provider = "mailchimp"
    max_batch_size = 500

    def __init__(self, api_key: str | Secret | None = None, *, status_if_new: str = "subscribed",
                 tags_syncing: bool = False, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        if status_if_new not in ("subscribed", "pending"):
            raise ExportError(f"status_if_new must be 'subscribed' or 'pending', got {status_if_new!r}")
        self.status_if_new = status_if_new
        self.tags_syncing = tags_syncing

    def base_url(self) -> str:
        """The API root in use: the override, else the data centre named by the key's suffix."""
        if self._base_override:
            return self._base_override
        _, _, dc = self.secret().reveal().rpartition("-")
        if not dc.isalnum() or not _:
            raise ExportError("the Mailchimp API key has no data-center suffix (it should end "
                              "like '-us6'); check MAILCHIMP_API_KEY")
        return f"https://{dc}.api.mailchimp.com/3.0"

    def auth_headers(self) -> dict[str, str]:
        """HTTP Basic authentication with the key as password."""
        token = base64.b64encode(f"geo:{self.secret().reveal()}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def error_detail(self, response: httpx.Response) -> str:
        """The detail and field errors of a problem+json body, else the start of the body."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200] or response.reason_phrase
        return _problem_text(body)

    # lists and fields ----------------------------------------------------------
    def list_lists(self) -> pd.DataFrame:
        """The account's audiences (``id``, ``name``, ``members``), read page by page."""
        rows, offset = [], 0
        while True:
            body = self.http.request("GET", "/lists", params={"count": 1000, "offset": offset}).json()
            page = body.get("lists", [])
            rows += [{"id": str(x["id"]), "name": x.get("name", ""),
                      "members": int(x.get("stats", {}).get("member_count", 0))} for x in page]
            offset += len(page)
            if not page or offset >= int(body.get("total_items", 0)):
                return pd.DataFrame(rows, columns=["id", "name", "members"])

    def merge_fields(self, travel: ApiField) -> dict[str, tuple[str, str, str]]:
        """Our field -> (merge tag, type, name shown), with ``travel``'s merge field."""
        return with_travel(MERGE_FIELDS, travel, (travel.name, travel.kind, travel.label))

    def planned_fields(self, mode: str | None = None) -> pd.DataFrame:
        """The merge fields of ``mode``'s travel field, and the built-in member tags."""
        fields = self.merge_fields(self.travel_field(mode))
        return pd.DataFrame([{"field": f, "provider_field": tag, "type": kind, "native": False}
                             for f, (tag, kind, _) in fields.items()]
                            + [{"field": "tags", "provider_field": "member tags", "type": "tags",
                                "native": True}])

    def ensure_fields(self, list_id: str, mode: str | None = None) -> pd.DataFrame:
        """Create the merge fields the audience lacks; return the plan with ``created``."""
        path = f"/lists/{list_id}/merge-fields"
        existing = {m["tag"].upper() for m in
                    self.http.request("GET", path, params={"count": 1000}).json().get("merge_fields", [])}
        specs = self.merge_fields(self.travel_field(mode))
        plan = self.planned_fields(mode)
        plan["created"] = False
        for i, (f, tag) in enumerate(zip(plan["field"], plan["provider_field"], strict=True)):
            if plan.at[i, "native"] or tag in existing:
                continue
            _, kind, name = specs[f]
            resp = self.http.request("POST", path, idempotent=False, allow=(400,), json={
                "tag": tag, "name": name, "type": kind, "required": False, "public": False})
            if resp.status_code == 400:  # a lost first attempt may have created it
                again = self.http.request("GET", path, params={"count": 1000}).json()
                if tag not in {m["tag"].upper() for m in again.get("merge_fields", [])}:
                    raise ExportError(f"mailchimp: cannot create merge field {tag} on list "
                                      f"{list_id}: {self.error_detail(resp)}")
            plan.at[i, "created"] = True
        return plan

    # upload --------------------------------------------------------------------
    def _member(self, row: dict[str, Any], fields: dict[str, tuple[str, str, str]]) -> dict[str, Any]:
        merge = {tag: row[f] for f, (tag, _, _) in fields.items() if f in row}
        return {"email_address": row["email"], "status_if_new": self.status_if_new,
                "merge_fields": merge}

    def payload(self, list_id: str, batch: pd.DataFrame) -> dict[str, Any]:
        """A ``/batches`` body: one member PUT per recipient (``status_if_new``, never ``status``)."""
        travel, rows = self.upload_records(batch)
        fields = self.merge_fields(travel)
        return {"operations": [
            {"method": "PUT", "path": f"/lists/{list_id}/members/{subscriber_hash(r['email'])}",
             "operation_id": subscriber_hash(r["email"]), "body": json.dumps(self._member(r, fields))}
            for r in rows]}

    def _tags_payload(self, list_id: str, batch: pd.DataFrame) -> dict[str, Any] | None:
        ops = [{"method": "POST",
                "path": f"/lists/{list_id}/members/{subscriber_hash(e)}/tags",
                "operation_id": subscriber_hash(e),
                "body": json.dumps({"tags": [{"name": t, "status": "active"} for t in tag_list(tags)],
                                    "is_syncing": self.tags_syncing})}
               for e, tags in zip(batch["email"], batch["tags"], strict=True) if tag_list(tags)]
        return {"operations": ops} if ops else None

    def submit(self, list_id: str, batch: pd.DataFrame) -> Job:
        """Submit the batch of member upserts."""
        body = self.http.request("POST", "/batches", json=self.payload(list_id, batch)).json()
        return Job(str(body["id"]), "upsert")

    def submit_follow_up(self, list_id: str, follow_up: dict[str, Any]) -> Job:
        """Submit the batch that tags the accepted members."""
        body = self.http.request("POST", "/batches", json=follow_up).json()
        return Job(str(body["id"]), "tags")

    def _batch(self, job: Job) -> dict[str, Any]:
        resp = self.http.request("GET", f"/batches/{job.id}", allow=(404,))
        if resp.status_code == 404:
            raise JobLost(f"mailchimp: batch {job.id} is unknown (expired); its recipients "
                          "will be sent again")
        body: dict[str, Any] = resp.json()
        return body

    def status(self, job: Job) -> JobState:
        """Poll the batch: done once ``finished``, with its operation counts."""
        body = self._batch(job)
        return JobState(done=body.get("status") == "finished",
                        detail=f"{body.get('finished_operations', 0)}/"
                               f"{body.get('total_operations', 0)} operations")

    def collect(self, list_id: str, job: Job, batch: pd.DataFrame) -> Collected:
        """Read each operation's result; after the upserts, the tags batch as follow-up."""
        body = self._batch(job)
        results = self._results(body.get("response_body_url", ""))
        by_hash = {subscriber_hash(e): e for e in batch["email"]}
        emails, states, reasons, notes = [], [], [], []
        for item in results:
            email = by_hash.get(str(item.get("operation_id")))
            if email is None:
                continue
            code = int(item.get("status_code", 0))
            response = _json_or_empty(item.get("response"))
            emails.append(email)
            if 200 <= code < 300:
                states.append("accepted")
                reasons.append("")
                status = response.get("status", "") if job.kind == "upsert" else ""
                notes.append("" if status in ("", "subscribed") else
                             f"kept status {status}: will not receive campaigns")
            else:
                states.append("failed")
                reasons.append(f"HTTP {code}: {_problem_text(response)}")
                notes.append("")
        outcomes = outcomes_frame(emails, states, reasons, notes)
        follow_up = None
        if job.kind == "upsert":
            ok = batch[batch["email"].isin(outcomes.loc[outcomes["state"] == "accepted", "email"])]
            follow_up = self._tags_payload(list_id, ok) if len(ok) else None
        return Collected(outcomes, follow_up)

    def _results(self, url: str) -> list[dict[str, Any]]:
        if not url:
            raise ExportError("mailchimp: a finished batch has no response_body_url")
        data = self.http.request("GET", url, auth=False).content
        out: list[dict[str, Any]] = []
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                wanted = member.isfile() and member.name.endswith(".json")
                content = tar.extractfile(member) if wanted else None
                if content is not None:
                    out += json.loads(content.read())
        return out

    def notes(self) -> list[str]:
        """How new and existing members' statuses are treated."""
        return [f"new addresses are added with status '{self.status_if_new}'; existing members "
                "keep their status (unsubscribed and cleaned members are updated, never "
                "re-subscribed); permanently deleted members are reported as failed"]


def _json_or_empty(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"detail": str(text)[:200]}
    return value if isinstance(value, dict) else {}


def _problem_text(body: dict[str, Any]) -> str:
    """One line from a problem+json body: detail plus field errors (titles may be localised)."""
    detail = str(body.get("detail") or body.get("title") or "unknown error")
    fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or [])
    return f"{detail} ({fields})" if fields else detail
