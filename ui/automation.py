"""Export page sections of issue 16: sync rules for new leads with their runs, and ad-platform lists.

Each section is one function the page calls; failures become messages and the
rest of the page goes on (`ui.errors.shown_inline`).
"""

from __future__ import annotations

import streamlit as st

from geo.ads import (
    PLATFORMS,
    AdsConsentMissing,
    build_audience,
    catchment_postcodes,
    covering_pins,
)
from geo.automation import (
    RuleLock,
    SyncRule,
    SyncState,
    campaign_of,
    list_rules,
    run_sync,
    save_rule,
    state_path,
)
from geo.automation.rules import DEFAULT_TAG, PROVIDERS
from geo.automation.schedule import lock_path
from geo.brief.content import with_locations
from geo.export.downloads import download_name
from geo.modes import MODES
from geo.targeting.audience import AudienceFilters
from geo.targeting.targets import load_campaign
from geo.workspace import Workspace
from ui import export as ux
from ui.auth import current_actor
from ui.errors import shown_inline

NEW_RULE = "(new rule)"
PLATFORM_LABELS = {"google": "Google Customer Match", "meta": "Meta custom audience"}
RUN_LABELS = {"started_at": "when (UTC)", "new": "new", "eligible": "eligible",
              "treatment": "treatment", "holdout": "holdout", "sent": "sent", "failed": "failed",
              "withdrawn": "consent withdrawn", "status": "status", "note": "note"}


def _rule_form(ws: Workspace, current: SyncRule | None) -> SyncRule | None:
    """The rule editor; returns the rule built from the form when saved."""
    r = current
    suffix = r.name if r else "new"      # each rule keeps its own widget values
    modes = [m.value for m in MODES]
    with st.form("sync_rule_form"):
        name = st.text_input("Rule name", value=r.name if r else "welcome", key=f"sync_name_{suffix}")
        a, b = st.columns(2)
        provider = a.selectbox("E-mail service", PROVIDERS, index=PROVIDERS.index(r.provider) if r else 0,
                               format_func=ux.PROVIDER_LABELS.get, key=f"sync_provider_{suffix}")
        list_id = b.text_input("Audience / list id", value=r.list_id if r else "", key=f"sync_list_{suffix}")
        mode = a.selectbox("Mode", modes, index=modes.index(r.mode) if r else modes.index("walk"),
                            key=f"sync_mode_{suffix}")
        limit = b.number_input("Catchment limit (minutes; km in radius mode)", min_value=0.1,
                               value=float(r.limit if r else 10.0), step=1.0, key=f"sync_limit_{suffix}")
        holdout = a.number_input("Holdout share", min_value=0.0, max_value=0.9, step=0.05,
                                 value=float(r.holdout if r else 0.10), key=f"sync_holdout_{suffix}")
        offer_days = b.number_input("Offer length (days)", min_value=1, max_value=365,
                                    value=int(r.offer_days if r else 7))
        tag = a.text_input("Tag that starts the provider's automation ({store_id} per store)",
                           value=r.tag if r else DEFAULT_TAG)
        network = b.text_input("Road network (travel modes)", value=(r.network if r and r.network
                                                                      else str(ws.settings().get(
                                                                          "network", "demo"))))
        segments = a.text_input("Segments (comma-separated; empty keeps every segment)",
                                value=",".join(r.filters.segments or ()) if r else "")
        orders = b.number_input("Online orders in 12 months, at least (0: anyone)", min_value=0,
                                value=int(r.filters.min_online_orders or 0) if r else 0)
        include = st.toggle("Welcome the customers already there on the first run",
                            value=bool(r.include_existing) if r else False, key=f"sync_include_{suffix}",
                            help="Off: the first run only records who is there; leads that "
                                 "appear afterwards are welcomed.")
        if not st.form_submit_button("Save rule", key="sync_save"):
            return None
    segs = tuple(s.strip() for s in segments.split(",") if s.strip()) or None
    return SyncRule(name=name, provider=provider, list_id=list_id, mode=mode, limit=limit,
                    holdout=holdout, offer_days=int(offer_days), tag=tag,
                    network=network or None,
                    filters=AudienceFilters(segments=segs, min_online_orders=int(orders) or None),
                    include_existing=include)


def _runs(ws: Workspace, rule: SyncRule) -> None:
    path = state_path(ws)
    if not path.exists():
        st.caption("No run yet. Schedule `python -m geo sync --workspace "
                   f"'{ws.name}' --rule '{rule.name}' --json` (see the README's cron line).")
        return
    with SyncState(path) as state:
        runs = state.runs(rule.name)
    if runs.empty:
        st.caption("No run of this rule yet.")
        return
    st.markdown(f"**Runs of {rule.name}** · newest first · synced customers join the campaign "
                f"*{campaign_of(rule)}*, which the Funnel page reads like any campaign")
    st.table(runs[list(RUN_LABELS)].rename(columns=RUN_LABELS).head(20))


def _run_buttons(ws: Workspace, rule: SyncRule) -> None:
    a, b = st.columns(2)
    if a.button("Count the new leads (sends nothing)", key="sync_dry_run"):
        with shown_inline("Counting failed"):
            s = run_sync(ws, rule.name, None, dry_run=True)
            st.info(f"New {s.new:,} · eligible {s.eligible:,} · treatment {s.treatment:,} · "
                    f"holdout {s.holdout:,}. {s.note}")
    access = ux.provider_access(rule.provider)
    if not access.ready:
        b.caption(access.missing_message())
        return
    if b.button("Run now", key="sync_run_now", type="primary"):
        with shown_inline("The sync stopped"), RuleLock(lock_path(ws, rule.name)), \
                ux.adapter_for(access) as adapter:
            s = run_sync(ws, rule.name, adapter, actor=current_actor())
            msg = (f"New {s.new:,} · sent {s.sent:,} · failed {s.failed:,} · holdout "
                   f"{s.holdout:,} (never sent) · consent withdrawn {s.withdrawn:,}")
            (st.success if s.ok else st.warning)(msg + (f". {s.error}" if s.error else ""))


def automation_section(ws: Workspace) -> None:
    """Sync rules for new leads: pick or create a rule, edit it, run it, list its runs."""
    with st.expander("Automation for new leads: sync rules and their runs"):
        st.caption("A rule welcomes customers who appear (or newly consent) near a store: it "
                   "assigns the nearest store, draws a holdout, issues codes and pushes the "
                   "treatment with the rule's tag, which starts your provider's own automation. "
                   "Journaled like exports: nobody is sent twice, and consent is checked again "
                   "per address just before sending.")
        rules = {r.name: r for r in list_rules(ws)}
        saved = st.session_state.pop("sync_rule_saved", None)
        if saved in rules:            # select the rule just saved (before the widget exists)
            st.session_state["sync_rule_pick"] = saved
        pick = st.selectbox("Rule", [NEW_RULE, *rules], key="sync_rule_pick")
        current = rules.get(pick)
        if saved:
            st.success(f"Rule {saved!r} saved.")
        with shown_inline("Could not save the rule"):
            edited = _rule_form(ws, current)
            if edited is not None:
                save_rule(ws, edited)
                st.session_state["sync_rule_saved"] = edited.name
                st.rerun()
        if current is not None:
            _run_buttons(ws, current)
            _runs(ws, current)


def _audience(ws: Workspace, campaign: str, platform: str, store: str | None,
              country: str | None) -> None:
    targets = load_campaign(ws, campaign).targets
    try:
        audience = build_audience(targets, platform, customers=ws.load_table("customers"),
                                  store_id=store, default_country=country, file=campaign)
    except AdsConsentMissing as exc:
        st.warning(f"Nothing to export: {exc}", icon="🔒")
        return
    s = audience.summary()
    a, b = st.columns(2)
    a.metric("Members on the list", f"{s['members']:,}")
    b.metric("Left out", f"{sum(s['skipped'].values()):,}")
    if s["warning"]:
        st.warning(s["warning"])
    for why, n in s["skipped"].items():
        st.caption(f"{why}: {n:,}")
    st.download_button(f"Download the {PLATFORM_LABELS[platform]} CSV",
                       data=lambda: audience.release(actor=current_actor(), workspace=ws,
                                                     campaign=campaign),
                       file_name=download_name(campaign, layout=f"{platform}-audience"),
                       mime="text/csv", on_click="ignore", key="ads_download")


def _pins(ws: Workspace, campaign: str) -> None:
    stores = ws.load_table("stores")
    targets = with_locations(load_campaign(ws, campaign).targets, ws.load_table("customers"))
    located = targets.dropna(subset=["lat", "lon"])
    if stores is None or located.empty:
        st.caption("No store or customer locations: no pins.")
        return
    pins = covering_pins(stores, located, located)
    st.markdown("**Local ad targets** (radius pins: neither platform takes a polygon)")
    st.table(pins)
    st.download_button("Download the pins (CSV)", data=pins.to_csv(index=False).encode(),
                       file_name=download_name(campaign, layout="ad-pins"), mime="text/csv",
                       on_click="ignore", key="ads_pins_download")
    codes = catchment_postcodes(located, ws.load_table("customers"))
    if len(codes):
        st.download_button("Download the postcodes (CSV)", data=codes.to_csv(index=False).encode(),
                           file_name=download_name(campaign, layout="ad-postcodes"),
                           mime="text/csv", on_click="ignore", key="ads_postcodes_download")
    st.caption("Pins hold the campaign's targets (treatment and holdout); `python -m geo adpins` "
               "also covers the whole travel-time polygon.")


def ads_section(ws: Workspace) -> None:
    """Hashed customer lists for Google and Meta, and radius pins per store, for a saved campaign."""
    with st.expander("Ad platforms: hashed customer lists and local pins"):
        campaigns = ws.list_campaigns()
        if not campaigns:
            st.info("No saved campaign yet.")
            return
        a, b, c = st.columns(3)
        campaign = a.selectbox("Campaign", campaigns[::-1], key="ads_campaign")
        platform = b.selectbox("Platform", PLATFORMS, format_func=PLATFORM_LABELS.get,
                               key="ads_platform")
        stores = ws.load_table("stores")
        ids = [] if stores is None else sorted(stores["store_id"].astype(str))
        store = c.selectbox("Store", ["(all stores)", *ids], key="ads_store")
        country = st.text_input("Country of rows without one (ISO code, e.g. FI)", max_chars=2,
                                key="ads_country")
        st.caption("Treatment members only, never the holdout, and only addresses whose every "
                   "record gave advertising consent (the ads_consent column of the imported "
                   "customers; phone, last name, postcode, city, region and country come from "
                   "the same import). Values are "
                   "normalised per platform and SHA-256 hashed; Google's Country and Zip stay "
                   "in clear.")
        with shown_inline("Could not build the list"):
            if st.button("Prepare the list and pins", key="ads_prepare"):
                st.session_state["ads_ready"] = (campaign, platform, store, country)
            if st.session_state.get("ads_ready") == (campaign, platform, store, country):
                _audience(ws, campaign, platform, None if store.startswith("(") else store,
                          country or None)
                _pins(ws, campaign)
