"""AppTest: the Data & workspaces page (workspaces, uploads, mapping, reports, persistence)."""

from __future__ import annotations

import io
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest

from geo.data.columns import suggest_mapping
from geo.data.ingest import bad_rows_csv, check_file, problem_counts, report_summary
from geo.data.inventory import workspace_inventory
from geo.data.schema import CUSTOMERS
from geo.views.summary import headline_counts
from geo.workspace import create_workspace, list_workspaces, open_workspace
from tests.conftest import APP, run_app

PAGE = "app_pages/data.py"
DATA = Path(__file__).parent / "data" / "import"


@pytest.fixture()
def data_root(demo_root, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo data root (the page creates and deletes workspaces)."""
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    monkeypatch.setenv("GEO_DATA_DIR", str(root))
    return root


def crm_customers(root: Path, n: int = 40, bad: int = 3) -> bytes:
    """Demo customers re-headed like a CRM export; ``Mail Addr`` matches no e-mail synonym."""
    df = pd.read_csv(root / "demo" / "customers.csv", dtype=str).head(n)
    df = df.rename(columns={"customer_id": "Kunden-Nr", "email": "Mail Addr",
                            "first_name": "First Name", "lat": "Latitude", "lon": "Longitude",
                            "opted_in": "Newsletter", "segment": "Tier"})
    df.loc[: bad - 1, "Mail Addr"] = [f"not-an-email-{i}" for i in range(bad)]
    return df.to_csv(index=False, sep=";").encode("utf-8")


ADDRESSES = ("customer_id,email,first_name,lat,lon,opted_in,address,postcode,city\n"
             "1,a@x.com,A,60.17,24.94,yes,,,\n"
             "2,b@x.com,B,,,yes,Mannerheimintie 20,00100,Helsinki\n").encode()


def open_data_page():
    """The Data page alone, in a fresh session.

    After ``switch_page`` AppTest runs the page script without the entry point
    (so without the sidebar); starting on the page keeps ``workspace`` a plain
    session value that the page's buttons set, as the sidebar does in the app.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=180)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def upload(at, name: str, payload: bytes, kind: str = "customers"):
    at.radio(key="data_kind").set_value(kind).run()
    at.file_uploader(key="data_upload").upload(name, payload, "text/csv").run()
    assert not at.exception, at.exception
    return at


def mapping_box(at, field: str):
    return next(s for s in at.selectbox if s.label in (field, f"{field} *"))


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expect_summary(at, summary: dict[str, int]) -> None:
    shown = metrics(at)
    assert shown["Rows read"] == f"{summary['rows']:,}"
    assert shown["Good rows"] == f"{summary['valid']:,}"
    assert shown["Rejected rows"] == f"{summary['rejected']:,}"
    assert shown["Problems"] == f"{summary['problems']:,}"


# --- render ------------------------------------------------------------------------------
def test_page_lists_workspaces_from_geo(data_root):
    at = open_data_page()
    shown = at.dataframe[0].value
    expected = workspace_inventory(data_root)
    assert list(shown["workspace"]) == list(expected["workspace"]) == ["demo"]
    assert shown["customers"].tolist() == expected["customers"].tolist()
    assert shown["stores"].tolist() == expected["stores"].tolist()
    assert shown["campaigns"].tolist() == [1]
    assert "Import a file into “demo”" in [s.value for s in at.subheader]


# --- upload, mapping, import -------------------------------------------------------------
def test_replace_asks_first_shows_the_diff_and_can_be_undone(data_root):
    demo = pd.read_csv(data_root / "demo" / "customers.csv", dtype=str)
    small = demo.head(30).copy()
    small.loc[0, "first_name"] = "Renamed"
    extra = small.head(3).assign(customer_id=["N1", "N2", "N3"],
                                 email=["n1@example.com", "n2@example.com", "n3@example.com"])
    payload = pd.concat([small, extra]).to_csv(index=False).encode()
    at = upload(open_data_page(), "small.csv", payload)
    at.radio(key="data_mode").set_value("replace").run()
    assert at.button(key="data_import").disabled          # not before the user confirms
    at.button(key="data_check").click().run()
    planned = next(i.value for i in at.info if i.value.startswith("Checked only"))
    assert "3 new, 1 updated, 29 unchanged, 19,970 removed" in planned
    assert len(open_workspace("demo", data_root).load_table("customers")) == 20_000
    at.checkbox(key="data_replace_confirm").check().run()
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    ws = open_workspace("demo", data_root)
    assert len(ws.load_table("customers")) == 33
    at.button(key="data_undo_customers").click().run()
    assert not at.exception, at.exception
    restored = ws.load_table("customers")
    assert len(restored) == 20_000 and restored["first_name"].iloc[0] == demo["first_name"].iloc[0]
    assert any("Undid the import of small.csv" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "data_undo_customers"]  # one level of undo



def test_upload_shows_detected_mapping_and_a_hand_mapping_imports(data_root):
    payload = crm_customers(data_root)
    at = upload(open_data_page(), "crm.csv", payload)
    suggested = suggest_mapping(pd.read_csv(data_root / "demo" / "customers.csv", nrows=0)
                                .rename(columns={"email": "Mail Addr"}).columns, CUSTOMERS)
    assert "email" not in suggested                      # nothing matches "Mail Addr"
    assert mapping_box(at, "email").value is None
    assert mapping_box(at, "customer_id").value is None  # "Kunden-Nr" is not a synonym either
    assert mapping_box(at, "lat").value == "Latitude"
    assert mapping_box(at, "opted_in").value == "Newsletter"
    assert mapping_box(at, "segment").value == "Tier"
    assert any("email" in w.value and "customer_id" in w.value for w in at.warning)
    assert at.button(key="data_import").disabled

    mapping_box(at, "email").set_value("Mail Addr").run()
    mapping_box(at, "customer_id").set_value("Kunden-Nr").run()
    assert not at.warning and not at.button(key="data_import").disabled
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception

    mapping = {"customer_id": "Kunden-Nr", "email": "Mail Addr", "first_name": "First Name",
               "lat": "Latitude", "lon": "Longitude", "opted_in": "Newsletter",
               "unsubscribed": "unsubscribed", "segment": "Tier",
               "online_orders_12m": "online_orders_12m", "last_order_date": "last_order_date",
               "location_source": "location_source"}
    expected = check_file(payload, "customers", name="crm.csv", mapping=mapping)
    summary = report_summary(expected)
    assert summary["valid"] == 37 and summary["problems"] == 3
    expect_summary(at, summary)
    stored = open_workspace("demo", data_root).load_table("customers")
    assert len(stored) == 20_000  # add and update (the default): the 37 were already stored
    done = next(s.value for s in at.success if "Stored 37 customers" in s.value)
    assert "0 new" in done and "0 removed" in done and "20,000 customers are stored" in done
    errors = at.dataframe[-1].value
    assert errors["row"].tolist() == expected.errors["row"].tolist() == [2, 3, 4]
    assert set(errors["column"]) == {"email"}
    assert at.get("download_button")[0].proto.label.startswith("Download the bad rows")
    # the mapping is remembered in the workspace and offered again for the next file
    at.file_uploader(key="data_upload").clear().run()
    at.file_uploader(key="data_upload").upload("crm2.csv", payload, "text/csv").run()
    assert mapping_box(at, "email").value == "Mail Addr"


def test_choosing_a_column_already_used_moves_it(data_root):
    at = upload(open_data_page(), "crm.csv", (DATA / "crm_export_synonyms.csv").read_bytes())
    assert mapping_box(at, "email").value == "Email Address"
    mapping_box(at, "first_name").set_value("Email Address").run()
    assert mapping_box(at, "first_name").value == "Email Address"
    assert mapping_box(at, "email").value is None
    assert any("email" in w.value for w in at.warning)


def test_check_only_reports_every_bad_row_and_stores_nothing(data_root):
    ws = open_workspace("demo", data_root)
    before = ws.table_version("customers")
    payload = (DATA / "every_problem.csv").read_bytes()
    at = upload(open_data_page(), "every_problem.csv", payload)
    at.button(key="data_check").click().run()
    assert not at.exception, at.exception
    expected = check_file(payload, "customers", name="every_problem.csv")
    expect_summary(at, report_summary(expected))
    counts, errors = at.dataframe[-2].value, at.dataframe[-1].value
    assert counts["rows"].tolist() == problem_counts(expected)["rows"].tolist()
    assert errors[["row", "reason"]].values.tolist() == \
        expected.errors[["row", "reason"]].values.tolist()
    assert any("nothing was stored" in i.value for i in at.info)
    assert ws.table_version("customers") == before
    # the bytes the download button serves: the bad rows as they were, with their reasons
    bad = pd.read_csv(io.BytesIO(bad_rows_csv(payload, expected)), dtype=str)
    assert sorted(bad["row"].astype(int).unique()) == sorted(expected.errors["row"].unique())


def test_a_failing_file_never_drops_stored_data(data_root):
    ws = open_workspace("demo", data_root)
    before = ws.table_version("customers")
    n_before = len(ws.load_table("customers"))
    all_bad = b"customer_id,email,first_name,lat,lon,opted_in\n1,nope,A,60.1,24.9,yes\n" \
              b"2,,B,999,24.9,yes\n"
    at = upload(open_data_page(), "all_bad.csv", all_bad)
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert metrics(at)["Good rows"] == "0"
    assert any("nothing was stored" in e.value for e in at.error)
    assert ws.table_version("customers") == before

    at.file_uploader(key="data_upload").clear().run()
    upload(at, "garbage.csv", (DATA / "empty.csv").read_bytes())
    assert any("Could not read garbage.csv" in e.value for e in at.error)
    assert len(ws.load_table("customers")) == n_before


def test_events_import_into_the_demo_campaign(data_root):
    ws = open_workspace("demo", data_root)
    campaign = ws.list_campaigns()[0]
    payload = (data_root / "demo" / "campaign" / "events.csv").read_bytes()
    lines = payload.decode().splitlines()
    small = ("\n".join(lines[:201]) + "\n").encode()
    at = upload(open_data_page(), "events.csv", small, kind="events")
    at.selectbox(key="data_campaign").set_value(campaign).run()
    before = len(ws.load_campaign_file(campaign, "events"))
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert metrics(at)["Good rows"] == "200"
    assert len(ws.load_campaign_file(campaign, "events")) == before  # all 200 already stored
    assert any(campaign in s.value and "0 new" in s.value and "200 unchanged" in s.value
               for s in at.success)
    at.radio(key="data_mode").set_value("replace").run()
    at.checkbox(key="data_replace_confirm").check().run()
    at.button(key="data_import").click().run()
    assert len(ws.load_campaign_file(campaign, "events")) == 200


def test_geocoding_offline_gives_a_clear_message(data_root, monkeypatch):
    with socket.socket() as s:   # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GEO_GEOCODER_DOMAIN", f"127.0.0.1:{port}")
    monkeypatch.setenv("GEO_GEOCODER_SCHEME", "http")
    at = upload(open_data_page(), "addresses.csv", ADDRESSES)
    assert mapping_box(at, "address").value == "address"
    at.radio(key="data_geocode").set_value("address").run()
    assert at.text_input(key="data_geocoder_url").value == f"http://127.0.0.1:{port}"
    at.button(key="data_check").click().run()
    assert not at.exception, at.exception
    assert any("could not be used" in w.value for w in at.warning)
    assert metrics(at)["Good rows"] == "1"
    errors = at.dataframe[-1].value
    assert errors["row"].tolist() == [3]
    assert errors["reason"].iloc[0].startswith("not located")


# --- workspaces --------------------------------------------------------------------------
def test_create_switch_and_delete_a_workspace(data_root):
    at = open_data_page()
    at.text_input(key="data_new_workspace").input("Spring 2027")
    at.button(key="data_create").click().run()
    assert not at.exception, at.exception
    assert at.session_state["workspace"] == "Spring 2027"
    assert "Import a file into “Spring 2027”" in [s.value for s in at.subheader]
    assert "Spring 2027" in list_workspaces(data_root)

    at.text_input(key="data_new_workspace").input("bad/name")
    at.button(key="data_create").click().run()
    assert any("Could not create the workspace" in e.value for e in at.error)

    at.selectbox(key="data_switch_to").set_value("demo").run()
    at.button(key="data_switch").click().run()
    assert at.session_state["workspace"] == "demo"
    assert "Import a file into “demo”" in [s.value for s in at.subheader]

    ws = open_workspace("Spring 2027", data_root)
    ws.save_table("customers", open_workspace("demo", data_root).load_table("customers"))
    create_workspace("Other", data_root)
    at.run()
    at.selectbox(key="data_delete_which").set_value("Other").run()
    at.checkbox(key="data_delete_confirm").check().run()
    assert not at.button(key="data_delete").disabled
    at.selectbox(key="data_delete_which").set_value("Spring 2027").run()
    assert not at.checkbox(key="data_delete_confirm").value   # confirmation is per choice
    assert at.button(key="data_delete").disabled
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete").click().run()
    assert not at.exception, at.exception
    assert not ws.path.exists()
    assert "Spring 2027" not in list_workspaces(data_root)
    assert "Spring 2027" not in at.dataframe[0].value["workspace"].tolist()
    assert any("Deleted workspace “Spring 2027”" in s.value for s in at.success)


def test_deleting_the_active_workspace_removes_every_file_and_falls_back_to_the_demo(data_root,
                                                                                    monkeypatch):
    at = open_data_page()
    at.text_input(key="data_new_workspace").input("Doomed")
    at.button(key="data_create").click().run()
    for kind, name in (("stores", "stores.csv"), ("customers", "customers.csv")):
        at.file_uploader(key="data_upload").clear().run()
        upload(at, name, (data_root / "demo" / name).read_bytes(), kind=kind)
        at.button(key="data_import").click().run()
        assert not at.exception, at.exception
    ws = open_workspace("Doomed", data_root)
    # a geocoding cache is one more file the workspace owns
    monkeypatch.setenv("GEO_GEOCODER_DOMAIN", "127.0.0.1:9")
    monkeypatch.setenv("GEO_GEOCODER_SCHEME", "http")
    at.file_uploader(key="data_upload").clear().run()
    upload(at, "addresses.csv", ADDRESSES)
    at.radio(key="data_geocode").set_value("address").run()
    at.button(key="data_check").click().run()
    assert not at.exception, at.exception
    files = [p for p in ws.path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"customers.parquet", "stores.parquet", "workspace.json",
                                       "geocode-cache.sqlite"}
    others = {p for p in data_root.rglob("*") if p.is_file()} - set(files)

    at.selectbox(key="data_delete_which").set_value("Doomed").run()
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete").click().run()
    assert not at.exception, at.exception
    assert not ws.path.exists()
    assert not any(p.exists() for p in files)
    assert {p for p in data_root.rglob("*") if p.is_file()} == others   # nothing else touched
    assert at.session_state["workspace"] == "demo"
    assert "Import a file into “demo”" in [s.value for s in at.subheader]


def test_recreate_the_demo(data_root):
    ws = open_workspace("demo", data_root)
    ws.save_table("customers", ws.load_table("customers").head(10))
    at = open_data_page()
    assert at.dataframe[0].value["customers"].tolist() == [10]
    at.button(key="data_demo").click().run()
    assert not at.exception, at.exception
    assert any("re-created" in s.value for s in at.success)
    assert len(ws.load_table("customers")) > 10
    assert at.dataframe[0].value["customers"].tolist() == [len(ws.load_table("customers"))]


# --- persistence -------------------------------------------------------------------------
def test_imports_survive_an_app_restart(data_root):
    first = open_data_page()
    first.text_input(key="data_new_workspace").input("Kept")
    first.button(key="data_create").click().run()
    for kind, name in (("stores", "stores.csv"), ("customers", "customers.csv")):
        first.file_uploader(key="data_upload").clear().run()
        upload(first, name, (data_root / "demo" / name).read_bytes(), kind=kind)
        first.button(key="data_import").click().run()
        assert not first.exception, first.exception
    del first

    # a new session, as after a server restart: only the disk is shared
    second = run_app()
    assert not second.exception, second.exception
    assert "Kept" in second.sidebar.selectbox(key="workspace").options
    second.sidebar.selectbox(key="workspace").set_value("Kept").run()
    ws = open_workspace("Kept", data_root)
    counts = headline_counts(ws.load_table("customers"), ws.load_table("stores"))
    assert counts["customers"] == 20_000 and counts["stores"] == 8
    shown = metrics(second)
    assert shown["Customers"] == f"{counts['customers']:,}"
    assert shown["Stores"] == f"{counts['stores']:,}"

    # and the Data page of a third session, with "Kept" chosen, lists what was imported
    from streamlit.testing.v1 import AppTest

    third = AppTest.from_file(str(APP), default_timeout=180)
    third.session_state["workspace"] = "Kept"
    third.switch_page(PAGE).run()
    assert not third.exception, third.exception
    history = third.dataframe[1].value
    assert history["kind"].tolist() == ["customers", "stores"]
    assert history["valid"].tolist() == [20_000, 8]
    inv = third.dataframe[0].value.set_index("workspace")
    assert inv.loc["Kept", "customers"] == 20_000
    assert "Import a file into “Kept”" in [s.value for s in third.subheader]
