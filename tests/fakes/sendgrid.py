"""Fake SendGrid Marketing API: lists, custom field definitions, contact upsert jobs, suppressions."""

from __future__ import annotations

import itertools
import re
import time
import uuid

from tests.fakes._server import EMAIL_OK, FakeServer, Request, Response, key

#: custom field names: letters, digits, underscore, not starting with a digit (email-providers.md 3.3)
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
RESERVED = {"first_name", "last_name", "email", "address_line_1", "address_line_2", "city",
            "state_province_region", "postal_code", "country", "phone_number_id", "external_id"}


class FakeSendGrid(FakeServer):
    """Serves ``/v3`` like ``api.sendgrid.com``.

    Custom fields are typed: a Number field refuses text (the whole upload gets 400).
    Knobs: ``invalid`` (addresses that error inside the job), ``fail_jobs`` (jobs end
    ``failed``), ``not_ready_puts`` (uploads rejected with "invalid custom field ids"
    after a field is created), ``max_contacts``, ``reset_in`` (seconds to the
    ``X-RateLimit-Reset`` epoch on 429). Errors go to a CSV at ``errors_url``
    (``email,error``: our format, the real one is undocumented).
    """

    routes = [
        ("GET", r"/v3/marketing/lists", "get_lists"),
        ("GET", r"/v3/marketing/field_definitions", "get_fields"),
        ("POST", r"/v3/marketing/field_definitions", "post_field"),
        ("PUT", r"/v3/marketing/contacts", "put_contacts"),
        ("GET", r"/v3/marketing/contacts/imports/(?P<jid>[^/]+)", "get_job"),
        ("GET", r"/v3/asm/suppressions/global/(?P<email>[^/]+)", "get_suppression"),
        ("GET", r"/files/errors-(?P<jid>[^/]+)\.csv", "get_errors_file"),
    ]

    def __init__(self, api_key: str = "SG.test-key.0123456789") -> None:
        super().__init__(api_key)
        self.lists: dict[str, str] = {}
        self.fields: dict[str, dict] = {}
        self.contacts: dict[str, dict] = {}
        self.suppressed: set[str] = set()
        self.jobs: dict[str, dict] = {}
        self.invalid: set[str] = set()
        self.fail_jobs = False
        self.not_ready_puts = 0
        self.max_contacts = 30_000
        self.reset_in = 2
        self._n = itertools.count(1)

    def add_list(self, name: str = "List", lid: str | None = None) -> str:
        """Create a list (a random UUID, as SendGrid gives, unless ``lid`` is set); return its id."""
        lid = lid or str(uuid.uuid4())
        self.lists[lid] = name
        return lid

    def error(self, status: int, code: str, message: str, field: str | None = None, **extra) -> Response:
        return Response(status, {"errors": [{"field": field, "message": message}]})

    def throttled(self) -> Response:
        resp = self.error(429, "", "too many requests")
        resp.headers.update({"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0",
                             "X-RateLimit-Reset": str(int(time.time()) + self.reset_in)})
        return resp

    def rate_headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "599",
                "X-RateLimit-Reset": str(int(time.time()) + 60)}

    def authorize(self, req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error(401, "", "authorization required")
        return None

    # routes ---------------------------------------------------------------------
    def get_lists(self, req: Request) -> Response:
        result = [{"id": lid, "name": name, "contact_count": sum(
            lid in c["list_ids"] for c in self.contacts.values())} for lid, name in self.lists.items()]
        return Response(200, {"result": result, "_metadata": {"count": len(result)}})

    def get_fields(self, req: Request) -> Response:
        custom = [{"id": fid, "name": f["name"], "field_type": f["field_type"]}
                  for fid, f in self.fields.items()]
        reserved = [{"name": n, "field_type": "Text", "read_only": False} for n in sorted(RESERVED)]
        return Response(200, {"custom_fields": custom, "reserved_fields": reserved})

    def post_field(self, req: Request) -> Response:
        body = req.json or {}
        name, kind = str(body.get("name", "")), body.get("field_type")
        if kind not in ("Text", "Number", "Date") or not name:
            return self.error(400, "", "invalid field definition", "field_type")
        if not FIELD_NAME.match(name):
            return self.error(400, "", f"field name {name} may only hold letters, digits and "
                              "underscores and must not start with a digit", "name")
        if name.lower() in RESERVED or any(f["name"].lower() == name.lower() for f in self.fields.values()):
            return self.error(400, "", f"field name {name} is already in use", "name")
        fid = f"e{next(self._n)}_{kind[0]}"
        self.fields[fid] = {"name": name, "field_type": kind, "ready_after": self.not_ready_puts}
        return Response(200, {"id": fid, "name": name, "field_type": kind})

    def put_contacts(self, req: Request) -> Response:
        body = req.json or {}
        contacts = body.get("contacts") or []
        if not contacts:
            return self.error(400, "", "contacts is required and must hold at least one contact",
                              "contacts")
        if len(contacts) > self.max_contacts:
            return self.error(400, "", f"at most {self.max_contacts} contacts per request", "contacts")
        for i, c in enumerate(contacts):
            if not c.get("email"):
                return self.error(400, "", "a contact needs an identifier", f"contacts[{i}]")
        used = {k for c in contacts for k in (c.get("custom_fields") or {})}
        bad = sorted(k for k in used if k not in self.fields or self.fields[k]["ready_after"] > 0)
        for f in self.fields.values():
            f["ready_after"] = max(0, f["ready_after"] - 1)
        if bad:
            return self.error(400, "", f"invalid custom field ids supplied - {', '.join(bad)}")
        mistyped = self._mistyped(contacts)
        if mistyped:
            return self.error(400, "", mistyped, "custom_fields")
        unknown = [lid for lid in body.get("list_ids") or [] if lid not in self.lists]
        if unknown:
            return self.error(404, "", f"list {unknown[0]} does not exist", "list_ids")
        jid = str(uuid.uuid4())
        self.jobs[jid] = {"status": "pending", "contacts": contacts,
                          "list_ids": list(body.get("list_ids") or []), "errors": []}
        return Response(202, {"job_id": jid})

    def _mistyped(self, contacts: list[dict]) -> str:
        """Why a custom field value does not fit its field's type ("" when all fit)."""
        for i, c in enumerate(contacts):
            for fid, value in (c.get("custom_fields") or {}).items():
                if self.fields[fid]["field_type"] == "Number" and (
                        isinstance(value, bool) or not isinstance(value, (int, float))):
                    return (f"contacts[{i}]: custom field {self.fields[fid]['name']} is a Number, "
                            f"got {value!r}")
        return ""

    def get_job(self, req: Request) -> Response:
        job = self.jobs.get(req.params["jid"])
        if job is None:
            return self.error(404, "", "job not found")
        if job["status"] == "pending":
            self._run(req.params["jid"], job)
        return Response(200, self._job_body(req.params["jid"]))

    def _run(self, jid: str, job: dict) -> None:
        created = updated = 0
        if self.fail_jobs:
            job["status"], job["errors"] = "failed", []
            job["counts"] = (0, 0)
            return
        for c in job["contacts"]:
            email = key(c["email"])
            if not EMAIL_OK.match(email) or email in self.invalid:
                job["errors"].append((email, "email is invalid"))
                continue
            contact = self.contacts.get(email)
            if contact is None:
                contact = {"email": email, "custom_fields": {}, "list_ids": set()}
                self.contacts[email] = contact
                created += 1
            else:
                updated += 1
            if c.get("first_name"):
                contact["first_name"] = c["first_name"]
            contact["custom_fields"].update(c.get("custom_fields") or {})
            contact["list_ids"].update(job["list_ids"])
        job["counts"] = (created, updated)
        job["status"] = "errored" if job["errors"] else "completed"
        if job["errors"] and len(job["errors"]) == len(job["contacts"]):
            job["status"] = "failed"

    def _job_body(self, jid: str) -> dict:
        job = self.jobs[jid]
        created, updated = job.get("counts", (0, 0))
        results = {"requested_count": len(job["contacts"]), "created_count": created,
                   "updated_count": updated, "deleted_count": 0,
                   "errored_count": len(job["errors"])}
        if job["errors"]:
            results["errors_url"] = f"{self.url}/files/errors-{jid}.csv"
        return {"id": jid, "status": job["status"], "job_type": "upsert", "results": results}

    def get_errors_file(self, req: Request) -> Response:
        job = self.jobs.get(req.params["jid"])
        if job is None:
            return Response(404, raw=b"", content_type="text/plain")
        lines = ["email,error"] + [f"{e},{m}" for e, m in job["errors"]]
        return Response(200, raw=("\n".join(lines) + "\n").encode(), content_type="text/csv")

    def get_suppression(self, req: Request) -> Response:
        email = key(req.params["email"])
        return Response(200, {"recipient_email": email} if email in self.suppressed else {})

    def field_value(self, email: str, name: str):
        """A contact's custom field value looked up by field name."""
        fid = next(fid for fid, f in self.fields.items() if f["name"] == name)
        return self.contacts[key(email)]["custom_fields"].get(fid)
