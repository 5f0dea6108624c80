"""Postcodes located offline from GeoNames-format tables written by the tests (never the network).

The tables sit in ``PGEOCODE_DATA_DIR`` as GeoNames ships them (tab-separated,
no header, or the country's ZIP) or as pgeocode caches them; the download path
is exercised against a loopback server standing in for GeoNames.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from geo.cli import main
from geo.data.ingest import check_file, import_file
from geo.data.locate import LocatePlan, locate_missing
from geo.data.postcodes import (
    PostcodeBook,
    country_codes,
    load_table,
    locate_postcodes,
    normalise_postcodes,
    postcode_dir,
)
from geo.errors import DataError
from geo.workspace import create_workspace

DE = [("DE", "10115", "Berlin", "Berlin", "BE", "", "00", "Berlin, Stadt", "11000", 52.5323,
       13.3846, 4),
      ("DE", "01067", "Dresden", "Sachsen", "SN", "", "00", "Dresden", "14612", 51.06, 13.72, 4),
      ("DE", "01067", "Dresden Altstadt", "Sachsen", "SN", "", "00", "Dresden", "14612", 51.08,
       13.74, 4)]
GB = [("GB", "LS1", "Leeds", "England", "ENG", "West Yorkshire", "11UD", "Leeds", "E08000035",
       53.7965, -1.5478, 4)]
US = [("US", "02139", "Cambridge", "Massachusetts", "MA", "Middlesex", "017", "", "", 42.3647,
       -71.1042, "")]


def geonames_text(rows) -> str:
    """Rows in GeoNames' download format: tab-separated, no header, UTF-8."""
    return "".join("\t".join(str(v) for v in row) + "\n" for row in rows)


def geonames_zip(country: str, rows) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(f"{country}.txt", geonames_text(rows))
        archive.writestr("readme.txt", "GeoNames postal codes (CC BY 4.0)\n")
    return buf.getvalue()


@pytest.fixture()
def tables(tmp_path, monkeypatch):
    """A postcode folder with DE as a GeoNames tab file, GB as GeoNames' ZIP, US as pgeocode's CSV."""
    folder = tmp_path / "pgeocode"
    folder.mkdir()
    (folder / "DE.txt").write_text(geonames_text(DE), encoding="utf-8")
    (folder / "GB.zip").write_bytes(geonames_zip("GB", GB))
    us = pd.DataFrame(US, columns=["country_code", "postal_code", "place_name", "state_name",
                                   "state_code", "county_name", "county_code", "community_name",
                                   "community_code", "latitude", "longitude", "accuracy"])
    us.to_csv(folder / "US.txt", index=False)
    monkeypatch.setenv("PGEOCODE_DATA_DIR", str(folder))
    return folder


def test_the_folder_is_pgeocode_data_dir_else_under_the_data_root(tmp_path, monkeypatch):
    monkeypatch.delenv("PGEOCODE_DATA_DIR", raising=False)
    assert postcode_dir(tmp_path) == tmp_path / "cache" / "pgeocode"
    monkeypatch.setenv("PGEOCODE_DATA_DIR", str(tmp_path / "pre-filled"))
    assert postcode_dir(tmp_path) == tmp_path / "pre-filled"


def test_postcodes_are_normalised_as_the_tables_write_them():
    codes = pd.Series([" ls1 4ap", "'1067", "02139-4307", "10115", ""])
    assert normalise_postcodes(codes[:1], "GB").tolist() == ["LS1"]
    assert normalise_postcodes(codes[1:2], "DE", digits=5).tolist() == ["01067"]
    assert normalise_postcodes(codes[2:3], "US").tolist() == ["02139"]
    assert normalise_postcodes(codes[3:], "DE", digits=5).tolist() == ["10115", ""]
    assert country_codes(pd.Series(["de", "Germany", "United Kingdom", "", "Atlantis"]),
                         "FR").tolist() == ["DE", "DE", "GB", "FR", "ATLANTIS"]


def test_every_table_form_is_read(tables):
    de = load_table("DE", tables, download=False)
    lat, lon, found = de.locate(pd.Series(["01067", "1067", "99999"]))
    assert found.tolist() == [True, True, False]
    assert lat[0] == pytest.approx(51.07) and lon[0] == pytest.approx(13.73)  # mean of 2 places
    gb = load_table("GB", tables, download=False)
    assert gb.locate(pd.Series(["LS1 4AP"]))[2].tolist() == [True]
    us = load_table("US", tables, download=False)
    assert us.locate(pd.Series(["02139-4307"]))[0][0] == pytest.approx(42.3647)
    with pytest.raises(DataError, match="no postcode table for FR"):
        load_table("FR", tables, download=False)


def test_rows_say_why_they_were_not_located(tables):
    book = PostcodeBook(tables, default_country=None, download=False)
    found = locate_postcodes(pd.Series(["10115", "99999", "10115", "75001", "x"]),
                             pd.Series(["DE", "de", "", "FR", "Atlantis"]), book)
    assert found.located.tolist() == [True, False, False, False, False]
    assert found.reasons.tolist()[1:] == [
        "unknown postcode '99999' in DE",
        "no country to look the postcode up in: add a country column or give the country "
        "(--country XX)",
        f"no postcode table for FR in {tables}: put FR.zip from "
        "https://download.geonames.org/export/zip/ there",
        "unknown country 'ATLANTIS' (use a two-letter code such as DE)"]
    with_default = locate_postcodes(pd.Series(["10115"]), pd.Series([""]),
                                    PostcodeBook(tables, "DE", download=False))
    assert with_default.located.tolist() == [True]


class FakeGeoNames(BaseHTTPRequestHandler):
    served: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        type(self).served.append(self.path)
        if not self.path.endswith("/FR.zip"):
            self.send_response(404)
            self.end_headers()
            return
        data = geonames_zip("FR", [("FR", "75001", "Paris 01", "Île-de-France", "11", "Paris",
                                    "75", "Paris", "751", 48.8592, 2.3417, 5)])
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def geonames_server(monkeypatch):
    import pgeocode

    FakeGeoNames.served = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGeoNames)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(pgeocode, "DOWNLOAD_URL", [base + "/zip/{country}.zip"])
    yield FakeGeoNames.served
    server.shutdown()
    server.server_close()


def test_a_missing_table_is_downloaded_once_into_the_folder(tables, geonames_server):
    import pgeocode

    before = pgeocode.STORAGE_DIR
    book = PostcodeBook(tables)
    found = locate_postcodes(pd.Series(["75001", "75002"]), pd.Series(["FR", "FR"]), book)
    assert found.located.tolist() == [True, False]
    assert (tables / "FR.txt").is_file() and geonames_server == ["/zip/FR.zip"]
    assert pgeocode.STORAGE_DIR == before  # pgeocode's own setting is put back
    again = locate_postcodes(pd.Series(["75001"]), pd.Series(["FR"]), PostcodeBook(tables))
    assert again.located.tolist() == [True] and geonames_server == ["/zip/FR.zip"]


def test_a_failed_download_is_a_reason_per_row_not_a_crash(tables, geonames_server):
    found = locate_postcodes(pd.Series(["1010"]), pd.Series(["AT"]), PostcodeBook(tables))
    assert not found.located.any()
    assert found.reasons[0].startswith("could not download the GeoNames postcode table for AT")
    assert "PGEOCODE_DATA_DIR" in found.reasons[0]


def test_locate_missing_in_postcode_mode(tables):
    rows = pd.DataFrame({"lat": ["", "52.1", "", "", ""], "lon": ["", "13.1", "", "", ""],
                         "address": ["", "", "Unter den Linden 1", "", ""],
                         "postcode": ["10115", "", "", "99999", "01067"],
                         "country": ["DE", "", "DE", "DE", ""]}, index=[2, 3, 4, 5, 6])
    plan = LocatePlan(mode="postcode", postcodes=PostcodeBook(tables, "DE", download=False))
    result, counts = locate_missing(rows, plan)
    assert counts.as_dict() == {"postcode": 2, "address": 0, "failed": 2}
    out = result.frame
    assert float(out.loc[2, "lat"]) == pytest.approx(52.5323)
    assert out.loc[[2, 6], "location_source"].tolist() == ["postcode", "postcode"]
    assert out.loc[3, "lat"] == "52.1"
    reasons = result.not_located.set_index("row")["reason"]
    assert reasons[4].startswith("not located: no postcode to look up")
    assert reasons[5] == "not located: unknown postcode '99999' in DE"


def test_import_by_postcode_round_trips(tables, tmp_path):
    ws = create_workspace("pc", tmp_path)
    data = ("email,first_name,opted_in,zip,country\n"
            "a@x.de,A,yes,10115,DE\nb@x.de,B,yes,'01067,\nc@x.de,C,yes,99999,DE\n").encode()
    plan = LocatePlan(mode="postcode", postcodes=PostcodeBook(tables, "DE", download=False))
    report = import_file(data, "customers", ws, name="c.csv", locate=plan)
    assert report.geocoded == {"postcode": 2, "address": 0, "failed": 1}
    stored = ws.load_table("customers")
    assert stored["location_source"].tolist() == ["postcode", "postcode"]
    assert np.allclose(stored["lat"], [52.5323, 51.07])
    assert report.errors.to_dict("records") == [
        {"row": 4, "column": "lat", "reason": "not located: unknown postcode '99999' in DE",
         "value": "99999, DE"}]


def test_cli_geocodes_by_postcode_with_a_default_country(tables, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    f = tmp_path / "customers.csv"
    f.write_text("email,first_name,opted_in,postcode\na@x.de,A,yes,10115\nb@x.de,B,yes,11111\n")
    code = main(["import", "--kind", "customers", str(f), "--workspace", "pc",
                 "--geocode", "postcode", "--country", "de"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["geocoded"] == {"postcode": 1, "address": 0, "failed": 1}
    assert report["layout"] is None and report["valid"] == 1
    code = main(["validate", "--kind", "customers", str(f), "--geocode", "postcode",
                 "--country", "Germany"])
    assert code == 2 and "two-letter code" in capsys.readouterr().err


def test_check_without_a_plan_reports_no_counts(tables):
    report = check_file(b"email,first_name,opted_in,postcode\na@x.de,A,yes,10115\n", "customers",
                        name="c.csv")
    assert report.geocoded is None and "geocoded" not in report.as_dict()


def test_ip_estimates_are_replaced_by_the_postcode_when_it_is_known(tables):
    rows = pd.DataFrame({"lat": ["40.1", "40.1", "41.0"], "lon": ["-80.1", "-80.1", "-81.0"],
                         "location_source": ["ip", "ip", "given"],
                         "postcode": ["10115", "99999", "10115"],
                         "country": ["DE", "DE", "DE"]}, index=[2, 3, 4])
    plan = LocatePlan(mode="postcode", postcodes=PostcodeBook(tables, download=False))
    result, counts = locate_missing(rows, plan)
    out = result.frame
    assert out["location_source"].tolist() == ["postcode", "ip", "given"]
    assert float(out.loc[2, "lat"]) == pytest.approx(52.5323)
    assert out.loc[3, ["lat", "lon"]].tolist() == ["40.1", "-80.1"]  # estimate kept
    assert out.loc[4, "lat"] == "41.0"
    assert counts.as_dict() == {"postcode": 1, "address": 0, "failed": 0}
    assert result.not_located.empty


def test_the_indexed_table_is_kept_and_refreshed_when_the_table_changes(tables):
    import os

    load_table("DE", tables, download=False)
    index = tables / "DE.geo-index.parquet"
    assert index.is_file()
    assert load_table("DE", tables, download=False).locate(pd.Series(["10115"]))[2].all()
    (tables / "DE.txt").write_text(geonames_text([("DE", "20095", "Hamburg", "Hamburg", "HH",
                                                   "", "00", "Hamburg", "02000", 53.55, 10.0,
                                                   4)]), encoding="utf-8")
    later = index.stat().st_mtime + 10
    os.utime(tables / "DE.txt", (later, later))
    fresh = load_table("DE", tables, download=False)
    assert fresh.locate(pd.Series(["20095", "10115"]))[2].tolist() == [True, False]
