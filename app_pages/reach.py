"""Reach & targets: live consent-aware reach per store, waterfall, map, forecast, downloads, save.

Where each number comes from:
* the live preview (slider, headline counts, what each rule removes, targets map) →
  `geo.targeting.preview.reach_curve`, `targets_by_store` and `preview_map_json`, computed for
  every slider step at once (via `ui.reach_preview`), so a move is answered in the browser;
* waterfall, histogram, per-store table → `geo.targeting.reach.ReachIndex.at` (= `geo.targeting.reach.compute_reach`)
  on the nearest-store assignment (`ui.reach.assignment` → `geo.catchments.assign`), with the audience
  rules of `geo.targeting.audience.prepare_audience`; "also in another catchment" →
  `geo.targeting.live.overlap_index` (as `geo.targeting.live.overlap_by_store`);
* stores the road network cannot place, and the network's notes (pieces, nodes set aside,
  clipped ways) → `geo.network.routing.Router.place_stores` and `Router.notes` (via `ui.network_notes`);
* expected outcome and ROI → `geo.targeting.forecast.forecast` (via `ui.reach.expected_outcome`);
* store choice by Huff (expected visitors, contested customers) → `geo.catchments.huff`; the prospects
  ring → `geo.targeting.prospects`; untapped cells → `geo.targeting.untapped`; demand per store per
  day → `geo.targeting.daily` (all via `ui.market`);
* downloads and the saved campaign → `geo.targeting.targets`.
Everything below the audience filters sits in one `st.fragment`, rerun when the
catchment slider rests or another of its widgets changes.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

from geo.access import allows
from geo.campaign_settings import load_settings
from geo.catchments.polygons import to_geojson
from geo.errors import GeoError
from geo.export.downloads import download, download_name, to_csv_bytes
from geo.modes import MODES, Mode
from geo.money import format_money
from geo.targeting.audience import AudienceFilters, location_quality_labels
from geo.targeting.codes import existing_codes
from geo.targeting.plan import plan_campaign
from geo.targeting.reach import DEFAULT_HOLDOUT, STAGE_LABELS, travel_histogram
from geo.targeting.suppression import (
    SUPPRESSION_TABLE,
    clear_suppression,
    save_suppression,
    suppression_from_bytes,
)
from geo.targeting.targets import build_target_list, save_campaign
from geo.text import plural
from geo.views.reach_charts import histogram_table, waterfall_table
from ui import cache, engine, market
from ui import reach as ui
from ui import reach_preview as preview
from ui.auth import current_actor, role_note
from ui.compare import reach_compare_line
from ui.errors import shown_as_message, shown_inline
from ui.network_notes import show_network_notes
from ui.page import start_page
from ui.pickers import store_picker
from ui.selection import Selection
from ui.settings import save_on_change

SAVED_UPLOAD = "reach_suppression_saved"   # file id of the upload already saved to the workspace
CHART_PX = 260  # with height="content" Streamlit squeezed these two charts to a sliver
SOURCES = tuple(location_quality_labels())  # issue 17: given coordinates, address, postcode, ip
CONSENT_RULE = ("**Consent rule (always on):** only customers who opted in and never "
                "unsubscribed are targeted; if any record of an e-mail address lacks consent "
                "or is unsubscribed, that address is not targeted at all. One target per "
                "address (trimmed, lower-cased), at its nearest store.")

page = start_page("Reach & targets")
ws, root = page.ws, page.root
settings = ws.settings()
remembered = dict(settings.get("reach", {}))
plan = load_settings(ws)   # mode, bands, traffic, costs, currency: shared with every page

customers, stores, cv, sv = cache.customers_and_stores(ws)
source = str(settings.get("network", "demo"))
st.caption(CONSENT_RULE)


def remember(field: str, key: str) -> None:
    """Keep a widget's value in the workspace settings (defaults after a restart)."""
    ws.update_settings(reach={**ws.settings().get("reach", {}), field: st.session_state[key]})


controls, live = st.columns([1, 3], gap="large")
with controls:
    store_names = dict(zip(stores["store_id"].astype(str), stores["name"].astype(str), strict=True))
    chosen = store_picker("Stores", store_names, "reach_stores")
    mode = Mode.parse(st.radio(
        "Catchment", [m.value for m in MODES], format_func=lambda m: Mode(m).label,
        horizontal=True, index=[m.value for m in MODES].index(plan.mode.value), key="reach_mode",
        on_change=save_on_change, args=(ws, "mode", "reach_mode"),
        help="Travel time on the OpenStreetMap road network, or a straight-line radius. Kept "
             "for the workspace: the Catchments page shows the same."))
    with st.expander("Audience filters", expanded=True):
        segments = st.multiselect("Segments (none = all)",
                                  sorted(customers["segment"].dropna().astype(str).unique())
                                  if "segment" in customers else [],
                                  key="reach_segments", persist_state="session")
        recency = st.selectbox("Last order", ["any time", "within N days", "more than N days ago"],
                               key="reach_recency", persist_state="session")
        recency_days = st.number_input("N days", 1, 3650, 90, key="reach_recency_days",
                                       persist_state="session", disabled=recency == "any time")
        min_orders = st.number_input("Online buyers: at least k online orders in 12 months "
                                     "(0 = everyone)", 0, 1000, 0, key="reach_min_orders",
                                     persist_state="session")
        quality = st.multiselect("Location quality", SOURCES, default=list(SOURCES),
                                 key="reach_quality", persist_state="session",
                                 format_func=location_quality_labels().get,
                                 help="How the customer's location was found. All of them "
                                      "also keep customers with no recorded source.")
        contacted_days = st.number_input("Exclude customers contacted in the last N days "
                                         "(0 = keep them)", 0, 3650, 0, key="reach_contacted_days",
                                         persist_state="session")
        today = st.date_input("Reference date (recency, contacts)", dt.date.today(),
                              key="reach_today", persist_state="session")
        upload = st.file_uploader("Suppression list (e-mails; any layout)",
                                  type=["csv", "txt"], key="reach_suppression",
                                  help="Kept in the workspace until you remove it; a new file "
                                       "replaces it.")
        if upload is not None and st.session_state.get(SAVED_UPLOAD) != upload.file_id:
            st.session_state[SAVED_UPLOAD] = upload.file_id
            try:
                save_suppression(ws, suppression_from_bytes(upload.getvalue(), upload.name),
                                 source=upload.name)
            except GeoError as exc:
                st.error(f"Suppression list not used: {exc}. The saved list (if any) still "
                         "applies.", icon="⚠️")
        saved, about = ui.saved_suppression(root, ws.name, ws.table_version(SUPPRESSION_TABLE))
        suppression = list(saved)
        if about:
            st.caption(f"{plural(about['count'], 'address', 'addresses')} on the suppression list "
                       f"({about['source']}, saved {about['saved_at']}).")
            st.button("Remove the suppression list", key="reach_suppression_clear",
                      on_click=clear_suppression, args=(ws,))

if not chosen:
    live.warning("Choose at least one store.")
    st.stop()

filters = AudienceFilters(
    segments=tuple(segments) or None,
    ordered_within_days=int(recency_days) if recency == "within N days" else None,
    ordered_before_days=int(recency_days) if recency == "more than N days ago" else None,
    min_online_orders=int(min_orders) or None,
    location_sources=None if set(quality) == set(SOURCES) else tuple(quality),
    exclude_contacted_days=int(contacted_days) or None)
filters_json = json.dumps(filters.as_dict(), sort_keys=True)
sup_key = ui.suppression_digest(suppression)
campaigns = ui.campaigns_version(root, ws.name)
audience_key = f"{filters_json}|{sup_key}|{campaigns}|{today}"
store_ids = tuple(sorted(chosen))
base = Selection.of(ws, stores=store_ids, source=source)   # mode and traffic set below
with shown_as_message("Could not apply the audience filters"):
    audience = ui.audience(base, filters_json, sup_key, tuple(suppression), campaigns, str(today))


def remember_limit(field: str, key: str) -> None:
    """Keep the preview's settled limit in the workspace settings."""
    state = st.session_state.get(key)
    if getattr(state, "limit", None) is not None:
        ws.update_settings(reach={**ws.settings().get("reach", {}), field: state.limit})


def ring_tagged(targets: pd.DataFrame, limit: float, delta: float | None, mode: str) -> pd.DataFrame:
    """The target list with the prospects ring tagged (`geo.targeting.prospects.tag_prospects`), if added."""
    from geo.targeting.prospects import tag_prospects

    return targets if delta is None else tag_prospects(targets, limit, delta, mode)


def ring_wanted(n_customers: int) -> bool:
    """Whether to measure the prospects ring: always below the map threshold, on request above it.

    The ring's map carries up to 20,000 points inline (about 4.5 MB) and is sent
    again at every settled slider move, so at scale (`geo.views.aggregate.aggregated`)
    it waits for the user to ask.
    """
    from geo.views.aggregate import aggregated

    if not aggregated(n_customers):
        return True
    return st.toggle("Measure the prospects ring (its map resends up to 20,000 points at "
                     "every slider move)", key="reach_ring_on", persist_state="session")


def research_panel(sel: Selection, index, r, limit: float, holdout: float, now) -> float | None:  # noqa: ANN001
    """Store choice (Huff), the prospects ring and untapped areas of this catchment.

    Returns the ring's width when the user adds the ring to the target list, else None.
    """
    with st.expander("Store choice: nearest store or Huff probabilities"):
        if market.pick_assignment() == market.ASSIGN_BY[1]:
            with shown_inline("Could not compute the store-choice probabilities"):
                market.huff_section(sel, limit, r.per_store)
    delta = None
    with st.expander("Prospects slightly further away"):
        if ring_wanted(len(sel.customers())):
            with shown_inline("Could not measure the prospects ring"):
                delta = market.prospects_section(index, sel, limit, root=str(root), ws=ws.name,
                                                 campaigns=campaigns, holdout=holdout,
                                                 cost_per_email=now.cost_per_email,
                                                 discount_value=now.discount_value,
                                                 currency=now.currency, audience_key=audience_key)
    with st.expander("Untapped areas"):
        if st.toggle("Rank untapped cells (reads the building footprints)", key="reach_untapped_on",
                     persist_state="session"):
            with shown_inline("Could not rank the untapped areas"):
                market.untapped_section(sel, limit)
    return delta


@st.fragment
def live_panel() -> None:
    """The live preview (counts and map per slider step, in the browser) and what follows it.

    A move of the catchment slider redraws the preview at once from data computed
    for every step; the waterfall, histogram, table, forecast and target list
    below are recomputed here once the slider rests.
    """
    radius = mode is Mode.RADIUS
    unit = mode.unit
    now = load_settings(ws)
    c1, c2, c3, c4 = st.columns([3, 3, 2, 2])
    traffic = c1.slider("Traffic factor", 0.3, 1.0, min(max(now.traffic, 0.3), 1.0), 0.05,
                        key="reach_traffic", disabled=mode is not Mode.DRIVE,
                        on_change=save_on_change, args=(ws, "traffic", "reach_traffic"),
                        help="Drive speeds × this factor (1.0 free flow, 0.7 peak traffic). Kept "
                             "for the workspace.")
    holdout_pct = c2.slider("Holdout %", 0, 50, int(remembered.get("holdout_pct",
                                                                    DEFAULT_HOLDOUT * 100)),
                            key="reach_holdout", persist_state="session", on_change=remember,
                            args=("holdout_pct", "reach_holdout"),
                            help="Drawn at random within each store and band; never sent.")
    seed = c3.number_input("Holdout seed", 0, 2**31 - 1, int(remembered.get("seed", 0)),
                           key="reach_seed", persist_state="session", on_change=remember,
                           args=("seed", "reach_seed"))
    show_roads = c4.toggle("Show roads", False, key="reach_roads", persist_state="session",
                           help="Thin grey road lines under the targets, for context.")
    traffic = traffic if mode is Mode.DRIVE else 1.0
    sel = base.with_(mode=mode.value, traffic=traffic)
    stores_on_map = sel.chosen_stores()
    with shown_as_message("Could not route the customers"):
        if not radius:
            show_network_notes(sel)
        index = ui.reach_index(sel, audience_key, audience)
        counts_url = preview.counts_url(sel, audience_key, holdout_pct / 100, index)
        map_url = preview.map_url(sel, audience_key, index)
    roads = None
    if show_roads:
        with shown_as_message("Could not load the road network"):
            roads = cache.road_paths_url(source, mode.network)
    field = "km" if radius else "minutes"
    limit = preview.preview(
        key=f"reach_preview_{unit}", mode=mode.value,
        limit=float(remembered.get(field, max(now.bands))),
        counts_data_url=counts_url, map_data_url=map_url,
        stores=preview.stores_payload(sel, audience_key, index), roads_url=roads,
        on_change=lambda: remember_limit(field, f"reach_preview_{unit}"))
    campaign_plan = plan_campaign(now, limit=limit, stores=store_ids, filters=filters,
                                  holdout=holdout_pct / 100, seed=int(seed), network=source,
                                  today=today, suppressed_addresses=len(suppression))
    bands = list(campaign_plan.bands)
    r = index.at(bands, holdout=campaign_plan.holdout, seed=campaign_plan.seed)
    shared = pd.Series(preview.overlap(sel).by_store(limit, len(stores_on_map)),
                       index=stores_on_map["store_id"].astype(str))
    counts = r.summary()
    st.caption(f"**Details for the catchment within {limit:g} {unit}** (they follow the slider "
               f"once it rests): {counts['targets']:,} targets, {counts['treatment']:,} "
               f"treatment, {counts['holdout']:,} holdout.")
    if not radius:   # issue 14: what a radius segment of the workspace's km would get wrong
        reach_compare_line(sel, max(now.km), limit)

    left, right = st.columns(2)
    with left:
        st.vega_lite_chart(waterfall_table(r.waterfall), ui.chart_spec("waterfall"),
                           width="stretch", height=CHART_PX, key="reach_waterfall")
    with right:
        bin_width = (0.1 if limit <= 3 else 0.5) if radius else 1.0
        st.vega_lite_chart(histogram_table(travel_histogram(r.values, column=mode.metric_column,
                                                            bin_width=bin_width)),
                           ui.chart_spec("histogram", unit), width="stretch", height=CHART_PX,
                           key="reach_histogram")

    per_store = r.per_store.assign(in_two_catchments=shared.reindex(
        r.per_store["store_id"].astype(str)).to_numpy())
    st.dataframe(per_store.rename(columns={**STAGE_LABELS, "store_id": "Store", "name": "Name",
                                           "treatment": "Treatment", "holdout": "Holdout",
                                           "in_two_catchments": "Also in another catchment"}),
                 hide_index=True, width="stretch", key="reach_per_store")
    ring_delta = research_panel(sel, index, r, limit, campaign_plan.holdout, now)

    st.subheader("Expected outcome")
    money = now.currency
    e1, e2 = st.columns(2)
    cost = e1.number_input(f"Cost per e-mail ({money})", 0.0, 100.0, now.cost_per_email, 0.001,
                           format="%.3f", key="reach_cost",
                           on_change=save_on_change, args=(ws, "cost_per_email", "reach_cost"),
                           help="Kept for the workspace and saved with the campaign; the Funnel "
                                "uses it.")
    discount = e2.number_input(f"Discount value per redeemed coupon ({money})", 0.0, 10_000.0,
                               now.discount_value, 0.5, key="reach_discount",
                               on_change=save_on_change,
                               args=(ws, "discount_value", "reach_discount"))
    per_band = r.treatment_by_band()
    fc = ui.expected_outcome(root, ws.name, campaigns,
                             tuple((str(k), int(v)) for k, v in per_band.items()), tuple(bands),
                             mode.value, float(cost), float(discount))
    if not fc.has_history:
        st.info(fc.message)
    else:
        t = fc.totals
        f = st.columns(4)
        f[0].metric("Expected redemptions", f"{t.redemptions:,.0f}",
                    help=f"{t.confidence:.0%} range {t.redemptions_low:,.0f}–"
                         f"{t.redemptions_high:,.0f}")
        f[1].metric("Expected revenue", format_money(t.revenue, money),
                    help=f"range {format_money(t.revenue_low, money)}–"
                         f"{format_money(t.revenue_high, money)}")
        f[2].metric("Cost", format_money(t.cost, money),
                    help="E-mails sent plus discounts redeemed.")
        f[3].metric("ROI", "n/a" if t.roi != t.roi else f"{t.roi:.0%}",
                    help=f"range {t.roi_low:.0%}–{t.roi_high:.0%}"
                    if t.roi_low == t.roi_low else None)
        st.caption(fc.message + f" Ranges: {t.confidence:.0%}.")

    st.subheader("Target list")
    actor = current_actor()
    if not allows(actor.role, "download"):
        st.info(role_note(actor, "download target lists or save campaigns"))
        return
    o1, o2, o3 = st.columns([2, 2, 1])
    start_default = dt.date.today() + dt.timedelta(days=7)
    offer = o1.date_input("Offer window (codes valid in store)",
                          (start_default, start_default + dt.timedelta(days=2)),
                          key="reach_offer", persist_state="session")
    name = o2.text_input("Campaign name", key="reach_campaign_name", persist_state="session",
                         placeholder="e.g. Spring weekend")
    bom = o3.checkbox("CSV for Excel (BOM)", key="reach_bom", persist_state="session",
                      help="For opening in a spreadsheet: a byte-order mark, and cells that would "
                           "run as formulas get a leading '. Leave it off for the Mailchimp and "
                           "Klaviyo files you upload: they keep every address as it is.")
    if not isinstance(offer, (tuple, list)) or len(offer) != 2:
        st.warning("Pick the last day of the offer window to enable downloads and saving.")
        return
    offer_start, offer_end = offer[0].isoformat(), offer[1].isoformat()
    with st.expander("Demand per store per day of the offer window"):
        with shown_inline("Could not forecast the daily demand"):
            market.daily_section(fc, r.per_band, offer_start, offer_end, root=str(root), ws=ws.name,
                                 campaigns=campaigns)
    params = campaign_plan.params()
    listed, bands_listed = r, bands
    if ring_delta is not None:
        bands_listed = [*bands, limit + ring_delta]
        listed = index.at(bands_listed, holdout=campaign_plan.holdout, seed=campaign_plan.seed)
        params = {**params, "bands": bands_listed, "prospects_ring": [limit, limit + ring_delta]}
        st.caption(market.ring_label(limit, ring_delta, unit))
    d = ui.draft(ui.selection_key(ws=ws.name, cv=cv, sv=sv, sup=sup_key, offer=[offer_start,
                                                                                 offer_end],
                                  **params),
                 lambda: ring_tagged(build_target_list(listed.targets, stores_on_map, mode=mode.value,
                                                       offer_start=offer_start, offer_end=offer_end,
                                                       existing_codes=existing_codes(ws)),
                                     limit, ring_delta, mode.value))
    stem = name.strip() or "targets"
    dl = st.columns(5)
    dl[0].download_button("Target list (CSV)", key="reach_dl_csv", on_click="ignore",
                          data=lambda: download(d.targets(), layout="targets", fmt="csv", bom=bom,
                                                actor=actor, workspace=ws),
                          file_name=download_name(stem, fmt="csv"), mime="text/csv")
    dl[1].download_button("Target list (XLSX)", key="reach_dl_xlsx", on_click="ignore",
                          data=lambda: download(d.targets(), layout="targets", fmt="xlsx",
                                                actor=actor, workspace=ws),
                          file_name=download_name(stem, fmt="xlsx"),
                          mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    dl[2].download_button("Mailchimp (CSV)", key="reach_dl_mailchimp", on_click="ignore",
                          data=lambda: download(d.targets(), layout="mailchimp", fmt="csv", bom=bom,
                                                actor=actor, workspace=ws),
                          file_name=download_name(stem, layout="mailchimp"), mime="text/csv")
    dl[3].download_button("Klaviyo (CSV)", key="reach_dl_klaviyo", on_click="ignore",
                          data=lambda: download(d.targets(), layout="klaviyo", fmt="csv", bom=bom,
                                                actor=actor, workspace=ws),
                          file_name=download_name(stem, layout="klaviyo"), mime="text/csv")
    dl[4].download_button(
        "Catchments (GeoJSON)", key="reach_dl_geojson", on_click="ignore",
        data=lambda: to_geojson(engine.rings(sel, tuple(bands)) if radius else
                                engine.travel_catchments(sel, tuple(bands))),
        file_name=f"{stem.lower().replace(' ', '-')}-catchments.geojson",
        mime="application/geo+json")
    st.caption("Coupon codes are drawn once for this selection: the downloads and the saved "
               "campaign carry the same codes. Holdout members are listed and marked, never "
               "given a code, and left out of the Mailchimp and Klaviyo files.")
    if len(listed.second_records):
        st.download_button(
            f"Second records of an address ({len(listed.second_records):,}) as CSV",
            key="reach_dl_second", on_click="ignore",
            data=lambda: to_csv_bytes(listed.second_records, bom=bom),
            file_name=download_name(f"{stem} second records", fmt="csv"), mime="text/csv",
            help="Records left out because another record of the same address represents it "
                 "(represented_by): the address is targeted once, at its nearest store.")
    if st.button("Save campaign", key="reach_save", type="primary", disabled=not name.strip()):
        try:
            targets = d.targets() if d.saved_as in (None, name.strip()) else d.redraw()
            saved = save_campaign(ws, name, targets, params, overwrite=d.saved_as == name.strip(),
                                  actor=actor)
            d.saved_as = saved.name
            st.success(f"Saved campaign {saved.name!r}: {saved.meta['counts']['treatment']:,} "
                       f"treatment, {saved.meta['counts']['holdout']:,} holdout, offer "
                       f"{offer_start} to {offer_end}.")
        except GeoError as exc:
            st.error(f"Could not save the campaign: {exc}", icon="⚠️")


with live:
    live_panel()
