"""Run a provider fake on a loopback port: routing, request log and fault injection."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from geo.keys import email_key

EMAIL_OK = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def key(email: object) -> str:
    """The identity a provider files a contact under: `geo.keys.email_key`, "" when blank."""
    return email_key(email) or ""


@dataclass
class Request:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Fault:
    """An injected fault: ``error`` (status before applying), ``throttle`` (provider 429),
    ``drop`` (apply, then close the connection without answering) or ``slow`` (apply,
    then answer after ``delay`` seconds)."""

    kind: str
    method: str | None
    path: re.Pattern
    times: int
    skip: int = 0
    status: int = 500
    delay: float = 0.0


class FakeServer:
    """Base of the provider fakes: subclasses declare ``routes`` and provider-shaped bodies.

    ``routes`` is a list of ``(METHOD, regex, handler name)``; the regex's named
    groups become ``request.params``. Every request is appended to ``log``.
    """

    routes: list[tuple[str, str, str]] = []
    public_prefixes: tuple[str, ...] = ("/files/",)

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.log: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self.inflight = 0
        self._compiled = [(m, re.compile(f"^{p}$"), h) for m, p, h in self.routes]
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    # lifecycle -------------------------------------------------------------------
    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1                     # one write per response: headers and body together
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _any(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # faults ----------------------------------------------------------------------
    def inject(self, kind: str, path: str = ".*", *, method: str | None = None, times: int = 1,
               skip: int = 0, status: int = 500, delay: float = 0.0) -> None:
        """Make the next ``times`` matching requests (after ``skip`` of them) misbehave."""
        assert kind in ("error", "throttle", "drop", "slow"), kind
        self.faults.append(Fault(kind, method, re.compile(path), times, skip, status, delay))

    def _take_fault(self, req: Request) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.times <= 0 or (f.method and f.method != req.method) or not f.path.search(req.path):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                f.times -= 1
                return f
        return None

    # provider hooks ----------------------------------------------------------------
    def authorize(self, req: Request) -> Response | None:
        """None when the request may proceed, else the provider's 401/403 response."""
        raise NotImplementedError

    def error(self, status: int, code: str, message: str, **extra) -> Response:
        """An error in the provider's body shape."""
        raise NotImplementedError

    def throttled(self) -> Response:
        """The provider's 429 response, with its retry hint headers."""
        raise NotImplementedError

    def rate_headers(self) -> dict[str, str]:
        """Rate-limit headers sent on every non-429 response."""
        return {}

    def before(self, req: Request) -> Response | None:
        """Extra checks before routing (e.g. Mailchimp's concurrency limit)."""
        return None

    # dispatch -------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, headers: dict | None = None) -> Response:
        """Run a route in-process (Mailchimp batches execute their operations this way)."""
        req = Request(method, path, {}, headers or {}, json.dumps(body).encode() if body is not None else b"")
        return self._route(req)

    def _route(self, req: Request) -> Response:
        for method, pattern, handler in self._compiled:
            m = pattern.match(req.path)
            if m and method == req.method:
                req.params = {k: unquote(v) for k, v in m.groupdict().items()}
                with self.lock:
                    return getattr(self, handler)(req)
        if any(pattern.match(req.path) for _, pattern, _ in self._compiled):
            return self.error(405, "method_not_allowed", f"{req.method} is not allowed on {req.path}")
        return self.error(404, "not_found", f"no route for {req.method} {req.path}")

    def _read(self, h: BaseHTTPRequestHandler) -> Request:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        return Request(h.command, split.path, query, headers, body)

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        req = self._read(h)
        with self.lock:
            self.log.append(req)
            self.inflight += 1
        try:
            resp = self._respond(req)
            if resp is None:  # dropped
                h.close_connection = True
                return
            self._write(h, resp)
        finally:
            with self.lock:
                self.inflight -= 1

    def _respond(self, req: Request) -> Response | None:
        public = req.path.startswith(self.public_prefixes)
        fault = None if public else self._take_fault(req)
        if fault and fault.kind == "error":
            return self.error(fault.status, "server_error", "injected failure")
        if fault and fault.kind == "throttle":
            return self.throttled()
        if not public:
            denied = self.authorize(req) or self.before(req)
            if denied is not None:
                return denied
        resp = self._route(req)
        if not public and resp.status != 429:
            resp.headers = {**self.rate_headers(), **resp.headers}
        if fault and fault.kind == "drop":
            return None
        if fault and fault.kind == "slow":
            time.sleep(fault.delay)
        return resp

    @staticmethod
    def _write(h: BaseHTTPRequestHandler, resp: Response) -> None:
        data = resp.encode()
        try:
            h.send_response(resp.status)
            if data:
                h.send_header("Content-Type", resp.content_type)
            for k, v in resp.headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # helpers for tests -----------------------------------------------------------
    def requests(self, method: str | None = None, path: str = ".*") -> list[Request]:
        """Logged requests matching a method and a path regex."""
        rx = re.compile(path)
        return [r for r in self.log if (method is None or r.method == method) and rx.search(r.path)]

    def writes(self) -> list[Request]:
        """Logged requests that can change provider state (anything but GET)."""
        return [r for r in self.log if r.method != "GET"]
