"""Data & workspaces: keep named workspaces on disk; import customers, stores and campaign files."""

from functools import partial

import streamlit as st

from geo.data.columns import mappable_fields
from geo.data.ingest import (
    KIND_SCHEMAS,
    bad_rows_csv,
    can_undo_import,
    import_file,
    import_history,
    preview_import,
    problem_counts,
    proposed_mapping,
    report_summary,
    schema_for,
    shared_addresses_csv,
)
from geo.data.inventory import workspace_inventory
from geo.data.layouts import LAYOUTS
from geo.demo.build import REGIONS, install_demo
from geo.workspace import DEMO, list_workspaces
from ui import data as ui
from ui.audit import show_audit_trail
from ui.auth import current_actor
from ui.errors import shown_as_message
from ui.page import start_page

page = start_page("Data & workspaces")
ws, root = page.ws, page.ws.root
ui.show_flash()

# --- workspaces ---------------------------------------------------------------------------
st.subheader("Workspaces")
st.caption(f"Active workspace: **{ws.name}**. Each workspace keeps its tables (Parquet), "
           "settings and campaigns in its own folder on disk, so they survive a restart.")
st.dataframe(workspace_inventory(root), hide_index=True,
             column_config={"size_mb": st.column_config.NumberColumn("size (MB)", format="%.2f")})

names = list_workspaces(root)
new_col, switch_col, delete_col, demo_col = st.columns(4)
with new_col:
    st.text_input("New workspace", key=ui.NEW_NAME, placeholder="e.g. Spring 2027",
                  help="Letters, digits, spaces, '.', '_' or '-' (up to 64).")
    st.button("Create and switch", key="data_create", on_click=ui.create_and_switch,
              args=(str(root),))
with switch_col:
    others = [n for n in names if n != ws.name]
    target = st.selectbox("Switch to", others, index=None, key=ui.SWITCH_TO,
                          placeholder="Choose a workspace")
    st.button("Switch", key="data_switch", disabled=target is None, on_click=ui.switch_to,
              args=(target,))
with delete_col:
    doomed = st.selectbox("Delete", [n for n in names if n != DEMO], index=None,
                          key=ui.DELETE_WHICH, placeholder="Choose a workspace",
                          on_change=ui.reset_confirmation,
                          help="The demo cannot be deleted; re-create it instead.")
    sure = st.checkbox("Yes, delete it and every file it owns", key=ui.DELETE_CONFIRM,
                       disabled=doomed is None)
    st.button("Delete workspace", key="data_delete", type="primary",
              disabled=not (doomed and sure), on_click=ui.delete, args=(str(root), doomed))
with demo_col:
    demo_region = st.selectbox(
        "Demo", list(REGIONS), key="data_demo_region",
        format_func=lambda k: f"{REGIONS[k].label} ({REGIONS[k].mode}) → “{REGIONS[k].workspace}”",
        help="Real OSM shops and buildings, synthetic customers and a past campaign.")
    if st.button("Re-create the demo", key="data_demo",
                 help="Replaces that demo workspace with freshly generated data."):
        with st.spinner(f"Rebuilding the {REGIONS[demo_region].label} demo…"):
            with shown_as_message("Could not rebuild the demo"):
                current_actor().require("delete_workspace")   # issue 19: it replaces the demo
                install_demo(root, region=demo_region)
        ui.flash("success", f"The demo workspace “{REGIONS[demo_region].workspace}” was re-created.")
        st.rerun()

history = import_history(ws)
if not history.empty:
    st.caption(f"Last imports into “{ws.name}”")
    st.dataframe(history, hide_index=True)
    for undo_kind in [k for k in KIND_SCHEMAS if can_undo_import(ws, k)]:
        last = ws.settings()["imports"][undo_kind]
        st.button(f"Undo the last import of {undo_kind} ({last['file']}, {last['at']})",
                  key=f"data_undo_{undo_kind}", on_click=ui.undo, args=(ws, undo_kind),
                  help=f"Puts back the {undo_kind} table as it was before that import.")

show_audit_trail(ws)   # issue 19: who downloaded, exported, imported or deleted what

# --- import ---------------------------------------------------------------------------
st.subheader(f"Import a file into “{ws.name}”")
kind = st.radio("The file holds", list(KIND_SCHEMAS), horizontal=True, key=ui.KIND,
                format_func=ui.KIND_LABELS.get)
campaign = None
if kind in ("events", "redemptions"):
    campaign = st.selectbox(
        "Attach to campaign", [None, *ws.list_campaigns()], key=ui.CAMPAIGN,
        format_func=lambda c: "none: keep as the workspace's table" if c is None else c,
        help="The funnel reads events and redemptions from the campaign they belong to.")
upload = st.file_uploader("File: CSV (any delimiter, UTF-8 or Latin-1), XLSX, GeoJSON, "
                          "GeoPackage, GeoParquet, or a ZIP of CSVs (Mailchimp's audience "
                          "export)", type=ui.UPLOAD_TYPES, key=ui.UPLOAD)
if upload is None:
    st.caption("Shopify, Mailchimp and Klaviyo customer exports are recognised as they are; "
               "other columns are matched automatically (lat/latitude/y, email/E-mail Address, "
               "FNAME...); you can change the mapping before importing.")
    st.stop()

data = upload.getvalue()
choice = st.selectbox("Export layout", ui.layout_choices(kind), key=ui.LAYOUT,
                      format_func=ui.layout_label,
                      help="A known export is read with its own rules (consent, ids, address "
                           "cells); choose one by hand if it was not recognised.")
stores = None
if kind == "redemptions":
    with shown_as_message(f"Could not read {upload.name}"):
        labels = ui.till_locations(upload.file_id, upload.name, data)
    if labels:
        st.markdown("**Till locations → stores** (set once; kept in the workspace for the "
                    "next exports). A row whose location has no store is refused, never guessed.")
        stored_stores = ws.load_table("stores")
        store_ids = [] if stored_stores is None else stored_stores["store_id"].astype(str).tolist()
        stores = tuple(sorted(ui.store_map_editor(ws, labels, store_ids).items()))
with shown_as_message(f"Could not read {upload.name}"):
    preview, found = ui.peek_upload(upload.file_id, upload.name, data, kind, choice, stores)
layout = LAYOUTS[found] if found else None
st.markdown(ui.layout_caption(choice, found))
if layout is not None and layout.note:
    st.info(layout.note)
st.caption(f"First rows of {upload.name}")
st.dataframe(preview)

schema = schema_for(kind)
columns = [str(c) for c in preview.columns]
previous = ws.settings().get("imports", {}).get(kind, {}).get("mapping")
suggested = proposed_mapping(columns, kind, layout, previous)
st.markdown("**Column mapping** (detected automatically; change any of them; * = required; "
            "customers without a customer_id column get one from their e-mail address)")
mapping = ui.mapping_inputs(kind, f"{upload.file_id}-{found}", columns, mappable_fields(schema),
                            schema.required, suggested)
unused = [c for c in columns if c not in mapping.values()]
if unused:
    st.caption(f"Not imported: {', '.join(unused)}")
problem = ui.mapping_problem(mapping, columns, schema, upload.name)
if problem:
    st.warning(problem)

locate, locate_problem = ui.locate_inputs(ws) if "lat" in schema.names else (None, None)
if locate_problem:
    st.warning(locate_problem)
    problem = problem or locate_problem

mode = st.radio("Records already stored", ["add", "replace"], key=ui.MODE, horizontal=True,
                format_func=ui.MODE_LABELS[kind].get,
                help=ui.MODE_HELP[kind])
confirmed = True
if mode == "replace":
    confirmed = st.checkbox(f"Yes, replace: every stored {kind.removesuffix('s')} that the file "
                            "does not hold is removed (the last import can be undone)",
                            key=ui.REPLACE_CONFIRM)
check_col, import_col, stop_col, _ = st.columns([1, 1, 1, 2])
checking = check_col.button("Check only", key="data_check", disabled=problem is not None,
                            help="Validates the file and counts what an import would change; "
                                 "stores nothing.")
importing = import_col.button(f"Import into “{ws.name}”", key="data_import", type="primary",
                              disabled=problem is not None or not confirmed)
uses_server = locate is not None and locate.geocoder is not None
if uses_server and stop_col.button("Stop geocoding", key=ui.GEOCODE_STOP,
                                   help="Stops the geocoding run; every address located so "
                                        "far is kept (cached in the workspace)."):
    st.info("Geocoding stopped. The addresses located so far are kept: Check or Import again "
            "continues from there, or tick “Use only the addresses located so far” to import "
            "now with them.")
if checking or importing:
    bar = st.progress(0.0, text=f"Reading {upload.name}…")
    if uses_server and locate is not None and locate.geocoder is not None:
        locate.progress = ui.geocode_progress(bar, locate.geocoder.delay_s)
    with shown_as_message(f"Could not use {upload.name}; nothing was stored"):
        run = partial(import_file, actor=current_actor()) if importing else preview_import
        report = run(data, kind, ws, mapping, mode=mode, name=upload.name, campaign=campaign,
                     progress=ui.progress_reporter(bar, upload.name), layout=found,
                     locate=locate, store_map=None if stores is None else dict(stores))
    bar.empty()
    summary = report_summary(report)
    ui.keep_report(report, summary, kind=kind, file_id=upload.file_id, workspace=ws.name,
                   stored=importing and summary["valid"] > 0, campaign=campaign)
    if importing:
        st.rerun()  # the import history above (and its undo button) shows the new import

kept = ui.kept_report(kind, upload.file_id, ws.name)
if kept is None:
    st.stop()

report, summary = kept["report"], kept["summary"]
st.markdown(f"**Report for {report.file}**")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Rows read", f"{summary['rows']:,}")
c2.metric("Good rows", f"{summary['valid']:,}")
c3.metric("Rejected rows", f"{summary['rejected']:,}")
c4.metric("Problems", f"{summary['problems']:,}")
if report.geocoded is not None:
    g = report.geocoded
    st.caption(f"Located {g['postcode']:,} rows by postcode and {g['address']:,} by address; "
               f"{g['failed']:,} could not be located (listed below with the reason).")
if report.message:
    st.warning(report.message)
where = f"campaign “{kept['campaign']}”" if kept["campaign"] else f"workspace “{ws.name}”"
if kept["stored"]:
    st.success(f"Stored {summary['valid']:,} {kind} in {where}: "
               f"{ui.changes_text(report.changes, kind)}.")
    if kind in ("customers", "stores"):
        st.page_link("app_pages/map.py", label="See them on the map", icon="🗺️")
elif summary["valid"] == 0:
    st.error(f"No usable row in {report.file}: nothing was stored, {where} keeps its data.")
else:
    st.info(f"Checked only: nothing was stored. Importing would "
            f"{ui.changes_text(report.changes, kind, planned=True)}.")

if summary.get("shared_addresses"):
    n_records = len(report.shared)
    st.info(f"{summary['shared_addresses']:,} e-mail addresses are each held by two or more "
            f"records ({n_records:,} records in all; case and surrounding spaces ignored). Every "
            "record is kept. Such an address is e-mailed once, and only if all its records "
            "opted in and none unsubscribed.")
    st.download_button("Download the records that share an address (CSV)",
                       data=lambda: shared_addresses_csv(report),
                       file_name=f"shared-addresses-{upload.name.rsplit('.', 1)[0]}.csv",
                       mime="text/csv", key="data_shared", on_click="ignore")

if summary["problems"]:
    st.caption("Problems by kind")
    st.dataframe(problem_counts(report), hide_index=True)
    shown = min(summary["problems"], ui.ERRORS_SHOWN)
    st.caption(f"Bad rows ({shown:,} of {summary['problems']:,} problems shown; "
               "row 1 is the header)")
    st.dataframe(report.errors.head(ui.ERRORS_SHOWN), hide_index=True)
    st.download_button("Download the bad rows (CSV) to fix them",
                       data=lambda: bad_rows_csv(data, report, name=upload.name),
                       file_name=f"bad-rows-{upload.name.rsplit('.', 1)[0]}.csv",
                       mime="text/csv", key="data_bad_rows", on_click="ignore")
