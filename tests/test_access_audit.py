"""Roles are enforced inside the functions that write, download or export, and each such act is audited."""

from __future__ import annotations

import json

import pytest

from geo.access import ACTIONS, ROLES, AccessDenied, Actor, allows, local_actor, os_user, require
from geo.audit import audit_path, audit_table, read_audit, record
from geo.cli import main
from geo.data.ingest import import_file, undo_import
from geo.errors import GeoError
from geo.export import MailchimpAdapter, run_export
from geo.export.csv_layouts import manual_import_frame
from geo.export.downloads import download, write_download
from geo.targeting.targets import build_target_list, save_campaign
from geo.workspace import create_workspace, delete_workspace, list_workspaces
from tests.fakes import fast_policy, make_targets
from tests.fakes.mailchimp import FakeMailchimp
from tests.test_targets import STORES, reach_targets

VIEWER = Actor("Vera Viewer", "viewer", "vera@acme.test", signed_in=True)
MARKETER = Actor("Max Marketer", "marketer", "max@acme.test", signed_in=True)
ADMIN = Actor("Ada Admin", "admin", "ada@acme.test", signed_in=True)

CUSTOMERS_CSV = (b"customer_id,first_name,email,lat,lon,opted_in\n"
                 b"C1,Ann,a@example.com,42.50,1.52,true\nC2,Bob,b@example.com,42.51,1.53,true\n")


def target_list():
    """A real target list (treatment and holdout, coupon codes, offer window)."""
    return build_target_list(reach_targets(), STORES, mode="drive",
                             offer_start="2026-05-01 09:00", offer_end="2026-05-03")


def test_each_role_allows_exactly_its_actions():
    table = {role: sorted(a for a in ACTIONS if allows(role, a)) for role in ROLES}
    assert table["viewer"] == ["view"]
    assert table["marketer"] == sorted(["view", "import", "undo_import", "create_workspace",
                                        "save_campaign", "download"])
    assert table["admin"] == sorted(ACTIONS)
    with pytest.raises(AccessDenied, match="needs the admin role"):
        require("marketer", "export")
    with pytest.raises(GeoError, match="unknown action"):
        require("admin", "launch_rockets")
    assert not allows("superuser", "view")


def test_without_sign_in_the_os_user_is_an_admin():
    me = local_actor()
    assert me.role == "admin" and me.who == os_user() and not me.signed_in


def test_a_viewer_cannot_download_and_nothing_is_recorded(tmp_path):
    ws = create_workspace("team", tmp_path)
    with pytest.raises(AccessDenied, match="viewer role may not download"):
        download(target_list(), actor=VIEWER, workspace=ws)
    with pytest.raises(AccessDenied):
        write_download(target_list(), tmp_path / "t.csv", actor=VIEWER, workspace=ws)
    assert not (tmp_path / "t.csv").exists()
    assert read_audit(tmp_path, "team").events.empty


def test_a_marketer_download_is_audited_with_who_what_and_how_many(tmp_path):
    ws = create_workspace("team", tmp_path)
    targets = target_list()
    data = download(targets, layout="targets", fmt="csv", actor=MARKETER, workspace=ws)
    assert data.count(b"\n") == len(targets) + 1
    download(targets, layout="mailchimp", fmt="csv", actor=MARKETER, workspace=ws)
    ev = read_audit(tmp_path, "team").events
    assert ev["action"].tolist() == ["download", "download"]
    assert ev["who"].tolist() == ["max@acme.test"] * 2
    assert ev["role"].tolist() == ["marketer"] * 2
    # the full list has every row; the Mailchimp file only the treatment members
    treatment = len(manual_import_frame(targets, "mailchimp"))
    assert 0 < treatment < len(targets)
    assert ev["count"].tolist() == [len(targets), treatment]
    assert ev["details"].iloc[1] == {"layout": "mailchimp", "format": "csv"}


def test_imports_need_a_marketer_and_record_the_rows_stored(tmp_path):
    ws = create_workspace("team", tmp_path)
    with pytest.raises(AccessDenied):
        import_file(CUSTOMERS_CSV, "customers", ws, name="c.csv", actor=VIEWER)
    assert not ws.has_table("customers")
    import_file(CUSTOMERS_CSV, "customers", ws, name="c.csv", actor=MARKETER)
    with pytest.raises(AccessDenied):
        undo_import(ws, "customers", actor=VIEWER)
    undo_import(ws, "customers", actor=MARKETER)
    ev = read_audit(tmp_path, "team").events
    assert ev[["action", "count", "who"]].values.tolist() == [
        ["import", 2, "max@acme.test"], ["undo_import", 2, "max@acme.test"]]
    assert ev["details"].iloc[0]["file"] == "c.csv"


def test_saving_a_campaign_needs_a_marketer(tmp_path):
    ws = create_workspace("team", tmp_path)
    targets = target_list()
    with pytest.raises(AccessDenied):
        save_campaign(ws, "spring", targets, actor=VIEWER)
    assert ws.list_campaigns() == []
    save_campaign(ws, "spring", targets, actor=MARKETER)
    ev = read_audit(tmp_path, "team").events
    assert ev["action"].tolist() == ["save_campaign"] and ev["count"].iloc[0] == len(targets)


def test_only_an_admin_deletes_a_workspace_and_the_trail_outlives_it(tmp_path):
    create_workspace("team", tmp_path)
    with pytest.raises(AccessDenied):
        delete_workspace("team", tmp_path, actor=MARKETER)
    assert list_workspaces(tmp_path) == ["team"]
    delete_workspace("team", tmp_path, actor=ADMIN)
    assert list_workspaces(tmp_path) == []
    ev = read_audit(tmp_path, "team").events
    assert ev[["action", "who", "count"]].values.tolist() == [["delete_workspace", "ada@acme.test", 1]]


def test_only_an_admin_exports_and_the_run_is_audited(tmp_path):
    ws = create_workspace("team", tmp_path)
    with FakeMailchimp() as fake:
        fake.add_list("aud1")
        adapter = MailchimpAdapter(fake.api_key, base_url=fake.url + "/3.0", policy=fast_policy(),
                                   batch_size=4)
        with pytest.raises(AccessDenied, match="marketer role may not export"):
            run_export(make_targets(), adapter, "aud1", journal=tmp_path / "j.sqlite",
                       actor=MARKETER, workspace=ws)
        assert fake.writes() == []
        run_export(make_targets(), adapter, "aud1", journal=tmp_path / "j.sqlite", actor=ADMIN,
                   workspace=ws)
        # a second run finds the export finished: no request, nothing new left the app
        run_export(make_targets(), adapter, "aud1", journal=tmp_path / "j.sqlite", actor=ADMIN,
                   workspace=ws)
    ev = read_audit(tmp_path, "team").events
    assert ev["action"].tolist() == ["export"]
    assert ev["count"].iloc[0] == 10 and ev["who"].iloc[0] == "ada@acme.test"
    assert ev["details"].iloc[0]["provider"] == "mailchimp"
    assert ev["details"].iloc[0]["list"] == "aud1"
    assert ev["details"].iloc[0]["accepted"] == 10


def test_the_trail_is_append_only_and_survives_a_torn_line(tmp_path):
    ws = create_workspace("team", tmp_path)
    record(ws, "download", 3, layout="targets")
    path = audit_path(tmp_path, "team")
    first = path.read_bytes()
    with path.open("ab") as f:
        f.write(b'{"at": "2026-')  # a crash in the middle of a write
    record(ws, "export", 7, provider="brevo")
    assert path.read_bytes().startswith(first)
    trail = read_audit(tmp_path, "team")
    assert trail.damaged == 1
    assert trail.events["count"].tolist() == [3, 7]
    assert trail.events["who"].tolist() == [os_user()] * 2
    shown = audit_table(trail)
    assert shown["what"].tolist() == ["export", "download"]      # newest first
    assert shown["details"].iloc[1] == "layout: targets"


def test_geo_audit_prints_the_trail_as_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    ws = create_workspace("team", tmp_path)
    record(ws, "download", 3, actor=MARKETER, layout="targets")
    record(ws, "import", 12, kind="customers")
    assert main(["audit", "--workspace", "team", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["workspace"] == "team" and out["events"] == 2 and out["damaged_lines"] == 0
    assert [(e["who"], e["action"], e["count"]) for e in out["trail"]] == [
        ("max@acme.test", "download", 3), (os_user(), "import", 12)]
    assert main(["audit", "--workspace", "team", "--json", "--last", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 1
    assert main(["audit", "--workspace", "../etc"]) == 2
