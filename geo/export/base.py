"""Define the provider adapter interface: lists, fields and batched upsert jobs with per-recipient outcomes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from geo.export.client import ExportError, HttpClient, RetryPolicy, Secret, resolve_api_key
from geo.export.csv_layouts import ApiField, api_travel, api_travel_field
from geo.export.journal import Destination
from geo.export.recipients import FILE_COLUMNS, records

OUTCOME_COLUMNS = ["email", "state", "reason", "outcome"]


class JobLost(ExportError):
    """A provider no longer knows a submitted job (expired or unknown id); its batch is resent."""


def mask_email(email: str) -> str:
    """Mask an address for display: ``jane@example.com`` -> ``j***@example.com``."""
    local, _, domain = str(email).partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


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


def outcomes_frame(emails: Iterable[str], state: str | list[str], reason: str | list[str] = "",
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

    def __exit__(self, *exc: object) -> None:
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
        """Create the custom fields of ``mode`` that are missing; return `planned_fields` plus ``created``."""

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

    def upload_records(self, batch: pd.DataFrame) -> tuple[ApiField, list[dict[str, Any]]]:
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
