"""Fake Klaviyo API: lists, bulk profile import jobs with import errors, and the subscribe endpoint."""

from __future__ import annotations

import itertools
import json
import time
import uuid

from tests.fakes._server import EMAIL_OK, FakeServer, Request, Response, key

JOB_STATES = ("queued", "processing", "complete")


class FakeKlaviyo(FakeServer):
    """Serves ``/api`` like ``a.klaviyo.com`` (JSON:API bodies, ``revision`` header required).

    Knobs: ``invalid`` (addresses that become import errors), ``cancel_jobs`` (jobs
    end ``cancelled``), ``max_profiles`` (per bulk job), ``retry_after`` (seconds
    sent on 429). Profiles keep ``consent`` and ``suppressed``; only the
    subscription endpoint changes them (and clears suppressions, as the real one).
    """

    routes = [
        ("GET", r"/api/lists", "get_lists"),
        ("POST", r"/api/profile-bulk-import-jobs", "post_job"),
        ("GET", r"/api/profile-bulk-import-jobs/(?P<jid>[^/]+)", "get_job"),
        ("GET", r"/api/profile-bulk-import-jobs/(?P<jid>[^/]+)/import-errors", "get_errors"),
        ("POST", r"/api/profile-subscription-bulk-create-jobs", "post_subscribe"),
    ]

    def __init__(self, api_key: str = "pk_test_0123456789abcdef") -> None:
        super().__init__(api_key)
        self.lists: dict[str, dict] = {}
        self.profiles: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.invalid: set[str] = set()
        self.cancel_jobs = False
        self.max_profiles = 10_000
        self.retry_after = 1
        self._ids = itertools.count(1)

    def add_list(self, lid: str, name: str = "List") -> None:
        self.lists[lid] = {"name": name}

    def seed_profile(self, email: str, consent: str = "SUBSCRIBED", suppressed: bool = False,
                     **props) -> None:
        self.profiles[key(email)] = {"id": f"P{next(self._ids)}", "email": key(email),
                                        "first_name": None, "properties": dict(props),
                                        "lists": set(), "consent": consent,
                                        "suppressed": suppressed}

    def error(self, status: int, code: str, message: str, pointer: str | None = None, **extra) -> Response:
        err = {"id": str(uuid.uuid4()), "status": status, "code": code or "error",
               "title": message.split(".")[0], "detail": message,
               "source": {"pointer": pointer or "/data"}}
        return Response(status, {"errors": [err]}, content_type="application/vnd.api+json")

    def throttled(self) -> Response:
        resp = self.error(429, "throttled", f"Request was throttled. Expected available in "
                          f"{self.retry_after} second.")
        resp.headers["Retry-After"] = str(self.retry_after)
        return resp

    def rate_headers(self) -> dict[str, str]:
        return {"RateLimit-Limit": "150", "RateLimit-Remaining": "149", "RateLimit-Reset": "60"}

    def authorize(self, req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Klaviyo-API-Key {self.api_key}":
            return self.error(401, "not_authenticated",
                              "Authentication credentials were not provided.")
        if not req.headers.get("revision"):
            return self.error(400, "invalid", "Missing or invalid revision header.")
        return None

    # routes ---------------------------------------------------------------------
    def get_lists(self, req: Request) -> Response:
        data = [{"type": "list", "id": lid, "attributes": {"name": v["name"]}}
                for lid, v in self.lists.items()]
        return Response(200, {"data": data, "links": {"self": f"{self.url}/api/lists", "next": None}})

    def post_job(self, req: Request) -> Response:
        try:
            data = req.json["data"]
            assert data["type"] == "profile-bulk-import-job"
            profiles = data["attributes"]["profiles"]["data"]
        except (KeyError, TypeError, AssertionError, json.JSONDecodeError):
            return self.error(400, "invalid", "Invalid input.", "/data")
        if not profiles or len(profiles) > self.max_profiles:
            return self.error(400, "invalid", f"A job must hold 1 to {self.max_profiles} profiles.",
                              "/data/attributes/profiles/data")
        lists = [x["id"] for x in (data.get("relationships", {}).get("lists", {}).get("data") or [])]
        unknown = [lid for lid in lists if lid not in self.lists]
        if unknown:
            return self.error(404, "not_found", f"List {unknown[0]} does not exist.")
        jid = f"J{next(self._ids):05d}"
        self.jobs[jid] = {"status": "queued", "profiles": profiles, "lists": lists, "errors": [],
                          "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return Response(202, self._job_body(jid), content_type="application/vnd.api+json")

    def _job_body(self, jid: str) -> dict:
        job = self.jobs[jid]
        n, failed = len(job["profiles"]), len(job["errors"])
        done = job["status"] == "complete"
        return {"data": {"type": "profile-bulk-import-job", "id": jid, "attributes": {
            "status": job["status"], "total_count": n, "completed_count": n - failed if done else 0,
            "failed_count": failed, "created_at": job["created_at"], "expires_at": None},
            "links": {"self": f"{self.url}/api/profile-bulk-import-jobs/{jid}"}}}

    def get_job(self, req: Request) -> Response:
        job = self.jobs.get(req.params["jid"])
        if job is None:
            return self.error(404, "not_found", "Not found.")
        if job["status"] in ("queued", "processing"):
            if self.cancel_jobs:
                job["status"] = "cancelled"
            else:
                job["status"] = JOB_STATES[JOB_STATES.index(job["status"]) + 1]
                if job["status"] == "complete":
                    self._apply(job)
        return Response(200, self._job_body(req.params["jid"]), content_type="application/vnd.api+json")

    def _apply(self, job: dict) -> None:
        for i, p in enumerate(job["profiles"]):
            attrs = p.get("attributes", {})
            email = key(attrs.get("email"))
            if not EMAIL_OK.match(email) or email in self.invalid:
                job["errors"].append({"type": "import-error", "id": str(uuid.uuid4()), "attributes": {
                    "code": "invalid", "title": "Invalid input.",
                    "detail": f"Invalid email address '{email}'.",
                    "source": {"pointer": f"/data/attributes/profiles/data/{i}/attributes/email"},
                    "original_payload": attrs}})
                continue
            prof = self.profiles.get(email)
            if prof is None:
                prof = {"id": f"P{next(self._ids)}", "email": email, "first_name": None,
                        "properties": {}, "lists": set(), "consent": "NEVER_SUBSCRIBED",
                        "suppressed": False}
                self.profiles[email] = prof
            for k, v in attrs.items():  # bulk import ignores nulls
                if k == "properties":
                    prof["properties"].update({pk: pv for pk, pv in v.items() if pv is not None})
                elif k != "email" and v is not None:
                    prof[k] = v
            prof["lists"].update(job["lists"])

    def get_errors(self, req: Request) -> Response:
        job = self.jobs.get(req.params["jid"])
        if job is None:
            return self.error(404, "not_found", "Not found.")
        size = min(int(req.query.get("page[size]", 20)), 100)
        start = int(req.query.get("page[cursor]", 0))
        page = job["errors"][start:start + size]
        nxt = (f"{self.url}/api/profile-bulk-import-jobs/{req.params['jid']}/import-errors"
               f"?page[size]={size}&page[cursor]={start + size}"
               if start + size < len(job["errors"]) else None)
        return Response(200, {"data": page, "links": {"next": nxt}})

    def post_subscribe(self, req: Request) -> Response:
        attrs = req.json["data"]["attributes"]
        for p in attrs["profiles"]["data"]:
            email = key(p["attributes"]["email"])
            prof = self.profiles.setdefault(email, {"id": f"P{next(self._ids)}", "email": email,
                                                    "properties": {}, "lists": set()})
            prof["consent"], prof["suppressed"] = "SUBSCRIBED", False
        return Response(202)
