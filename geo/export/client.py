"""Reach a provider's API: the key that never shows itself, and requests retried with backoff."""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from geo.errors import GeoError

log = logging.getLogger("geo.export")

ENV_KEYS = {
    "mailchimp": "MAILCHIMP_API_KEY",
    "klaviyo": "KLAVIYO_API_KEY",
    "sendgrid": "SENDGRID_API_KEY",
    "brevo": "BREVO_API_KEY",
}


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

    def __reduce__(self) -> NoReturn:  # refuse to be pickled into a cache or file
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


def _short(path: str) -> str:
    """Path without scheme/host/query, for messages."""
    return httpx.URL(path).path if "://" in path else path.split("?")[0]
