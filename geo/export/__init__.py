"""Export target lists to Mailchimp, Klaviyo, SendGrid and Brevo: consent-safe, journaled, resumable.

Typical use::

    adapter = make_adapter("mailchimp", api_key=key)        # or the env variable
    print(dry_run(targets, adapter, list_id).summary)       # nothing sent
    result = run_export(targets, adapter, list_id, journal=journal_path(ws))
    result.to_csv("report.csv")
"""

from __future__ import annotations

from typing import Any

from geo.export.base import Adapter, JobLost, mask_email
from geo.export.brevo import BrevoAdapter
from geo.export.client import ENV_KEYS, ExportError, ProviderError, RetryPolicy, Secret, resolve_api_key
from geo.export.csv_layouts import (
    manual_import_csv,
    manual_import_frame,
    write_manual_import,
)
from geo.export.journal import Destination, ExportJournal, ExportKey, JournalError
from geo.export.klaviyo import KlaviyoAdapter
from geo.export.mailchimp import MailchimpAdapter
from geo.export.recipients import PreparedTargets, prepare_targets, with_current_consent
from geo.export.runner import (
    DryRun,
    ExportResult,
    dry_run,
    journal_path,
    journal_state,
    list_mode,
    run_export,
)
from geo.export.sendgrid import SendGridAdapter

PROVIDERS: dict[str, type[Adapter]] = {
    "mailchimp": MailchimpAdapter,
    "klaviyo": KlaviyoAdapter,
    "sendgrid": SendGridAdapter,
    "brevo": BrevoAdapter,
}


def make_adapter(provider: str, api_key: str | Secret | None = None, **kwargs: Any) -> Adapter:
    """Build the adapter for ``provider`` (``mailchimp``, ``klaviyo``, ``sendgrid``, ``brevo``).

    Parameters
    ----------
    provider
        Provider name.
    api_key
        The key; None reads the provider's environment variable (see `ENV_KEYS`)
        when the first request is made.
    **kwargs
        ``base_url``, ``policy`` (`RetryPolicy`), ``batch_size`` and provider options.
    """
    try:
        cls = PROVIDERS[provider.lower()]
    except KeyError:
        raise ExportError(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}") from None
    return cls(api_key, **kwargs)


__all__ = [
    "ENV_KEYS", "PROVIDERS", "Adapter", "BrevoAdapter", "Destination", "DryRun", "ExportError",
    "ExportJournal", "ExportKey", "ExportResult", "JobLost", "JournalError", "KlaviyoAdapter",
    "MailchimpAdapter", "PreparedTargets", "ProviderError", "RetryPolicy", "Secret",
    "SendGridAdapter", "dry_run", "journal_path", "journal_state", "list_mode", "make_adapter",
    "manual_import_csv", "manual_import_frame", "mask_email", "prepare_targets",
    "resolve_api_key", "run_export", "with_current_consent", "write_manual_import",
]
