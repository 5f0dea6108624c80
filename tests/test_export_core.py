"""Recipient selection, retry timing, journal, dry run, CSV layouts and the ``export`` command."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from pathlib import Path

import httpx
import openpyxl
import pandas as pd
import pytest

from geo.cli import main
from geo.errors import DataError, GeoError
from geo.export import (
    ExportError,
    ExportJournal,
    ExportKey,
    JournalError,
    Secret,
    dry_run,
    journal_state,
    make_adapter,
    manual_import_csv,
    manual_import_frame,
    prepare_targets,
    resolve_api_key,
    run_export,
    write_manual_import,
)
from geo.export.client import HttpClient, RetryPolicy, retry_after
from geo.export.csv_layouts import manual_import_bytes
from geo.export.downloads import download
from geo.export.journal import LEGACY
from geo.workspace import create_workspace
from tests.fakes import Sleeps, fast_policy, make_targets
from tests.fakes.brevo import FakeBrevo


def test_prepare_keeps_only_consented_treatment_rows():
    t = make_targets(3).astype({"opted_in": object})
    t.loc[1, "email"] = "  PERSON0@example.com "   # same person twice
    t.loc[2, "opted_in"] = "yes"
    p = prepare_targets(t)
    assert p.eligible["email"].tolist() == ["person0@example.com", "person2@example.com"]
    assert p.eligible["travel_min"].tolist() == [3, 5]              # 3.4 and 5.4 rounded
    assert p.eligible["tags"].iloc[0] == "store:S00,band:5-10,segment:loyal"
    why = p.skipped.set_index("customer_id")
    assert why.loc["C001", "state"] == "refused" and "C000" in why.loc["C001", "reason"]
    assert why.loc["H1", "state"] == "excluded"
    assert why.loc["U1", "reason"] == "no consent: unsubscribed"
    assert why.loc["N1", "reason"] == "no consent: opted_in is not true"
    assert why.loc["B1", "state"] == "failed"


def test_prepare_without_consent_columns_and_with_missing_group():
    t = make_targets(2).drop(columns=["opted_in", "unsubscribed"])
    assert len(prepare_targets(t).eligible) == 4     # consent columns absent: N1, U1 kept
    with pytest.raises(DataError, match="group"):
        prepare_targets(t.drop(columns="group"))


def test_retry_after_reads_each_provider_hint():
    def resp(**h):
        return httpx.Response(429, headers=h)
    assert retry_after(resp(**{"Retry-After": "3"}), 0) == 3
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(1_000_010))
    assert retry_after(resp(**{"Retry-After": when}), 1_000_000) == pytest.approx(10)
    assert retry_after(resp(**{"x-sib-ratelimit-reset": "7"}), 0) == 7
    assert retry_after(resp(**{"X-RateLimit-Reset": "1700000005"}), 1_700_000_000) == 5
    assert retry_after(resp(), 0) is None


def _client(handler, sleeps, **kw) -> HttpClient:
    return HttpClient("test", "http://x.invalid", lambda: {"Authorization": "Bearer k"},
                      lambda r: r.text, fast_policy(sleeps, **kw), lambda: "k",
                      transport=httpx.MockTransport(handler))


def test_lost_response_is_retried_only_when_idempotent():
    calls = []

    def handler(request):
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"ok": True})
    sleeps = Sleeps()
    assert _client(handler, sleeps).request("PUT", "/x").json() == {"ok": True}
    assert calls == ["PUT", "PUT"] and sleeps == [0.01]
    calls.clear()
    with pytest.raises(ExportError, match="ReadTimeout"):
        _client(handler, Sleeps()).request("POST", "/x", idempotent=False)
    assert calls == ["POST"]


def test_backoff_grows_and_client_errors_are_not_retried():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(500 if len(calls) < 4 else 400, text="bad input")
    sleeps = Sleeps()
    with pytest.raises(ExportError, match="HTTP 400: bad input"):
        _client(handler, sleeps).request("GET", "/x")
    assert sleeps == [0.01, 0.02, 0.04] and len(calls) == 4
    assert RetryPolicy(backoff_base=1, backoff_max=5).backoff(10) == 5


def test_secret_and_missing_key(monkeypatch):
    s = Secret("topsecret")
    assert "topsecret" not in repr(s) + str(s) + f"{s}"
    with pytest.raises(TypeError):
        __import__("pickle").dumps(s)
    monkeypatch.delenv("BREVO_API_KEY", raising=False)
    with pytest.raises(ExportError, match="BREVO_API_KEY"):
        resolve_api_key("brevo")
    monkeypatch.setenv("BREVO_API_KEY", " envkey ")
    assert resolve_api_key("brevo").reveal() == "envkey"


def test_journal_resets_and_counts(tmp_path):
    key = ExportKey("e1", "brevo", "https://api.brevo.com/v3", "key:0123456789abcdef", "7")
    rows = pd.DataFrame({"email": ["a@x.io", "b@x.io"], "customer_id": ["1", "2"]})
    with ExportJournal(tmp_path / "j.sqlite") as jr:
        assert jr.start(key, rows) == 2 and jr.start(key, rows) == 0
        jr.mark_sent(key, ["a@x.io"], "J1")
        jr.mark_sent(key, ["b@x.io"])
        jr.reset_sent(key, None)
        assert jr.recipients(key).set_index("email")["state"].to_dict() == {
            "a@x.io": "sent", "b@x.io": "pending"}
        with pytest.raises(ValueError):
            jr.mark_outcomes(key, pd.DataFrame({"email": ["a@x.io"], "state": ["sent"],
                                                "reason": [""], "outcome": [""]}))
        assert jr.exports()["open"].iloc[0] == 2


#: the journal as the app wrote it before destinations were recorded (schema 1)
V1_SCHEMA = """
CREATE TABLE exports (export_id TEXT, provider TEXT, list_id TEXT, created_at TEXT,
    finished_at TEXT, PRIMARY KEY (export_id, provider, list_id));
CREATE TABLE recipients (export_id TEXT, provider TEXT, list_id TEXT, email TEXT,
    customer_id TEXT, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '', job_id TEXT, updated_at TEXT,
    PRIMARY KEY (export_id, provider, list_id, email));
CREATE TABLE jobs (export_id TEXT, provider TEXT, list_id TEXT, job_id TEXT, kind TEXT,
    parent_id TEXT, status TEXT NOT NULL, submitted_at TEXT, finished_at TEXT,
    PRIMARY KEY (export_id, provider, list_id, job_id));
"""


def _v1_journal(path, export_id: str, list_id: str, emails: list[str]) -> None:
    """A schema-1 journal holding one finished Brevo export of ``emails``."""
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO exports VALUES (?,'brevo',?,'2026-01-01','2026-01-01')",
                   (export_id, list_id))
        db.executemany("INSERT INTO recipients VALUES (?,'brevo',?,?,?,'accepted','','','7',NULL)",
                       [(export_id, list_id, e, f"C{i:03d}") for i, e in enumerate(emails)])
        db.execute("INSERT INTO jobs VALUES (?,'brevo',?,'7','upsert',NULL,'done',NULL,NULL)",
                   (export_id, list_id))
    db.close()


def test_old_journals_are_migrated_and_their_exports_left_aside(tmp_path):
    path = tmp_path / "journal.sqlite"
    with FakeBrevo() as fake:
        lid = str(fake.add_list())
        adapter = make_adapter("brevo", fake.api_key, base_url=fake.url + "/v3",
                               policy=fast_policy())
        export_id = dry_run(make_targets(), adapter, lid).summary["export_id"]
        _v1_journal(path, export_id, lid, [f"person{i}@example.com" for i in range(10)])
        with ExportJournal(path) as jr:
            old = jr.exports()
            legacy = ExportKey(export_id, "brevo", LEGACY, LEGACY, lid)
            assert old[list(ExportKey._fields)].apply(tuple, axis=1).tolist() == [legacy]
            assert old["accepted"].tolist() == [10]
            assert jr.recipients(legacy)["customer_id"].tolist()[:2] == ["C000", "C001"]
            assert jr.jobs(legacy)["status"].tolist() == ["done"]
        # left aside: the run does not take the old rows for its own destination
        assert journal_state(path, export_id, adapter.destination(lid)) == {}
        result = run_export(make_targets(), adapter, lid, journal=path)
        assert result.sent_requests and result.counts()["accepted"] == 10
        assert len(fake.contacts) == 10
        with ExportJournal(path) as jr:                      # opening again changes nothing
            assert len(jr.exports()) == 2
        adapter.close()


def test_a_journal_from_a_newer_app_is_refused_by_name(tmp_path):
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 9")
    db.close()
    with pytest.raises(JournalError, match=r"journal\.sqlite has schema 9, newer than this app's 2"):
        ExportJournal(path)


def test_dry_run_sends_nothing_and_masks_emails():
    with FakeBrevo() as fake:
        adapter = make_adapter("brevo", base_url=fake.url + "/v3", policy=fast_policy())
        summary = dry_run(make_targets(), adapter, "3").summary   # no key needed
        assert fake.log == []
    text = json.dumps(summary)
    assert "person0@example.com" not in text and "p***@example.com" in text
    assert summary["recipients"] == 10 and summary["excluded"] == 1 and summary["refused"] == 2
    assert {f["provider_field"] for f in summary["fields"]} >= {"NEAREST_STORE", "COUPON_CODE"}
    assert summary["notes"]
    assert summary["account"] is None and summary["already_in_journal"] == {}   # no key, no account


@pytest.mark.parametrize("provider,first,sep", [("mailchimp", "Email Address", ","),
                                                ("klaviyo", "Email", ","), ("sendgrid", "email", ","),
                                                ("brevo", "EMAIL", ";")])
def test_manual_import_layouts(provider, first, sep):
    frame = manual_import_frame(make_targets(), provider)
    assert frame.columns[0] == first and len(frame) == 10
    assert "holdout@example.com" not in frame.iloc[:, 0].tolist()
    text = manual_import_csv(make_targets(), provider)
    assert text.splitlines()[0].split(sep)[0] == first
    if provider == "sendgrid":
        assert all(c.replace("_", "").isalnum() for c in frame.columns)


# the travel column per provider and mode, as in email-providers.md's suggested headers
TRAVEL_HEADERS = {
    "mailchimp": ("Drive Minutes", "Walk Minutes", "Bike Minutes", "Distance km"),
    "klaviyo": ("Drive Minutes", "Walk Minutes", "Bike Minutes", "Distance km"),
    "sendgrid": ("drive_minutes", "walk_minutes", "bike_minutes", "distance_km"),
    "brevo": ("DRIVE_MINUTES", "WALK_MINUTES", "BIKE_MINUTES", "DISTANCE_KM"),
}


@pytest.mark.parametrize("provider", list(TRAVEL_HEADERS))
def test_manual_import_travel_column_follows_the_mode(provider):
    t = make_targets(4).assign(crow_km=[1.26, 0.04, 2.0, 3.449, 1, 1, 1, 1])
    others = manual_import_frame(t, provider).columns.delete(4).tolist()
    for mode, header in zip(("drive", "walk", "bike", "radius"), TRAVEL_HEADERS[provider], strict=True):
        frame = manual_import_frame(t.assign(mode=mode), provider)
        assert frame.columns[4] == header and frame.columns.delete(4).tolist() == others
        expected = [1.3, 0.0, 2.0, 3.4] if mode == "radius" else [3, 4, 5, 6]
        assert frame[header].tolist() == expected
    unknown = manual_import_frame(t.drop(columns="mode"), provider).columns[4]
    assert unknown.lower().replace(" ", "_") == "travel_minutes"
    with pytest.raises(GeoError, match="mixes travel modes"):
        manual_import_frame(t.assign(mode=["drive", "radius"] * 4), provider)


def test_manual_import_file_details():
    t = make_targets(3)
    t.loc[0, "first_name"] = "Ann\rMarie"                 # a carriage return inside a cell
    t.loc[1, "offer_start"] = "2026-06-01 09:30"            # a bound that is not a whole day
    text = manual_import_csv(t, "klaviyo")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")  # CRLF rows only
    back = pd.read_csv(io.StringIO(text), dtype=str)
    assert back["First Name"].tolist()[0] == "Ann\rMarie" and len(back) == 3
    assert back["Offer Start"].tolist() == ["2026-06-01", "2026-06-01 09:30", "2026-06-01"]
    assert back["Offer End"].tolist() == ["2026-06-30"] * 3
    assert back["Email"].tolist()[0] == "person0@example.com"       # trimmed, lower case
    with pytest.raises(GeoError, match="unknown provider"):
        manual_import_csv(t, "mailgun")


def test_cli_exports_and_exits_non_zero_on_failures(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path / "data"))
    ws = create_workspace("shop")
    make_targets().to_csv(tmp_path / "targets.csv", index=False)
    with FakeBrevo() as fake:
        lid = fake.add_list()
        monkeypatch.setenv("BREVO_API_KEY", fake.api_key)
        base = ["export", "--provider", "brevo", "--targets", str(tmp_path / "targets.csv"),
                "--list", str(lid), "--base-url", fake.url + "/v3", "--poll-interval", "0.01", "--workspace", "shop"]
        assert main(base + ["--dry-run"]) == 0
        assert json.loads(capsys.readouterr().out)["dry_run"] is True and fake.log == []
        assert main(base) == 1                                # 'not-an-email' failed
        out = json.loads(capsys.readouterr().out)
        assert out["accepted"] == 10 and out["failed"] == 1 and out["complete"]
        assert (ws.path / "exports" / "journal.sqlite").exists()
        assert pd.read_csv(out["report"])["status"].value_counts()["accepted"] == 10
        seen = len(fake.log)
        assert main(base) == 1 and len(fake.log) == seen     # repeat: no request
        capsys.readouterr()
        with FakeBrevo() as other:                           # the same list id on another server
            other.add_list(lid=lid)
            monkeypatch.setenv("BREVO_API_KEY", other.api_key)
            again = [other.url + "/v3" if a == fake.url + "/v3" else a for a in base]
            assert main(again) == 1 and len(fake.log) == seen
            second = json.loads(capsys.readouterr().out)
            assert second["accepted"] == 10 and len(other.contacts) == 10
            assert second["api_root"] == other.url + "/v3" and second["report"] != out["report"]
            assert Path(out["report"]).exists() and Path(second["report"]).exists()
        monkeypatch.setenv("BREVO_API_KEY", fake.api_key)
        assert main(["export", "--provider", "brevo", "--targets", str(tmp_path / "targets.csv"),
                     "--list-lists", "--base-url", fake.url + "/v3"]) == 0
        assert json.loads(capsys.readouterr().out)["lists"][0]["id"] == str(lid)
        monkeypatch.setenv("BREVO_API_KEY", "badkey-123XYZ")
        assert main(base[:-2]) == 2          # another journal, so it calls out: bad key
        err = capsys.readouterr().err
        assert "401" in err and "BREVO_API_KEY" in err and "123XYZ" not in err


DASHES = ["-dash@example.com", "+plus@example.com", "=eq@example.com"]   # valid addresses


@pytest.mark.parametrize("provider", ["mailchimp", "klaviyo", "sendgrid", "brevo"])
def test_provider_files_keep_addresses_verbatim_and_excel_files_neutralise(tmp_path, provider):
    targets = make_targets(5)
    targets.loc[:2, "email"] = DASHES
    targets.loc[3, "first_name"] = '=HYPERLINK("http://x")'
    sep = ";" if provider == "brevo" else ","
    files = {"text": manual_import_csv(targets, provider).encode(),
             "written": write_manual_import(targets, provider, tmp_path / "i.csv").read_bytes()}
    if provider in ("mailchimp", "klaviyo"):        # the Reach page's downloads of this layout
        files["download"] = download(targets, layout=provider, fmt="csv")
    for how, data in files.items():                 # for the provider's importer: verbatim
        back = pd.read_csv(io.BytesIO(data), dtype=str, sep=sep)
        assert back.iloc[:3, 0].tolist() == DASHES, how
        assert '=HYPERLINK("http://x")' in back.iloc[:, 1].tolist(), how
        assert b"'" not in data, how
    excel = manual_import_bytes(targets, provider, bom=True)      # the CSV for Excel
    assert excel.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(excel), dtype=str, sep=sep, encoding="utf-8-sig")
    assert back.iloc[:3, 0].tolist() == ["'" + e for e in DASHES]
    assert "'=HYPERLINK(\"http://x\")" in back.iloc[:, 1].tolist()
    if provider in ("mailchimp", "klaviyo"):
        assert download(targets, layout=provider, fmt="csv", bom=True) == excel
        sheet = openpyxl.load_workbook(io.BytesIO(download(targets, layout=provider,
                                                           fmt="xlsx"))).active
        cells = [row[0] for row in sheet.iter_rows(min_row=2, max_row=4)]
        assert [c.value for c in cells] == ["'" + e for e in DASHES]
        assert {(c.data_type, c.number_format) for c in cells} == {("s", "@")}   # text cells


@pytest.mark.parametrize("mode,header", [("walk", "Walk Minutes"), ("radius", "Distance km")])
def test_nothing_eligible_gives_a_header_only_file(mode, header):
    t = make_targets(1).iloc[1:].assign(mode=mode)        # holdout, no consent, bad address
    p = prepare_targets(t)
    assert p.eligible.empty and len(p.skipped) == 4
    text = manual_import_csv(t, "mailchimp")
    assert text == ",".join(["Email Address", "First Name", "Nearest Store", "Store Address",
                             header, "Coupon Code", "Offer Start", "Offer End", "Tags"]) + "\r\n"
