"""Automation for new leads: saved sync rules, ``geo sync`` runs journaled like exports, scheduling.

Typical use::

    save_rule(ws, SyncRule("welcome", provider="mailchimp", list_id="aud1", mode="radius", limit=1))
    with adapter:
        summary = run_sync(ws, "welcome", adapter)     # new, eligible, treatment, holdout, sent, failed
"""

from __future__ import annotations

from geo.automation.rules import SyncRule, delete_rule, list_rules, load_rule, save_rule
from geo.automation.schedule import RuleLock, SyncLocked, parse_every, run_every
from geo.automation.state import SyncState, state_path
from geo.automation.sync import SyncSummary, campaign_of, run_sync

__all__ = ["RuleLock", "SyncLocked", "SyncRule", "SyncState", "SyncSummary", "campaign_of",
           "delete_rule", "list_rules", "load_rule", "parse_every", "run_every", "run_sync",
           "save_rule", "state_path"]
