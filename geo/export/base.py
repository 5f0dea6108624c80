"""Define the provider adapter interface, credentials handling and HTTP retries with backoff."""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from geo.errors import GeoError
from geo.export.csv_layouts import ApiField, api_travel, api_travel_field
from geo.export.journal import Destination
from geo.export.recipients import FILE_COLUMNS, records

log = logging.getLogger("geo.export")

ENV_KEYS = {
    "mailchimp": "MAILCHIMP_API_KEY",
    "klaviyo": "KLAVIYO_API_KEY",
    "sendgrid": "SENDGRID_API_KEY",
    "brevo": "BREVO_API_KEY",
}

OUTCOME_COLUMNS = ["email", "state", "reason", "outcome"]


class ExportError(GeoError):
    """An export cannot start or continue: credentials, list, or a request the provider refused."""


class ProviderError(ExportError):
    """A provider answered a request with an error status (message never includes the API key).

    Attributes
    ----------
    provider, method, path
        Which request failed.
    status
        The HTTP status code.
    detail
        The provider's error message, taken from its error body.
    """

    def __init__(self, provider: str, method: str, path: str, status: int, detail: str) -> None:
        self.provider, self.method, self.path = provider, method, path
        self.status, self.detail = status, detail
        hint = ""
        if status in (401, 403):
            hint = f" (check the API key in {ENV_KEYS.get(provider, 'the settings')} and its permissions)"
        super().__init__(f"{provider}: {method} {path} failed with HTTP {status}: {detail}{hint}")


class JobLost(ExportError):
    """A provider no longer knows a submitted job (expired or unknown id); its batch is resent."""


class Secret:
    """An API key that never shows itself in reprs, logs, tracebacks or pickles."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the key itself (only to build a request header)."""
        return self._value

    def fingerprint(self) -> str:
        """A one-way digest of the key (16 hex digits): tells two keys apart, reveals neither.

        Used to tell accounts apart in the export journal and to key caches.
        """
        return hashlib.sha256(b"geo.export api key\0" + self._value.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):  # refuse to be pickled into a cache or file
        raise TypeError("an API key cannot be pickled")


def resolve_api_key(provider: str, api_key: str | Secret | None = None) -> Secret:
    """Return the key passed in, else the provider's environment variable.

    Parameters
    ----------
    provider
        ``"mailchimp"``, ``"klaviyo"``, ``"sendgrid"`` or ``"brevo"``.
    api_key
        A key from the caller (for example read from ``st.secrets`` by a page).

    Raises
    ------
    ExportError
        When neither is set; the message names the variable, never a value.
    """
    if isinstance(api_key, Secret):
        return api_key
    value = (api_key or os.environ.get(ENV_KEYS[provider], "")).strip()
    if not value:
        raise ExportError(f"no API key for {provider}: set the environment variable "
                          f"{ENV_KEYS[provider]} or pass api_key=")
    return Secret(value)


def mask_email(email: str) -> str:
    """Mask an address for display: ``jane@example.com`` -> ``j***@example.com``."""
    local, _, domain = str(email).partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts, retries and polling for every provider request.

    Parameters
    ----------
    timeout
        Seconds allowed for each request (connect, read and write).
    max_attempts
        Attempts per request, the first included, before giving up.
    backoff_base, backoff_max
        Exponential backoff in seconds (``base * 2**(attempt-1)``, capped) when the
        provider gives no ``Retry-After`` or rate-limit reset header.
    max_retry_after
        Longest wait in seconds accepted from a ``Retry-After``/reset header.
    poll_interval
        Seconds between two polls of an asynchronous job.
    max_polls
        Polls of one job before the export stops and leaves it to be resumed.
    sleep
        Called with a number of seconds to wait; inject a recorder in tests.
    clock
        Returns the current Unix time in seconds (for epoch reset headers).
    """

    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0
    poll_interval: float = 2.0
    max_polls: int = 1800
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return float(min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))


def retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds a provider asks us to wait, from its headers, or None.

    Reads ``Retry-After`` (seconds or HTTP date; Klaviyo), ``x-sib-ratelimit-reset``
    (seconds; Brevo), ``X-RateLimit-Reset`` (Unix epoch seconds; SendGrid) and
    ``RateLimit-Reset`` (seconds).
    """
    h = response.headers
    value = h.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    for name in ("x-sib-ratelimit-reset", "x-ratelimit-reset", "ratelimit-reset"):
        value = h.get(name)
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        return max(0.0, number - now) if number > 1e9 else max(0.0, number)
    return None


class HttpClient:
    """httpx client that retries 429, 5xx, timeouts and dropped connections with backoff.

    Parameters
    ----------
    provider
        Name used in messages.
    base_url
        Prefix of every relative path.
    headers
        Returns the headers of one request, the credential included; called per
        request so the key is never stored on the httpx client.
    error_detail
        Extracts a readable message from a provider's error response.
    policy
        Timeouts, retries and the injectable sleep.
    secret
        The key, scrubbed from any message that quotes a response body.
    """

    def __init__(self, provider: str, base_url: str, headers: Callable[[], dict[str, str]],
                 error_detail: Callable[[httpx.Response], str], policy: RetryPolicy,
                 secret: Callable[[], str], transport: httpx.BaseTransport | None = None) -> None:
        self.provider = provider
        self.policy = policy
        self._headers = headers
        self._detail = error_detail
        self._secret = secret
        self._client = httpx.Client(base_url=base_url, timeout=policy.timeout,
                                    transport=transport, follow_redirects=False)

    def __repr__(self) -> str:
        return f"HttpClient({self.provider!r}, base_url={str(self._client.base_url)!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _scrub(self, text: str) -> str:
        key = self._secret()
        return text.replace(key, "***") if key else text

    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, Any] | None = None, idempotent: bool = True,
                allow: tuple[int, ...] = (), auth: bool = True) -> httpx.Response:
        """Send one request, retrying what is safe to retry; return the response.

        Parameters
        ----------
        method, path
            HTTP method and a path relative to the base URL (or an absolute URL).
        json
            Request body, sent as JSON.
        idempotent
            When True, a request whose response was lost (timeout, dropped
            connection) is sent again; when False it is only retried if it
            certainly never reached the server (connection refused) or was
            answered 429/5xx.
        allow
            Error statuses returned to the caller instead of raised (e.g. 404).
        auth
            Send the credential (False for pre-signed download URLs).

        Raises
        ------
        ProviderError
            For a non-retryable error status, or when retries are exhausted.
        ExportError
            When no response arrived after every attempt.
        """
        policy = self.policy
        for attempt in range(1, policy.max_attempts + 1):
            last = attempt == policy.max_attempts
            headers = self._headers() if auth else {}
            try:
                resp = self._client.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                kind = type(exc).__name__
                if last or not (idempotent or never_sent):
                    raise ExportError(f"{self.provider}: {method} {_short(path)}: no response "
                                      f"after {attempt} attempt(s) ({kind}); the export can be "
                                      "resumed by running it again") from None
                delay = policy.backoff(attempt)
                log.warning("%s %s %s: %s, retry %d in %.2f s", self.provider, method,
                            _short(path), kind, attempt, delay)
                policy.sleep(delay)
                continue
            status = resp.status_code
            if status < 400 or status in allow:
                return resp
            if (status == 429 or status >= 500) and not last:
                hinted = retry_after(resp, policy.clock())
                delay = policy.backoff(attempt) if hinted is None else min(hinted, policy.max_retry_after)
                log.warning("%s %s %s: HTTP %d, retry %d in %.2f s", self.provider, method,
                            _short(path), status, attempt, delay)
                policy.sleep(delay)
                continue
            raise ProviderError(self.provider, method, _short(path), status,
                                self._scrub(self._detail(resp)))
        raise AssertionError("unreachable")  # pragma: no cover


def with_travel(fields: Mapping[str, Any], travel: ApiField, spec: Any, *,
                after: str = "store_address") -> dict[str, Any]:
    """``fields`` (our field -> provider spec) with ``travel.source: spec`` after ``after``.

    The travel field sits where the import files put their travel column (at
    the end when ``after`` is not among ``fields``).
    """
    out: dict[str, Any] = {}
    for f, value in fields.items():
        out[f] = value
        if f == after:
            out[travel.source] = spec
    if travel.source not in out:
        out[travel.source] = spec
    return out


def _short(path: str) -> str:
    """Path without scheme/host/query, for messages."""
    return httpx.URL(path).path if "://" in path else path.split("?")[0]


@dataclass(frozen=True)
class Job:
    """A job submitted to a provider: its id and what it does (``upsert`` or ``tags``)."""

    id: str
    kind: str = "upsert"


@dataclass(frozen=True)
class JobState:
    """One poll of a job: finished or not, failed as a whole or not, and why."""

    done: bool
    failed: bool = False
    detail: str = ""


@dataclass
class Collected:
    """Per-recipient outcome of a finished job.

    Attributes
    ----------
    outcomes
        One row per recipient of the batch: ``email``, ``state`` (``accepted`` or
        ``failed``), ``reason`` and ``outcome`` (``created``/``updated``/a status
        note, or empty when the provider does not say).
    follow_up
        A second job body to submit for the same batch (Mailchimp tags), or None.
    """

    outcomes: pd.DataFrame
    follow_up: Any = None


def outcomes_frame(emails, state: str | list[str], reason: str | list[str] = "",
                   outcome: str | list[str] = "") -> pd.DataFrame:
    """Build an outcomes frame (``email, state, reason, outcome``) from columns or scalars."""
    df = pd.DataFrame({"email": list(emails)})
    df["state"], df["reason"], df["outcome"] = state, reason, outcome
    return df[OUTCOME_COLUMNS].astype({"email": str, "state": str, "reason": str, "outcome": str})


class Adapter(ABC):
    """One email provider behind a small interface: lists, fields, batched upsert jobs.

    Parameters
    ----------
    api_key
        The key, or None to read the provider's environment variable when the first
        request is made (a dry run needs none).
    base_url
        Override of the provider's API root (regional endpoint, proxy, test server).
    policy
        Timeouts, retries, polling and the injectable sleep.
    batch_size
        Recipients per job; capped at the provider's limit ``max_batch_size``.
    transport
        Optional httpx transport (tests).
    """

    provider: str = ""
    max_batch_size: int = 500
    max_batch_bytes: int | None = None
    default_base_url: str = ""

    def __init__(self, api_key: str | Secret | None = None, *, base_url: str | None = None,
                 policy: RetryPolicy | None = None, batch_size: int | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._key = resolve_api_key(self.provider, api_key) if api_key else None
        self._base_override = base_url.rstrip("/") if base_url else None
        self.policy = policy or RetryPolicy()
        self.batch_size = min(int(batch_size or self.max_batch_size), self.max_batch_size)
        if self.batch_size < 1:
            raise ExportError(f"batch_size must be at least 1, got {batch_size}")
        self._transport = transport
        self._http: HttpClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_override or self.default_base_url!r})"

    # plumbing --------------------------------------------------------------
    def secret(self) -> Secret:
        """The API key (resolved from the environment on first use)."""
        if self._key is None:
            self._key = resolve_api_key(self.provider, None)
        return self._key

    def base_url(self) -> str:
        """The API root in use."""
        return self._base_override or self.default_base_url

    def account(self) -> str:
        """The account this adapter's key opens, as ``key:`` and the key's `Secret.fingerprint`.

        None of the four providers' documented endpoints that we use names the
        account, so the key stands for it: another key is another account (a
        rotated key of the same account too, which at worst uploads again).
        """
        return f"key:{self.secret().fingerprint()}"

    def destination(self, list_id: str) -> Destination:
        """Where an upload to ``list_id`` goes: provider, API root, account, list.

        Raises
        ------
        ExportError
            When no API key is set (the account is unknown without one).
        """
        url = httpx.URL(self.base_url())
        port = f":{url.port}" if url.port else ""
        root = f"{url.scheme}://{url.host}{port}{url.path.rstrip('/')}"
        return Destination(self.provider, root, self.account(), str(list_id))

    @property
    def http(self) -> HttpClient:
        """The retrying HTTP client (created on first use)."""
        if self._http is None:
            secret = self.secret()
            self._http = HttpClient(self.provider, self.base_url(), self.auth_headers,
                                    self.error_detail, self.policy, secret.reveal,
                                    transport=self._transport)
        return self._http

    def close(self) -> None:
        """Release the HTTP connections."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Adapter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # interface -------------------------------------------------------------
    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """Headers of one request, the credential included."""

    @abstractmethod
    def error_detail(self, response: httpx.Response) -> str:
        """A readable message from the provider's error body."""

    @abstractmethod
    def list_lists(self) -> pd.DataFrame:
        """The provider's audiences/lists: columns ``id``, ``name``, ``members``."""

    @abstractmethod
    def planned_fields(self, mode: str | None = None) -> pd.DataFrame:
        """Our fields and the provider fields they map to (no request).

        Parameters
        ----------
        mode
            The list's travel mode (`geo.export.csv_layouts.layout_mode`):
            ``radius`` maps ``crow_km`` to the distance field, anything else
            (``drive``, ``walk``, ``bike``, None) maps ``travel_min`` to the
            minutes field.

        Returns
        -------
        Columns ``field``, ``provider_field``, ``type``, ``native`` (True when the
        provider has the field built in, so nothing needs creating).
        """

    @abstractmethod
    def ensure_fields(self, list_id: str, mode: str | None = None) -> pd.DataFrame:
        """Create the custom fields of ``mode`` that are missing; return `planned_fields` plus
        ``created``."""

    @abstractmethod
    def payload(self, list_id: str, batch: pd.DataFrame) -> Any:
        """The JSON body that uploads ``batch`` (prepared recipients) to ``list_id``."""

    @abstractmethod
    def submit(self, list_id: str, batch: pd.DataFrame) -> Job:
        """Submit one batch as an upsert job and return it."""

    @abstractmethod
    def status(self, job: Job) -> JobState:
        """Poll ``job`` once."""

    @abstractmethod
    def collect(self, list_id: str, job: Job, batch: pd.DataFrame) -> Collected:
        """Read a finished job's per-recipient results."""

    def travel_field(self, mode: str | None) -> ApiField:
        """The provider field of the travel column: km in radius mode, else whole minutes."""
        return api_travel_field(self.provider, mode)

    def upload_records(self, batch: pd.DataFrame) -> tuple[ApiField, list[dict]]:
        """Rows of ``batch`` as payload dicts, with the travel value under the field's source.

        Each row holds ``travel_min`` (whole minutes, int) or, in radius mode,
        ``crow_km`` (km with one decimal, float), never both; empty values are
        left out (see `geo.export.recipients.records`).

        Raises
        ------
        GeoError
            When the batch mixes travel modes (`run_export` refuses such lists first).
        """
        field, values = api_travel(batch, self.provider)
        other = [c for c in ("travel_min", *FILE_COLUMNS) if c in batch.columns]
        return field, records(batch.drop(columns=other).assign(**{field.source: values}))

    def submit_follow_up(self, list_id: str, follow_up: Any) -> Job:
        """Submit the follow-up job returned by `collect` (only Mailchimp has one)."""
        raise NotImplementedError(f"{self.provider} has no follow-up jobs")

    def notes(self) -> list[str]:
        """Things the marketer should know about this provider's consent handling."""
        return []
