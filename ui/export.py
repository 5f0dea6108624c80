"""Export page helpers: provider settings from env or secrets, cached lists and campaigns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from geo.export import ENV_KEYS, Adapter, ExportError, RetryPolicy, Secret, make_adapter
from geo.export.recipients import with_current_consent
from geo.targeting.targets import load_campaign
from geo.workspace import Workspace, open_workspace

PROVIDER_LABELS = {"mailchimp": "Mailchimp", "klaviyo": "Klaviyo", "sendgrid": "SendGrid",
                   "brevo": "Brevo"}
LIST_WORDS = {"mailchimp": "audience", "klaviyo": "list", "sendgrid": "list", "brevo": "list"}
POLL_SETTING = "EXPORT_POLL_SECONDS"
TIMEOUT_SETTING = "EXPORT_TIMEOUT_SECONDS"


def setting(name: str) -> str | None:
    """A setting from the environment, else from ``st.secrets``; None when unset or blank.

    Environment variables win over ``.streamlit/secrets.toml``, as the example
    secrets file says.
    """
    value = os.environ.get(name)
    if value is None or not value.strip():
        try:
            value = st.secrets[name]
        except (KeyError, FileNotFoundError):
            value = None
    value = None if value is None else str(value).strip()
    return value or None


NO_LIST = "your-list"
"""The list id a dry run without an API key shows in its sample payload."""


def next_step(provider: str) -> str:
    """What to do to upload for real: where the key goes (names the setting, never a value)."""
    return (f"add `{ENV_KEYS[provider]} = \"…\"` to `.streamlit/secrets.toml` (next to "
            f"`config.toml`; git ignores it) or set the environment variable "
            f"`{ENV_KEYS[provider]}` before `make run`.")


def per_store_table(per_store: dict[str, int], targets: pd.DataFrame) -> pd.DataFrame:
    """Recipients per store of a dry run, with the store names of the target list."""
    names = {}
    if "store_name" in targets:
        names = (targets[["store_id", "store_name"]].dropna().astype(str)
                 .drop_duplicates("store_id").set_index("store_id")["store_name"].to_dict())
    return pd.DataFrame({"store": list(per_store),
                         "name": [names.get(s, "") for s in per_store],
                         "recipients": list(per_store.values())})


def base_url_setting(provider: str) -> str:
    """Name of the setting that overrides a provider's API root, e.g. ``MAILCHIMP_BASE_URL``."""
    return f"{provider.upper()}_BASE_URL"


@dataclass(frozen=True)
class ProviderAccess:
    """How to reach one provider: its key (hidden in every repr) and an optional base URL."""

    provider: str
    key: Secret | None = field(repr=False)
    base_url: str | None = None

    @property
    def label(self) -> str:
        """The provider's display name."""
        return PROVIDER_LABELS[self.provider]

    @property
    def key_setting(self) -> str:
        """Name of the key's environment variable / secret, e.g. ``MAILCHIMP_API_KEY``."""
        return ENV_KEYS[self.provider]

    @property
    def ready(self) -> bool:
        """True when a key is configured."""
        return self.key is not None

    def key_digest(self) -> str:
        """A short one-way digest of the key, so caches refresh when the key changes."""
        return "" if self.key is None else self.key.fingerprint()

    def missing_message(self) -> str:
        """What to set when the key is missing (names the setting, never a value)."""
        return (f"No API key for {self.label}: set `{self.key_setting}` in "
                f"`.streamlit/secrets.toml` or as an environment variable, then reload the page. "
                f"`{base_url_setting(self.provider)}` optionally points it at another API root "
                "(regional endpoint or proxy).")


def provider_access(provider: str) -> ProviderAccess:
    """Read a provider's key and base-URL override from the environment or ``st.secrets``."""
    key = setting(ENV_KEYS[provider])
    return ProviderAccess(provider, Secret(key) if key else None,
                          setting(base_url_setting(provider)))


def _seconds(name: str, default: float) -> float:
    text = setting(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ExportError(f"setting {name} must be a positive number of seconds, got {text!r}")
    return value


def retry_policy() -> RetryPolicy:
    """The retry policy of the page's requests.

    ``EXPORT_POLL_SECONDS`` (default 2 s between polls of a provider job) and
    ``EXPORT_TIMEOUT_SECONDS`` (default 60 s per request) may be set in the
    environment or in secrets.
    """
    defaults = RetryPolicy()
    return RetryPolicy(timeout=_seconds(TIMEOUT_SETTING, defaults.timeout),
                       poll_interval=_seconds(POLL_SETTING, defaults.poll_interval))


def adapter_for(access: ProviderAccess, **options: Any) -> Adapter:
    """The provider adapter with the configured key, base URL and retry policy.

    ``options`` are provider options (e.g. Mailchimp's ``status_if_new``). Without
    a key the adapter still serves offline calls (field plan, payload preview).
    """
    return make_adapter(access.provider, access.key, base_url=access.base_url,
                        policy=retry_policy(), **options)


@st.cache_data(ttl=300, max_entries=16, show_spinner="Reading the provider's lists…")
def provider_lists(provider: str, base_url: str | None, key_digest: str,
                   _access: ProviderAccess) -> pd.DataFrame:
    """The provider's audiences/lists (``id``, ``name``, ``members``), cached for 5 minutes.

    Keyed by provider, base URL and the key's digest; the key itself is never
    part of a cache key.
    """
    with adapter_for(_access) as adapter:
        return adapter.list_lists()


def list_labels(lists: pd.DataFrame) -> dict[str, str]:
    """Chooser labels of a provider's lists: ``name · N members (id)``; no count when unknown."""
    return {str(i): f"{name} · {int(n):,} members ({i})" if pd.notna(n) else f"{name} ({i})"
            for i, name, n in lists[["id", "name", "members"]].itertuples(index=False)}


def campaign_version(ws: Workspace, name: str) -> str:
    """A string that changes whenever the campaign's files are rewritten (for cache keys)."""
    parts = []
    for file in ("campaign.json", "targets.parquet"):
        path = ws.campaign_path(name) / file
        st_ = path.stat() if path.exists() else None
        parts.append(f"{st_.st_mtime_ns}-{st_.st_size}" if st_ else "none")
    return "/".join(parts)


@st.cache_data(max_entries=4, show_spinner="Loading the campaign…")
def campaign_targets(root: str, workspace: str, name: str, version: str,
                     customers_version: str) -> pd.DataFrame:
    """A saved campaign's target list with consent as it stands now in the customers table.

    See `geo.export.recipients.with_current_consent`: anyone who withdrew consent
    since the campaign was saved is refused at export time.
    """
    ws = open_workspace(workspace, Path(root))
    return with_current_consent(load_campaign(ws, name).targets, ws.load_table("customers"))


def remember(kind: str, signature: tuple, value: Any) -> None:
    """Keep a value (a dry run, a result) for the selection ``signature`` in the session."""
    st.session_state[f"export_memo_{kind}"] = (signature, value)


def recall(kind: str, signature: tuple) -> Any:
    """The value remembered for ``signature``, or None when the selection has changed since."""
    stored = st.session_state.get(f"export_memo_{kind}")
    return stored[1] if stored and stored[0] == signature else None
