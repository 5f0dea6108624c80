"""Geocoding through a loopback fake Nominatim: rate limit, user agent, cache, outage."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from geo.data.geocode import (
    NOMINATIM_DOMAIN,
    STOPPED,
    GeocoderSettings,
    build_queries,
    eta_seconds,
    geocode_missing,
    needs_geocoding,
    progress_text,
)
from geo.data.ingest import check_file
from geo.errors import DataError

PLACES = {"10 rue de rivoli, 75004 paris, france": (48.8553, 2.3602),
          "75011 paris, france": (48.8590, 2.3800),
          "75011": (48.8590, 2.3800)}


class FakeNominatim(BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        url = urlsplit(self.path)
        q = parse_qs(url.query).get("q", [""])[0]
        type(self).requests.append({"q": q, "t": time.monotonic(),
                                    "agent": self.headers.get("User-Agent"), "path": url.path})
        hit = PLACES.get(" ".join(q.lower().split()))
        body = [] if hit is None else [{
            "place_id": 1, "lat": str(hit[0]), "lon": str(hit[1]), "display_name": q,
            "boundingbox": [str(hit[0] - .01), str(hit[0] + .01), str(hit[1] - .01),
                            str(hit[1] + .01)]}]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def nominatim():
    FakeNominatim.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", FakeNominatim.requests
    server.shutdown()
    server.server_close()


def rows() -> pd.DataFrame:
    return pd.DataFrame({
        "lat": ["", "", "48.1", "", ""],
        "lon": ["", "", "2.1", "", ""],
        "address": ["10 Rue de Rivoli", "", "", "", "1 Nowhere Lane"],
        "postcode": ["75004", "75011", "", "", ""],
        "city": ["Paris", "Paris", "", "", ""],
        "country": ["France", "France", "", "", ""],
    }, index=[2, 3, 4, 5, 6])


def test_queries_and_sources():
    query, source = build_queries(rows())
    assert query.tolist() == ["10 Rue de Rivoli, 75004 Paris, France", "75011 Paris, France",
                              "", "", "1 Nowhere Lane"]
    assert source.tolist()[:2] == ["address", "postcode"]
    assert source.isna().tolist()[2:4] == [True, True]
    assert needs_geocoding(rows()).tolist() == [True, True, False, False, True]


def test_geocode_fills_rows_and_caches(nominatim, tmp_path, monkeypatch):
    import geopy.extra.rate_limiter as limiter

    clock, waits = [0.0], []  # the limiter's clock moves only when it waits (binary-exact steps)

    def wait(self, seconds):
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(limiter, "default_timer", lambda: clock[0])
    monkeypatch.setattr(limiter.RateLimiter, "_sleep", wait)
    domain, log = nominatim
    settings = GeocoderSettings(domain=domain, scheme="http", min_delay_s=0.25,
                                cache_path=tmp_path / "geocode.sqlite", user_agent="geo-tests/1")
    result = geocode_missing(rows(), settings)
    assert result.located == 2 and result.requests == 3 and result.message is None
    out = result.frame
    assert float(out.loc[2, "lat"]) == pytest.approx(48.8553)
    assert out.loc[2, "location_source"] == "address"
    assert out.loc[3, "location_source"] == "postcode"
    assert out.loc[4, "lat"] == "48.1" and pd.isna(out.loc[4, "location_source"])
    assert result.not_located["row"].tolist() == [6]
    assert "no match" in result.not_located["reason"].iloc[0]
    assert {r["agent"] for r in log} == {"geo-tests/1"} and log[0]["path"] == "/search"
    assert waits == [0.25, 0.25]  # the rate limit holds between the 3 requests
    again = geocode_missing(rows(), settings)  # answers (and misses) come from the cache
    assert again.requests == 0 and again.located == 2 and len(log) == 3


def test_unreachable_service_gives_a_message_not_an_exception(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = GeocoderSettings(domain=f"127.0.0.1:{port}", scheme="http", min_delay_s=0,
                                timeout_s=2, cache_path=tmp_path / "c.sqlite")
    result = geocode_missing(rows(), settings)
    assert result.located == 0 and "could not be used" in result.message
    assert result.not_located["row"].tolist() == [2, 3, 6]
    assert set(result.not_located["reason"]) == {"not located: geocoding service unavailable"}


def test_public_service_keeps_one_second_between_requests():
    assert GeocoderSettings(min_delay_s=0.1).delay_s == 1.0
    assert GeocoderSettings(domain=NOMINATIM_DOMAIN, min_delay_s=2).delay_s == 2
    assert GeocoderSettings(domain="127.0.0.1:8080", min_delay_s=0).delay_s == 0


def test_import_with_geocoding_reports_not_located_rows(nominatim, tmp_path):
    domain, _ = nominatim
    data = ("id,email,first name,lat,lon,opt-in,address,zip,city,country\n"
            "1,a@x.com,A,,,yes,10 Rue de Rivoli,75004,Paris,France\n"
            "2,b@x.com,B,,,yes,,75011,,\n"
            "3,c@x.com,C,,,yes,1 Nowhere Lane,,,\n"
            "4,d@x.com,D,48.86,2.35,yes,,,,\n").encode()
    settings = GeocoderSettings(domain=domain, scheme="http", min_delay_s=0,
                                cache_path=tmp_path / "c.sqlite")
    report = check_file(data, "customers", name="c.csv", geocoder=settings)
    assert report.valid["customer_id"].tolist() == ["1", "2", "4"]
    assert report.valid["location_source"].tolist()[:2] == ["address", "postcode"]
    assert report.errors[["row", "column"]].values.tolist() == [[4, "lat"]]
    assert report.errors["reason"].iloc[0].startswith("not located")
    plain = check_file(data, "customers", name="c.csv")  # without geocoding: how to locate them
    assert plain.errors["row"].tolist() == [2, 3, 4] and len(plain.valid) == 1
    assert plain.errors["reason"].str.contains("--geocode postcode|address|all",
                                               regex=False).all()


def test_a_stopped_run_keeps_what_it_did_and_the_next_one_continues(nominatim, tmp_path):
    domain, log = nominatim
    settings = GeocoderSettings(domain=domain, scheme="http", min_delay_s=0,
                                cache_path=tmp_path / "c.sqlite")
    seen: list[tuple[int, int]] = []

    def stop_after_two() -> bool:
        return len(log) >= 2

    first = geocode_missing(rows(), settings, progress=lambda d, t: seen.append((d, t)),
                            should_stop=stop_after_two)
    assert first.stopped and first.requests == 2 and len(log) == 2
    assert seen == [(0, 3), (1, 3), (2, 3)]
    assert first.located == 2 and first.not_located["row"].tolist() == [6]
    assert first.not_located["reason"].tolist() == [STOPPED]
    again = geocode_missing(rows(), settings, progress=lambda d, t: seen.append((d, t)))
    assert not again.stopped and again.requests == 1 and len(log) == 3  # only the one left
    assert seen[-2:] == [(2, 3), (3, 3)]
    assert again.not_located["reason"].tolist() == ["not located: the geocoding service found "
                                                    "no match"]


def test_all_mode_sends_only_street_addresses_and_falls_back_to_postcodes(nominatim, tmp_path):
    from geo.data.locate import LocatePlan, locate_missing
    from geo.data.postcodes import PostcodeBook

    folder = tmp_path / "pc"
    folder.mkdir()
    (folder / "FR.txt").write_text(
        "FR\t75004\tParis 04\tÎle-de-France\t11\tParis\t75\tParis\t751\t48.8543\t2.3576\t5\n"
        "FR\t75011\tParis 11\tÎle-de-France\t11\tParis\t75\tParis\t751\t48.8574\t2.3795\t5\n",
        encoding="utf-8")
    domain, log = nominatim
    frame = rows()
    frame.loc[6, ["postcode", "country"]] = ["75004", "FR"]  # Nowhere Lane: not found, has a postcode
    plan = LocatePlan(mode="all",
                      geocoder=GeocoderSettings(domain=domain, scheme="http", min_delay_s=0),
                      postcodes=PostcodeBook(folder, download=False))
    result, counts = locate_missing(frame, plan)
    assert sorted(r["q"] for r in log) == ["1 nowhere lane, 75004, fr",  # row 3 not sent
                                           "10 rue de rivoli, 75004 paris, france"]
    assert counts.as_dict() == {"address": 1, "postcode": 2, "failed": 0}
    out = result.frame
    assert out.loc[[2, 3, 6], "location_source"].tolist() == ["address", "postcode", "postcode"]
    assert float(out.loc[3, "lat"]) == pytest.approx(48.8574)  # from the table, not the service


def test_settings_from_a_base_url():
    own = GeocoderSettings.from_url("http://10.0.0.5:8080/nominatim/")
    assert (own.domain, own.scheme, own.path, own.delay_s) == ("10.0.0.5:8080", "http",
                                                               "/nominatim", 0.0)
    assert own.url == "http://10.0.0.5:8080/nominatim"
    public = GeocoderSettings.from_url("nominatim.openstreetmap.org", min_delay_s=0)
    assert public.scheme == "https" and public.delay_s == 1.0
    assert GeocoderSettings.from_url("photon.example.org", service="photon").service == "photon"
    with pytest.raises(DataError, match="not a usable geocoder URL"):
        GeocoderSettings.from_url("ftp://x")
    with pytest.raises(DataError, match="unknown geocoding service"):
        GeocoderSettings.from_url("x.org", service="google")


def test_eta_follows_the_pace_and_never_beats_the_delay():
    assert eta_seconds(0, 100, 0.0, 1.0) == 100.0
    assert eta_seconds(10, 100, 20.0, 1.0) == 180.0  # 2 s per address seen so far
    assert eta_seconds(10, 100, 1.0, 1.0) == 90.0  # cache hits do not make it faster than 1/s
    assert eta_seconds(100, 100, 50.0, 1.0) == 0.0
    assert progress_text(120, 900, 780.0) == "120 of 900 addresses, about 13 min left"
    assert progress_text(5, 9, 4.4) == "5 of 9 addresses, about 4 s left"


class FakePhoton(BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        url = urlsplit(self.path)
        q = parse_qs(url.query).get("q", [""])[0]
        type(self).requests.append({"q": q, "path": url.path,
                                    "agent": self.headers.get("User-Agent")})
        hit = PLACES.get(" ".join(q.lower().split()))
        features = [] if hit is None else [{
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [hit[1], hit[0]]},
            "properties": {"name": q}}]
        data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_a_self_hosted_photon_server_is_used_without_delay(tmp_path):
    FakePhoton.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePhoton)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = GeocoderSettings.from_url(f"http://127.0.0.1:{server.server_address[1]}",
                                             service="photon", cache_path=tmp_path / "p.sqlite")
        assert settings.delay_s == 0.0
        result = geocode_missing(rows(), settings)
    finally:
        server.shutdown()
        server.server_close()
    assert result.located == 2 and result.requests == 3
    assert float(result.frame.loc[2, "lat"]) == pytest.approx(48.8553)
    assert {r["path"] for r in FakePhoton.requests} == {"/api"}
    assert {r["agent"] for r in FakePhoton.requests} == {settings.user_agent}
