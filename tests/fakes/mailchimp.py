"""Fake Mailchimp Marketing API v3: audiences, merge fields, members, tags and async batches."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import re
import tarfile
import uuid

from tests.fakes._server import EMAIL_OK, FakeServer, Request, Response, key

MERGE_TYPES = {"text", "number", "address", "phone", "date", "url", "imageurl", "radio",
               "dropdown", "birthday", "zip"}
BATCH_STATES = ("pending", "preprocessing", "started", "finalizing", "finished")
COMPLIANCE = ("unsubscribed", "cleaned")
#: merge tags: upper case, at most 10 characters (email-providers.md 1.3)
MERGE_TAG = re.compile(r"^[A-Z][A-Z0-9_]{0,9}$")


def md5(email: str) -> str:
    return hashlib.md5(key(email).encode()).hexdigest()


def member_id(segment: str) -> str:
    """The member a path segment names: its subscriber hash (hex), or a raw address hashed."""
    return md5(segment) if "@" in segment else segment.lower()


class FakeMailchimp(FakeServer):
    """Serves ``/3.0`` like ``<dc>.api.mailchimp.com`` with in-memory audiences.

    Knobs: ``invalid`` (addresses answered "looks fake or invalid"),
    ``retry_after`` (send ``Retry-After`` on 429), ``max_concurrency``,
    ``max_pending_batches``, ``tags_on_put_for_existing`` (the reported quirk:
    False ignores tags sent on PUT for existing members).
    """

    routes = [
        ("GET", r"/3\.0/lists", "get_lists"),
        ("GET", r"/3\.0/lists/(?P<lid>[^/]+)/merge-fields", "get_merge_fields"),
        ("POST", r"/3\.0/lists/(?P<lid>[^/]+)/merge-fields", "post_merge_field"),
        ("POST", r"/3\.0/lists/(?P<lid>[^/]+)/members", "post_member"),
        ("GET", r"/3\.0/lists/(?P<lid>[^/]+)/members/(?P<h>[^/]+)", "get_member"),
        ("PUT", r"/3\.0/lists/(?P<lid>[^/]+)/members/(?P<h>[^/]+)", "put_member"),
        ("POST", r"/3\.0/lists/(?P<lid>[^/]+)/members/(?P<h>[^/]+)/tags", "post_tags"),
        ("POST", r"/3\.0/batches", "post_batch"),
        ("GET", r"/3\.0/batches/(?P<bid>[^/]+)", "get_batch"),
        ("GET", r"/files/(?P<bid>[^/]+)\.tar\.gz", "get_results"),
    ]

    def __init__(self, api_key: str = "0123456789abcdef0123456789abcdef-us6", dc: str = "us6") -> None:
        super().__init__(api_key)
        self.dc = dc
        self.lists: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.forgotten: set[tuple[str, str]] = set()
        self.invalid: set[str] = set()
        self.status_changes: list[tuple[str, str, str]] = []
        self.retry_after: int | None = 1
        self.max_concurrency = 10
        self.max_pending_batches = 500
        self.tags_on_put_for_existing = False
        self._ids = itertools.count(1)

    # seeding --------------------------------------------------------------------
    def add_list(self, lid: str, name: str = "Audience", tags=("FNAME", "LNAME")) -> None:
        self.lists[lid] = {"name": name, "members": {}, "merge_fields": {}}
        for tag in tags:
            self._add_merge_field(lid, tag, tag.title(), "text")

    def seed_member(self, lid: str, email: str, status: str = "subscribed", **merge) -> None:
        self.lists[lid]["members"][md5(email)] = {
            "id": md5(email), "email_address": key(email), "status": status,
            "merge_fields": dict(merge), "tags": []}

    def forget(self, lid: str, email: str) -> None:
        """Permanently delete a member: re-adding them must fail."""
        self.lists[lid]["members"].pop(md5(email), None)
        self.forgotten.add((lid, md5(email)))

    def member(self, lid: str, email: str) -> dict | None:
        return self.lists[lid]["members"].get(md5(email))

    # provider shape -------------------------------------------------------------
    def error(self, status: int, code: str, message: str, title: str | None = None,
              **extra) -> Response:
        titles = {400: "Invalid Resource", 401: "API Key Invalid", 403: "Forbidden",
                  404: "Resource Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
                  500: "Internal Server Error"}
        body = {"type": "https://mailchimp.com/developer/marketing/docs/errors/",
                "title": title or titles.get(status, "Error"), "status": status,
                "detail": message, "instance": str(uuid.uuid4()), **extra}
        return Response(status, body, {"X-Request-Id": body["instance"],
                                       "Link": '<https://us6.api.mailchimp.com/schema/3.0/'
                                               'ProblemDetailDocument.json>; rel="describedBy"'},
                        content_type="application/problem+json; charset=utf-8")

    def throttled(self) -> Response:
        resp = self.error(429, "", "You have exceeded the limit of 10 simultaneous connections.")
        if self.retry_after is not None:
            resp.headers["Retry-After"] = str(self.retry_after)
        return resp

    def authorize(self, req: Request) -> Response | None:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Basic "):
            key = base64.b64decode(auth[6:]).decode().partition(":")[2]
        elif auth.startswith("Bearer "):
            key = auth[7:]
        else:
            return self.error(401, "", "Your request did not include an API key.", "API Key Missing")
        if key != self.api_key:
            return self.error(401, "", "Your API key may be invalid, or you've attempted to access "
                              "the wrong data center.", "API Key Invalid")
        if key.rpartition("-")[2] != self.dc:
            return self.error(403, "", "The API key provided is linked to a different datacenter",
                              "Wrong Datacenter")
        return None

    def before(self, req: Request) -> Response | None:
        return self.throttled() if self.inflight > self.max_concurrency else None

    def _list(self, lid: str) -> dict | None:
        return self.lists.get(lid)

    # routes ---------------------------------------------------------------------
    def get_lists(self, req: Request) -> Response:
        lists = [{"id": lid, "name": v["name"], "stats": {"member_count": sum(
            m["status"] == "subscribed" for m in v["members"].values())}}
            for lid, v in self.lists.items()]
        return Response(200, {"lists": lists, "total_items": len(lists)})

    def get_merge_fields(self, req: Request) -> Response:
        lst = self._list(req.params["lid"])
        if lst is None:
            return self.error(404, "", "The requested resource could not be found.")
        fields = list(lst["merge_fields"].values())
        return Response(200, {"merge_fields": fields, "total_items": len(fields)})

    def _add_merge_field(self, lid: str, tag: str, name: str, kind: str) -> dict:
        lst = self.lists[lid]
        field = {"merge_id": len(lst["merge_fields"]) + 1, "tag": tag, "name": name, "type": kind,
                 "required": False, "public": False, "list_id": lid}
        lst["merge_fields"][tag] = field
        return field

    def post_merge_field(self, req: Request) -> Response:
        lst = self._list(req.params["lid"])
        if lst is None:
            return self.error(404, "", "The requested resource could not be found.")
        body = req.json
        if body.get("type") not in MERGE_TYPES or not body.get("name"):
            return self.error(400, "", "The resource submitted could not be validated.",
                              errors=[{"field": "type", "message": "Value is not one of the enum"}])
        tag = body.get("tag") or re.sub(r"[^A-Z0-9_]", "", body["name"].upper())[:10]
        if not MERGE_TAG.match(tag):
            return self.error(400, "", "The resource submitted could not be validated. For "
                              "field-specific details, see the 'errors' array.",
                              errors=[{"field": "tag", "message": "Merge tags are at most 10 "
                                       "upper-case letters, digits or underscores"}])
        if tag in lst["merge_fields"]:
            return self.error(400, "", f"A Merge Field with the tag \"{tag}\" already exists for "
                              "this list.")
        return Response(200, self._add_merge_field(req.params["lid"], tag, body["name"], body["type"]))

    def get_member(self, req: Request) -> Response:
        lst = self._list(req.params["lid"])
        m = lst and lst["members"].get(member_id(req.params["h"]))
        return Response(200, m) if m else self.error(404, "", "The requested resource could not "
                                                     "be found.", "Resource Not Found")

    def post_member(self, req: Request) -> Response:
        email = (req.json or {}).get("email_address", "")
        lst = self._list(req.params["lid"])
        if lst and md5(email) in lst["members"]:
            return self.error(400, "", f"{email} is already a list member. Use PUT to insert or "
                              "update list members.", "Member Exists")
        return self.put_member(Request(req.method, req.path, req.query, req.headers, req.body,
                                       {**req.params, "h": md5(email)}))

    def _merge_errors(self, lst: dict, merge: dict) -> list[dict]:
        errors = []
        for tag, value in merge.items():
            field = lst["merge_fields"].get(tag)
            if field is None:
                errors.append({"field": f"merge_fields.{tag}", "message": "This field does not exist"})
            elif field["type"] == "number" and (isinstance(value, bool)
                                                or not isinstance(value, (int, float))):
                errors.append({"field": tag, "message": "Please enter a number"})
        return errors

    def put_member(self, req: Request) -> Response:
        lid, h = req.params["lid"], member_id(req.params["h"])
        lst = self._list(lid)
        if lst is None:
            return self.error(404, "", "The requested resource could not be found.")
        body = req.json or {}
        email = str(body.get("email_address", "")).strip()
        if not email:
            return self.error(400, "", "The resource submitted could not be validated. For "
                              "field-specific details, see the 'errors' array.",
                              errors=[{"field": "email_address", "message": "This value should not be blank."}])
        if h != md5(email):
            return self.error(400, "", "The email address in the path does not match the body.")
        if key(email) in self.invalid or not EMAIL_OK.match(email):
            return self.error(400, "", f"{email} looks fake or invalid, please enter a real email "
                              "address.")
        if (lid, h) in self.forgotten:
            return self.error(400, "", f"{email} was permanently deleted and cannot be "
                              "re-imported. The contact must re-subscribe to get back on the list.",
                              "Forgotten Email Not Subscribed")
        merge = body.get("merge_fields") or {}
        errors = self._merge_errors(lst, merge)
        if errors:
            return self.error(400, "", "Your merge fields were invalid.", errors=errors)
        member = lst["members"].get(h)
        if member is None:
            status = body.get("status") or body.get("status_if_new")
            if not status:
                return self.error(400, "", "The resource submitted could not be validated.",
                                  errors=[{"field": "status_if_new", "message": "required for new members"}])
            member = {"id": h, "email_address": key(email), "status": status,
                      "merge_fields": {}, "tags": list(body.get("tags") or [])}
            lst["members"][h] = member
        else:
            new = body.get("status")
            if new and new != member["status"]:
                if member["status"] in COMPLIANCE and new == "subscribed":
                    return self.error(400, "", f"{email} is in a compliance state due to "
                                      "unsubscribe, bounce, or compliance review and cannot be "
                                      "subscribed.", "Member In Compliance State")
                self.status_changes.append((lid, key(email), new))
                member["status"] = new
            if self.tags_on_put_for_existing:
                member["tags"] = sorted(set(member["tags"]) | set(body.get("tags") or []))
        member["merge_fields"].update(merge)
        return Response(200, member)

    def post_tags(self, req: Request) -> Response:
        lst = self._list(req.params["lid"])
        member = lst and lst["members"].get(member_id(req.params["h"]))
        if not member:
            return self.error(404, "", "The requested resource could not be found.",
                              "Resource Not Found")
        tags = set(member["tags"])
        for t in (req.json or {}).get("tags", []):
            (tags.add if t.get("status") == "active" else tags.discard)(t["name"])
        member["tags"] = sorted(tags)
        return Response(204)

    def post_batch(self, req: Request) -> Response:
        pending = sum(b["status"] != "finished" for b in self.batches.values())
        if pending >= self.max_pending_batches:
            return self.throttled()
        ops = (req.json or {}).get("operations")
        if not isinstance(ops, list):
            return self.error(400, "", "The resource submitted could not be validated.",
                              errors=[{"field": "operations", "message": "Required"}])
        bid = f"b{next(self._ids):05d}"
        self.batches[bid] = {"id": bid, "status": "pending", "total_operations": len(ops),
                             "finished_operations": 0, "errored_operations": 0,
                             "submitted_at": "2026-01-01T00:00:00+00:00", "completed_at": "",
                             "response_body_url": "", "_ops": ops}
        return Response(200, self._public(bid))

    def _public(self, bid: str) -> dict:
        return {k: v for k, v in self.batches[bid].items() if not k.startswith("_")}

    def get_batch(self, req: Request) -> Response:
        batch = self.batches.get(req.params["bid"])
        if batch is None:
            return self.error(404, "", "The requested resource could not be found.")
        if batch["status"] != "finished":
            batch["status"] = BATCH_STATES[BATCH_STATES.index(batch["status"]) + 1]
            if batch["status"] == "finished":
                self._run_batch(batch)
        return Response(200, self._public(batch["id"]))

    def _run_batch(self, batch: dict) -> None:
        results = []
        for op in batch["_ops"]:
            body = json.loads(op["body"]) if op.get("body") else None
            resp = self.call(op["method"], "/3.0" + op["path"], body)
            results.append({"status_code": resp.status, "operation_id": op.get("operation_id"),
                            "response": resp.encode().decode()})
        data = json.dumps(results).encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo(f"{batch['id']}/{batch['id']}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        batch["_tar"] = buf.getvalue()
        batch["finished_operations"] = len(results)
        batch["errored_operations"] = sum(r["status_code"] >= 400 for r in results)
        batch["completed_at"] = "2026-01-01T00:00:05+00:00"
        batch["response_body_url"] = f"{self.url}/files/{batch['id']}.tar.gz"

    def get_results(self, req: Request) -> Response:
        batch = self.batches.get(req.params["bid"])
        if batch is None or "_tar" not in batch:
            return Response(404, raw=b"NoSuchKey", content_type="text/plain")
        return Response(200, raw=batch["_tar"], content_type="application/x-gzip")
