"""Export: upload a saved campaign's consented treatment members to an email provider."""

import streamlit as st

from geo.access import allows
from geo.export import (
    ExportError,
    ExportJournal,
    dry_run,
    journal_path,
    journal_state,
    list_mode,
    manual_import_csv,
    run_export,
)
from geo.export.downloads import download_name
from ui import export as ux
from ui.auth import current_actor, role_note
from ui.automation import ads_section, automation_section
from ui.errors import shown_as_message
from ui.page import start_page

page = start_page("Export")
actor = current_actor()
ws, root = page.ws, page.root
journal = journal_path(ws)

st.caption("Uploads a saved campaign to your email provider: only treatment members with consent "
           "are sent; the holdout never leaves this app. Nothing is sent before a dry run and "
           "your confirmation, and every recipient's state is journaled, so an interrupted "
           "export resumes without sending anyone twice.")

automation_section(ws)   # issue 16: sync rules for new leads and their runs
ads_section(ws)          # issue 16: hashed ad audiences and local pins

campaigns = ws.list_campaigns()
if not campaigns:
    st.info("This workspace has no saved campaign yet: build and save one on the "
            "Reach & targets page.")
    st.stop()

left, right = st.columns(2)
campaign = left.selectbox("Campaign", campaigns[::-1], key="export_campaign",
                          persist_state="session", help="Saved campaigns, newest first.")
provider = right.selectbox("Provider", list(ux.PROVIDER_LABELS), key="export_provider",
                           format_func=ux.PROVIDER_LABELS.get, persist_state="session")
label, word = ux.PROVIDER_LABELS[provider], ux.LIST_WORDS[provider]

options = {}
if provider == "mailchimp":
    options["status_if_new"] = st.radio(
        "New addresses join the audience as", ["subscribed", "pending"], horizontal=True,
        key="export_mailchimp_status", persist_state="session",
        format_func={"subscribed": "subscribed (consent is in the list)",
                     "pending": "pending (Mailchimp sends a double opt-in email)"}.get,
        help="Existing members always keep their status: unsubscribed or cleaned members "
             "are never re-subscribed.")

with shown_as_message("Could not load the campaign"):
    version = ux.campaign_version(ws, campaign)
    targets = ux.campaign_targets(root, ws.name, campaign, version,
                                  ws.table_version("customers"))
with shown_as_message(f"{label} settings"):
    access = ux.provider_access(provider)
    adapter = ux.adapter_for(access, **options)

st.subheader("Field mapping")
with shown_as_message("Could not read the campaign's travel mode"):
    travel_mode = list_mode(targets)   # radius campaigns send km, the others minutes
st.dataframe(adapter.planned_fields(travel_mode).rename(columns={
    "field": "our field", "provider_field": f"{label} field", "native": f"built into {label}"}),
    hide_index=True)

with st.expander("No API access? Download the manual-import CSV"):
    st.caption(f"{label}'s import layout with the same recipients as the upload: consented "
               "treatment members only, holdout left out.")
    if not allows(actor.role, "download"):
        st.info(role_note(actor, "download target lists"))
    st.download_button(f"Download the {label} import CSV",
                       data=lambda: manual_import_csv(targets, provider, actor=actor, workspace=ws),
                       file_name=download_name(campaign, layout=f"{provider}-import"),
                       mime="text/csv", on_click="ignore", key="export_manual_csv",
                       disabled=not allows(actor.role, "download"))

if journal.exists():
    with st.expander("Export history of this workspace"), \
            shown_as_message("Could not read the export journal"), ExportJournal(journal) as jr:
        st.caption("One row per export and destination: provider, API root, account (a "
                   "fingerprint of its API key) and list.")
        st.dataframe(jr.exports(), hide_index=True)

st.subheader(f"Upload to {label}")
if access.ready:
    if access.base_url:
        st.caption(f"Using the API root set in `{ux.base_url_setting(provider)}`.")
    with shown_as_message(f"Could not read the {label} {word}s"):
        lists = ux.provider_lists(provider, access.base_url, access.key_digest(), access)
    if lists.empty:
        st.warning(f"{label} has no {word} for this API key: create one in {label} first.")
        st.stop()
    names, labels = dict(zip(lists["id"], lists["name"], strict=True)), ux.list_labels(lists)
    pick, refresh = st.columns([4, 1], vertical_alignment="bottom")
    list_id = pick.selectbox(f"{label} {word}", list(labels), key=f"export_list_{provider}",
                             format_func=labels.get)
    if refresh.button(f"Refresh {word}s", key="export_refresh_lists"):
        ux.provider_lists.clear()
        st.rerun()
    with shown_as_message(f"{label} settings"):
        destination = adapter.destination(list_id)  # the journal's key: API root, account, list
else:
    st.warning(access.missing_message(), icon="🔑")
    list_id, destination = ux.NO_LIST, None
    names = {list_id: f"(your {label} {word})"}
selection = (ws.name, campaign, version, ws.table_version("customers"), destination,
             tuple(sorted(options.items())))
if st.button("Dry run", key="export_dry_run", help="Shows what would be sent; sends nothing "
                                                   "and needs no API key."):
    with shown_as_message("Dry run failed"):
        ux.remember("plan", selection, dry_run(targets, adapter, list_id, journal=journal).summary)
plan = ux.recall("plan", selection)
if plan is None:
    st.info("Start with a dry run: it counts the recipients and shows the payload, "
            "and sends nothing.")
    st.stop()

st.markdown(f"**Dry run** · {label} {word} *{names[list_id]}* · nothing was sent")
m = st.columns(5)
m[0].metric("Recipients to upload", f"{plan['recipients']:,}")
m[1].metric("Held out (never exported)", f"{plan['excluded']:,}")
m[2].metric("Refused", f"{plan['refused']:,}",
            help="No consent on some record of the address, or a second record of an address.")
m[3].metric("Invalid addresses", f"{plan['failed']:,}")
m[4].metric("Batches", f"{plan['batches']:,}",
            help=f"Up to {plan['batch_size']:,} recipients per {label} request.")
if plan["skip_reasons"]:
    st.markdown("Not uploaded:\n" + "\n".join(f"- {why}: {n:,}"
                                              for why, n in plan["skip_reasons"].items()))
with st.expander("Recipients per store"):
    st.dataframe(ux.per_store_table(plan["per_store"], targets), hide_index=True)
st.markdown(f"Custom fields created in {label} if missing: " + ", ".join(
    f"`{f['provider_field']}`" for f in plan["fields"] if not f["native"]))
with st.expander("Sample payload (emails masked)"):
    st.json(plan["sample_payload"], expanded=True)
for note in plan["notes"]:
    st.caption(note)
if not access.ready:
    st.info(f"**Next step:** {ux.next_step(provider)} Then reload this page to choose the "
            f"{word} and upload. Or download the manual-import CSV above and import it in "
            f"{label} yourself.")
    st.stop()

state = journal_state(journal, plan["export_id"], destination)
still_open = state.get("pending", 0) + state.get("sent", 0)
if still_open:
    st.warning(f"An earlier run of this export stopped with {still_open:,} recipients still "
               f"to send ({state.get('accepted', 0):,} accepted, {state.get('failed', 0):,} "
               "failed). Resuming sends only those; nobody is sent twice.")
elif state:
    st.info(f"This export already finished ({state.get('accepted', 0):,} accepted, "
            f"{state.get('failed', 0):,} failed): running it again sends nothing.")

if not allows(actor.role, "export"):
    st.info(role_note(actor, "export to providers"))
    st.stop()
confirmed = st.checkbox(f"I confirm: upload {plan['recipients']:,} recipients to the {label} "
                        f"{word} {names[list_id]}", key=f"export_confirm_{plan['export_id']}")
if st.button("Resume export" if still_open else "Export now", type="primary",
             disabled=not confirmed, key="export_run"):
    bar = st.progress(0.0, text=f"Preparing the {label} fields…")

    def show_progress(done: int, total: int) -> None:
        """Move the progress bar to ``done`` of ``total`` recipients."""
        bar.progress(done / total if total else 1.0, text=f"{done:,} of {total:,} recipients done")

    try:
        with adapter:
            result = run_export(targets, adapter, list_id, journal=journal, progress=show_progress,
                                actor=actor, workspace=ws)
    except ExportError as exc:
        ux.remember("run", selection, str(exc))
    else:
        bar.progress(1.0, text="Finished")
        ux.remember("run", selection, result)
    st.rerun()

run = ux.recall("run", selection)
if isinstance(run, str):
    st.error(f"The export stopped: {run}. What was done is kept in the journal; "
             "press **Resume export** to continue.", icon="⚠️")
elif run is not None:
    s = run.summary
    st.markdown(f"**Result** · {label} {word} *{names[list_id]}*")
    r = st.columns(5)
    r[0].metric("Accepted", f"{s['accepted']:,}")
    r[1].metric("Failed", f"{s['failed']:,}")
    r[2].metric("Refused", f"{s['refused']:,}")
    r[3].metric("Held out", f"{s['excluded']:,}")
    r[4].metric("Still open", f"{s['open']:,}")
    if not s["sent_requests"]:
        st.info("This export had already finished: nothing was sent again.")
    elif s["complete"]:
        st.success(f"Export complete: {s['accepted']:,} recipients are in {names[list_id]}.")
    if s["fields_created"]:
        st.caption("Created in " + label + ": " + ", ".join(f"`{f}`" for f in s["fields_created"]))
    for note, n in s["accepted_notes"].items():
        st.caption(f"{n:,} accepted with a note: {note}")
    if s["failures"]:
        st.markdown("Failures (first 20; all are in the report):")
        st.dataframe(s["failures"], hide_index=True)
    st.download_button("Download the report (CSV)", data=run.report_csv(),
                       file_name=download_name(campaign, layout=f"{provider}-report"),
                       mime="text/csv", on_click="ignore", key="export_report")
