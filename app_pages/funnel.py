"""Funnel: did the e-mail bring people into the store? Stages, stores, bands, segments, days, lift, anomalies.

Every number comes from `geo.funnel.campaign.analyse_campaign` (through the
cache in `ui.funnel`), which runs `geo.funnel.funnel.analyse_funnel` on the campaign's
saved targets, events and redemptions with its own window, store-wide codes and
bands. Charts come from `geo.views.charts`, tables from the same result.
"""

import streamlit as st

from geo.campaign_settings import load_settings, save_settings
from geo.data.activity import LAYOUTS
from geo.data.columns import merge_mapping
from geo.data.ingest import errors_csv
from geo.data.schema import REDEMPTIONS
from geo.funnel.attribution import anomaly_table
from geo.funnel.campaign import (
    campaign_versions,
    saved_campaign,
    store_campaign_rows,
    suggested_redemption_mapping,
    update_saved_params,
    with_store_names,
)
from geo.funnel.funnel import STAGES
from geo.funnel.lift import lift_table
from geo.modes import Mode
from geo.money import format_money
from geo.views import charts
from ui import funnel as cached
from ui.brief import brief_downloads
from ui.errors import shown_as_message, shown_inline
from ui.page import start_page

page = start_page("O2O funnel")
ws, root = page.ws, page.root

st.caption("From e-mail to till: who was sent, opened, clicked and then bought in store with "
           "their code, and how much more than the holdout who got nothing.")

campaigns = ws.list_campaigns()
if not campaigns:
    st.info("This workspace has no saved campaign yet: build a target list and save it as a "
            "campaign on the Reach & targets page, then come back with its results.")
    st.stop()

if st.session_state.get("funnel_campaign") not in campaigns:
    st.session_state.pop("funnel_campaign", None)
campaign = st.selectbox("Campaign", campaigns, index=len(campaigns) - 1, key="funnel_campaign",
                        persist_state="session",
                        help="A campaign saved in this workspace: its target list, e-mail "
                             "activity and till redemptions.")
with shown_as_message(f"Could not read campaign {campaign!r}"):
    settings = saved_campaign(ws, campaign)

window = (f"{settings.window.start:%Y-%m-%d %H:%M} to {settings.window.end:%Y-%m-%d %H:%M}"
          if settings.window else "none (no redemption is flagged as late)")
plan = load_settings(ws)
currency = settings.currency or plan.currency
bands_kind = "distance bands" if settings.mode is Mode.RADIUS else "travel-time bands"
st.caption(f"Offer window: {window} · store-wide codes: "
           f"{', '.join(settings.store_wide_codes) or 'none'} · {bands_kind}: "
           f"{', '.join(f'{b:g}' for b in settings.bands)} {settings.mode.unit} · "
           f"{settings.mode.label} · currency {currency}")
brief_downloads(ws, campaign)   # issue 16: the brief for store managers

# uploads ---------------------------------------------------------------------------------
with st.expander("Add e-mail activity or till redemptions to this campaign"):
    ev_col, red_col = st.columns(2, gap="large")
    with ev_col:
        st.markdown("**E-mail activity** (provider export)")
        layout = st.selectbox(
            "Layout", ["auto", *LAYOUTS], key="funnel_events_layout",
            help="generic: email, event, timestamp[, campaign_id]. mailchimp: campaign report "
                 "e-mail activity (Email Address, Action, Timestamp). mailchimp_members: a "
                 "report's Sent/Opened/Clicked lists or the whole report ZIP. klaviyo: event "
                 "export (Email, Metric Name, Timestamp).")
        ev_file = st.file_uploader("Activity file", type=["csv", "zip", "parquet", "xlsx", "txt"],
                                   key="funnel_events_file")
        if ev_file is not None:
            imported = None
            with shown_inline(f"Could not read {ev_file.name}"):
                imported = cached.checked_events(ev_file.getvalue(), ev_file.name, layout,
                                                 settings.sent_at, settings.campaign_id)
            if imported is not None:
                report = imported.report
                st.write(f"{imported.layout} layout: {report.rows:,} rows, "
                         f"**{len(imported.events):,} good events**, {len(report.errors):,} "
                         f"problem(s), {sum(imported.skipped.values()):,} rows skipped "
                         "(other metrics or lists).")
                if len(report.errors):
                    st.warning(f"{len(report.errors):,} problem(s) in {report.file}: those rows are "
                               "left out, the good ones can be stored.")
                    st.dataframe(report.errors.head(200), hide_index=True, key="funnel_ev_errors")
                    st.download_button("Problems as CSV", errors_csv(report),
                                       file_name="activity-problems.csv", mime="text/csv",
                                       key="funnel_ev_errors_csv", on_click="ignore")
                ev_replace = st.radio("Store as", ["Replace the campaign's events", "Add to them"],
                                      key="funnel_ev_mode", horizontal=True)
                if st.button(f"Store {len(imported.events):,} events in {campaign!r}",
                             key="funnel_ev_store", disabled=imported.events.empty,
                             type="primary"):
                    with shown_inline("Could not store the events"):
                        n = store_campaign_rows(ws, campaign, "events", imported.events,
                                                replace=ev_replace.startswith("Replace"))
                        st.success(f"The campaign now holds {n:,} events.")
    with red_col:
        st.markdown("**Till redemptions** (point of sale)")
        red_file = st.file_uploader("Redemptions file", type=["csv", "parquet", "xlsx", "txt"],
                                    key="funnel_red_file",
                                    help="coupon_code, store_id, timestamp, amount[, "
                                         "transaction_id][, customer_id (loyalty card)].")
        if red_file is not None:
            headers = None
            with shown_inline(f"Could not read {red_file.name}"):
                headers = cached.upload_headers(red_file.getvalue(), red_file.name)
            if headers is not None:
                suggested = suggested_redemption_mapping(headers)
                st.caption("Columns of your file for each field (change any that is wrong):")
                choices = {}
                for col in REDEMPTIONS.columns:
                    options = ["", *headers]
                    pick = suggested.get(col.name, "")
                    choices[col.name] = st.selectbox(
                        f"{col.name}{'' if col.required else ' (optional)'}", options,
                        index=options.index(pick), key=f"funnel_map_{col.name}")
                mapping = merge_mapping({}, choices)
                checked = None
                with shown_inline(f"Could not use {red_file.name}"):
                    checked = cached.checked_redemptions(red_file.getvalue(), red_file.name,
                                                         tuple(sorted(mapping.items())))
                if checked is not None:
                    st.write(f"{checked.rows:,} rows, **{len(checked.valid):,} good "
                             f"redemptions**, {len(checked.errors):,} problem(s).")
                    if len(checked.errors):
                        st.warning(f"{len(checked.errors):,} problem(s) in {checked.file}: those "
                                   "rows are left out, the good ones can be stored.")
                        st.dataframe(checked.errors.head(200), hide_index=True,
                                     key="funnel_red_errors")
                        st.download_button("Problems as CSV", errors_csv(checked),
                                           file_name="redemption-problems.csv", mime="text/csv",
                                           key="funnel_red_errors_csv", on_click="ignore")
                    red_replace = st.radio("Store as", ["Replace the campaign's redemptions",
                                                        "Add to them"],
                                           key="funnel_red_mode", horizontal=True)
                    if st.button(f"Store {len(checked.valid):,} redemptions in {campaign!r}",
                                 key="funnel_red_store", disabled=checked.valid.empty,
                                 type="primary"):
                        with shown_inline("Could not store the redemptions"):
                            n = store_campaign_rows(ws, campaign, "redemptions", checked.valid,
                                                    replace=red_replace.startswith("Replace"))
                            st.success(f"The campaign now holds {n:,} redemptions.")

# settings of the analysis --------------------------------------------------------------------
LIKE = "Like-for-like: loyalty-card redemptions in both groups"
ALL = "All attributed redemptions (code or card)"


COST_KEY = f"funnel_cost_per_email_{ws.name}_{campaign}"


def _save_cost() -> None:
    """The cost set here is the campaign's, and becomes the workspace's (Reach shows it too)."""
    value = float(st.session_state[COST_KEY])
    update_saved_params(ws, campaign, cost_per_email=value)
    save_settings(ws, cost_per_email=value)


c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
basis = c1.radio("Treatment vs holdout measured on", [LIKE, ALL], key="funnel_lift_basis",
                 persist_state="session",
                 help="Holdout members get no code, so their store visits are seen only when the "
                      "till records their loyalty card; treatment visits are seen through the "
                      "code as well. Like-for-like counts card-observed redemptions in both "
                      "groups; the other basis overstates the lift.")
cost = c2.number_input(f"Cost per e-mail ({currency})", min_value=0.0, step=0.001,
                       format="%.4f",
                       value=float(settings.cost_per_email if settings.cost_per_email is not None
                                   else plan.cost_per_email),
                       key=COST_KEY, on_change=_save_cost,
                       help="The campaign's own cost per e-mail (else the workspace's, which "
                            "the Reach page uses); a change here is kept with the campaign and "
                            "becomes the workspace's.")
bin_min = c3.number_input("Decay bin (minutes)", min_value=0.5, max_value=10.0, value=1.0,
                          step=0.5, key="funnel_bin_min", persist_state="session")
accept_typos = c4.toggle("Count likely typos", value=False, key="funnel_accept_typos",
                         persist_state="session",
                         help="A till code one mistyped or swapped character away from exactly "
                              "one code of this campaign is listed under Anomalies as a likely "
                              "typo. Switch this on to count it as that code.")

with shown_as_message(f"Could not analyse campaign {campaign!r}"):
    result = cached.campaign_funnel(root, ws.name, campaign, campaign_versions(ws, campaign),
                                    float(cost), float(bin_min), bool(accept_typos))

# headline ------------------------------------------------------------------------------
st.subheader("Funnel (treatment group, unique customers)")
conv = result.stage_table.set_index("stage")
cols = st.columns(len(STAGES) + 1)
for col, stage in zip(cols, STAGES, strict=False):
    step, cum = conv.loc[stage, "step_rate"], conv.loc[stage, "cumulative_rate"]
    col.metric(stage.capitalize(), f"{result.stages[stage]:,}",
               help=f"{step:.1%} of the previous stage, {cum:.1%} of targeted")
cols[-1].metric("Revenue", format_money(result.stages["revenue"], currency),
                help=f"{format_money(result.stages['revenue'], currency, decimals=2)}: the sum "
                     "of counted redemptions' amounts, "
                     "in the till's currency.")
for note in result.notes:
    st.caption(f"ℹ️ {note}")

lift = result.lift_like_for_like if basis == LIKE else result.lift
st.subheader("Treatment vs holdout")
card_share = lift.treatment_card_share
st.caption(f"Shown: **{lift.basis}**. " + (
    ("" if card_share is None else f"The till recorded the loyalty card on {card_share:.0%} "
                                   "of the treatment's redemptions. ")
    + "This basis assumes both groups show their card equally often, and its incremental "
      "figures count card-observed visits only (a lower bound)."
    if basis == LIKE else
    "Holdout visits are only seen through a loyalty card, so this basis overstates the lift."))


def _pct(x, signed=False) -> str:
    return "n/a" if x is None else (f"{x:+.2%}" if signed else f"{x:.2%}")


def _pp(x) -> str:
    return "n/a" if x is None else f"{x * 100:+.2f} pp"


low, high = lift.lift_low, lift.lift_high
m = [*st.columns(4), *st.columns(4)[:3]]
m[0].metric("Treatment rate", _pct(lift.treatment_rate),
            help=f"{lift.treatment_redeemed:,} of {lift.treatment_n:,} redeemed")
m[1].metric("Holdout rate", _pct(lift.holdout_rate),
            help=f"{lift.holdout_redeemed:,} of {lift.holdout_n:,} redeemed")
m[2].metric("Lift", _pp(lift.lift_abs),
            help=f"Percentage points; {lift.confidence:.0%} CI {_pp(low)} to {_pp(high)}; "
                 f"{lift.method}")
m[3].metric("Relative lift", _pct(lift.lift_rel, signed=True),
            help=f"{lift.confidence:.0%} CI " + "{} to {} (Katz log interval)".format(*map(
                lambda v: _pct(v, True), (lift.lift_rel_low, lift.lift_rel_high))))
m[4].metric("Incremental redemptions",
            "n/a" if lift.incremental_redemptions is None
            else f"{lift.incremental_redemptions:,.0f}",
            help="Lift times the treatment group's size.")
m[5].metric("Incremental revenue", format_money(lift.incremental_revenue, currency, decimals=2))
m[6].metric("Cost per incremental visit",
            "n/a" if lift.cost_per_incremental_visit is None or not lift.cost
            else format_money(lift.cost_per_incremental_visit, currency, decimals=4),
            help="Campaign cost (cost per e-mail x e-mails sent) / incremental redemptions; n/a "
                 "without a positive lift or a cost per e-mail.")
st.caption(f"{lift.confidence:.0%} confidence interval of the lift: {_pp(low)} to {_pp(high)} · "
           f"campaign cost {format_money(lift.cost, currency, decimals=2)}")

# details ------------------------------------------------------------------------------
tabs = st.tabs(["Funnel", "By store", "By band", "By segment", "Daily", "Holdout", "Anomalies"])
with tabs[0]:
    cached.chart_block(charts.funnel_chart(result.stage_table), result.stage_table,
                       "funnel-stages", "funnel_stages")
    st.caption("Redeemed counts every recipient who redeemed, whether or not they clicked, so "
               "its step rate can pass 100 %.")
    st.dataframe(result.stage_table, hide_index=True, key="funnel_stage_table",
                 column_config={"step_rate": st.column_config.NumberColumn(format="percent"),
                                "cumulative_rate": st.column_config.NumberColumn(format="percent")})
with tabs[1]:
    by_store = with_store_names(result.by_store, result.journeys)
    cached.chart_block(charts.store_chart(by_store, label="store_name"), by_store,
                       "funnel-by-store", "funnel_store")
    st.dataframe(by_store, key="funnel_store_table")
with tabs[2]:
    cached.chart_block(charts.breakdown_chart(result.by_band, "band", axis_title="Travel time (min)",
                                              title="Redemption rate by travel-time band"),
                       result.by_band, "funnel-by-band", "funnel_band")
    cached.chart_block(charts.decay_chart(result.decay), result.decay, "distance-decay",
                       "funnel_decay")
    st.dataframe(result.by_band, key="funnel_band_table")
with tabs[3]:
    if result.by_segment is None:
        st.info("The target list has no segment column.")
    else:
        cached.chart_block(charts.breakdown_chart(result.by_segment, "segment"),
                           result.by_segment, "funnel-by-segment", "funnel_segment")
        st.dataframe(result.by_segment, key="funnel_segment_table")
with tabs[4]:
    if result.daily.empty:
        st.info("No counted redemption yet.")
    else:
        cached.chart_block(charts.daily_chart(result.daily), result.daily, "daily-redemptions",
                           "funnel_daily")
with tabs[5]:
    rates = lift_table(lift)
    cached.chart_block(charts.holdout_chart(rates, title=f"Treatment vs holdout ({lift.basis})"),
                       rates, "treatment-vs-holdout", "funnel_holdout")
with tabs[6]:
    a = st.columns(7)
    labels = {"unknown_code": "Unknown codes", "likely_typo": "Likely typos",
              "double_redemption": "Codes redeemed twice",
              "cross_store": "At another store", "outside_window": "Outside the window",
              "holdout_redemption": "By holdout members", "holdout_contacted": "Holdout e-mailed"}
    for col, (k, label) in zip(a, labels.items(), strict=True):
        col.metric(label, f"{result.anomalies[k]:,}")
    sw = result.store_wide
    st.caption(f"Store-wide codes: {sw['redemptions']:,} redemptions "
               f"({format_money(sw['revenue'], currency, decimals=2)}), "
               f"{sw['by_recipients']:,} by known recipients, {sw['by_holdout']:,} by the holdout.")
    flagged = anomaly_table(result.attributed)
    st.dataframe(flagged, hide_index=True, key="funnel_anomaly_table")
    st.download_button("Anomalies as CSV", charts.table_csv(flagged), file_name="anomalies.csv",
                       mime="text/csv", key="funnel_anomalies_csv", on_click="ignore")
