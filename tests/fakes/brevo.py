"""Fake Brevo API v3: lists, attributes, contact import processes, contacts and the blocklist."""

from __future__ import annotations

import itertools

from tests.fakes._server import EMAIL_OK, FakeServer, Request, Response, key

PROCESS_STATES = ("queued", "in_process", "completed")


class FakeBrevo(FakeServer):
    """Serves ``/v3`` like ``api.brevo.com``.

    Knobs: ``invalid`` (addresses counted as invalid and not imported),
    ``fail_jobs`` (processes end ``failed``), ``localized`` (first-name attribute
    called PRENOM), ``max_bytes`` (import body limit). Unknown attributes and values of the
    wrong type (text in a float attribute) are silently dropped, as Brevo does. An import carrying
    ``emailBlacklist`` sets every imported contact's blocklist flag to that value,
    so sending ``false`` would un-block people: tests look for it.
    """

    routes = [
        ("GET", r"/v3/contacts/lists", "get_lists"),
        ("GET", r"/v3/contacts/attributes", "get_attributes"),
        ("POST", r"/v3/contacts/attributes/(?P<cat>[^/]+)/(?P<name>[^/]+)", "post_attribute"),
        ("POST", r"/v3/contacts/import", "post_import"),
        ("GET", r"/v3/processes/(?P<pid>\d+)", "get_process"),
        ("GET", r"/v3/contacts/(?P<email>[^/]+)", "get_contact"),
        ("POST", r"/v3/contacts", "post_contact"),
    ]

    def __init__(self, api_key: str = "xkeysib-test-0123456789abcdef", localized: bool = False) -> None:
        super().__init__(api_key)
        first, last = ("PRENOM", "NOM") if localized else ("FIRSTNAME", "LASTNAME")
        self.attributes = {n: {"name": n, "category": "normal", "type": "text"}
                           for n in ("EMAIL", first, last, "SMS")}
        self.lists: dict[int, str] = {}
        self.contacts: dict[str, dict] = {}
        self.processes: dict[int, dict] = {}
        self.invalid: set[str] = set()
        self.fail_jobs = False
        self.max_bytes = 10_000_000
        self._ids = itertools.count(1)

    def add_list(self, name: str = "List", lid: int | None = None) -> int:
        """Create a list (the next id unless ``lid`` is set); return its id."""
        lid = next(self._ids) if lid is None else lid
        self.lists[lid] = name
        return lid

    def seed_contact(self, email: str, blocklisted: bool = False, **attrs) -> None:
        self.contacts[key(email)] = {"id": next(self._ids), "email": key(email),
                                        "attributes": dict(attrs), "listIds": set(),
                                        "emailBlacklisted": blocklisted}

    def error(self, status: int, code: str, message: str, **extra) -> Response:
        codes = {400: "invalid_parameter", 401: "unauthorized", 404: "document_not_found",
                 405: "method_not_allowed", 429: "too_many_requests", 500: "internal_error"}
        return Response(status, {"code": code if code and status in (400,) else codes.get(status, code),
                                 "message": message, **extra})

    def throttled(self) -> Response:
        resp = self.error(429, "too_many_requests", "Too many requests")
        resp.headers.update({"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0",
                             "x-sib-ratelimit-reset": "1"})
        return resp

    def rate_headers(self) -> dict[str, str]:
        return {"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "9",
                "x-sib-ratelimit-reset": "1"}

    def authorize(self, req: Request) -> Response | None:
        if req.headers.get("api-key") != self.api_key:
            return self.error(401, "unauthorized", "Key not found")
        return None

    # routes ---------------------------------------------------------------------
    def get_lists(self, req: Request) -> Response:
        lists = [{"id": lid, "name": name, "uniqueSubscribers": sum(
            lid in c["listIds"] for c in self.contacts.values())} for lid, name in self.lists.items()]
        offset, limit = int(req.query.get("offset", 0)), int(req.query.get("limit", 10))
        return Response(200, {"lists": lists[offset:offset + limit], "count": len(lists)})

    def get_attributes(self, req: Request) -> Response:
        return Response(200, {"attributes": list(self.attributes.values())})

    def post_attribute(self, req: Request) -> Response:
        name = req.params["name"].upper()
        if name in self.attributes:
            return self.error(400, "invalid_parameter", "Attribute name must be unique")
        kind = (req.json or {}).get("type", "text")
        self.attributes[name] = {"name": name, "category": req.params["cat"], "type": kind}
        return Response(201)

    def post_import(self, req: Request) -> Response:
        if len(req.body) > self.max_bytes:
            return self.error(400, "invalid_parameter", "Request body too large")
        body = req.json or {}
        sources = [k for k in ("jsonBody", "fileBody", "fileUrl") if body.get(k)]
        if len(sources) != 1:
            return self.error(400, "missing_parameter", "Exactly one of jsonBody, fileBody or "
                              "fileUrl is required")
        if not body.get("listIds") and not body.get("newList"):
            return self.error(400, "missing_parameter", "listIds or newList is required")
        unknown = [i for i in body.get("listIds") or [] if i not in self.lists]
        if unknown:
            return self.error(404, "document_not_found", f"List ID {unknown[0]} does not exist")
        pid = next(self._ids)
        self.processes[pid] = {"id": pid, "name": "IMPORTUSER", "status": "queued", "body": body}
        return Response(202, {"processId": pid})

    def get_process(self, req: Request) -> Response:
        proc = self.processes.get(int(req.params["pid"]))
        if proc is None:
            return self.error(404, "document_not_found", "Process does not exist")
        if proc["status"] in ("queued", "in_process"):
            if self.fail_jobs:
                proc["status"], proc["error"] = "failed", "import could not be processed"
            else:
                proc["status"] = PROCESS_STATES[PROCESS_STATES.index(proc["status"]) + 1]
                if proc["status"] == "completed":
                    self._apply(proc)
        return Response(200, {k: v for k, v in proc.items() if k != "body"})

    def _apply(self, proc: dict) -> None:
        body = proc["body"]
        invalid = 0
        for row in body["jsonBody"]:
            email = key(row.get("email"))
            if not EMAIL_OK.match(email) or email in self.invalid:
                invalid += 1
                continue
            attrs = {k: v for k, v in (row.get("attributes") or {}).items()
                     if k in self.attributes and self._fits(k, v)
                     and (v not in ("", None) or body.get("emptyContactsAttributes"))}
            contact = self.contacts.get(email)
            if contact is None:
                self.seed_contact(email)
                contact = self.contacts[email]
            elif body.get("updateExistingContacts") is False:
                continue
            contact["attributes"].update(attrs)
            contact["listIds"].update(body.get("listIds") or [])
            if "emailBlacklist" in body:
                contact["emailBlacklisted"] = bool(body["emailBlacklist"])
        proc["info"] = {"import": {"invalid_emails": invalid}}

    def _fits(self, name: str, value) -> bool:
        """False for a value of the wrong type (Brevo silently ignores it): text in a float."""
        if self.attributes[name]["type"] == "float":
            return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
        return True

    def get_contact(self, req: Request) -> Response:
        contact = self.contacts.get(key(req.params["email"]))
        if contact is None:
            return self.error(404, "document_not_found", "Contact does not exist")
        return Response(200, {**contact, "listIds": sorted(contact["listIds"])})

    def post_contact(self, req: Request) -> Response:
        body = req.json or {}
        email = key(body.get("email"))
        if not EMAIL_OK.match(email):
            return self.error(400, "invalid_parameter", "Invalid email address")
        contact = self.contacts.get(email)
        if contact is not None and not body.get("updateEnabled"):
            return self.error(400, "duplicate_parameter", "Unable to create contact, email is "
                              "already associated with another Contact",
                              metadata={"duplicate_identifiers": ["email"]})
        if contact is None:
            self.seed_contact(email)
        contact = self.contacts[email]
        contact["attributes"].update(body.get("attributes") or {})
        if "emailBlacklisted" in body:
            contact["emailBlacklisted"] = bool(body["emailBlacklisted"])
        return Response(204) if body.get("updateEnabled") else Response(201, {"id": contact["id"]})
