"""Locate rows that have an address or a postcode but no coordinates (optional, via geopy).

Nominatim (OpenStreetMap) is the default service. Its usage policy is kept:
at most one request per second (enforced for nominatim.openstreetmap.org even
when a shorter delay is asked for), an identifying User-Agent, and an on-disk
cache (SQLite) so that the same address is never asked twice, including the
addresses it could not find. Each query is sent once however many rows share
it. When the service cannot be reached the rows stay in the import report as
"not located" and the message says why; nothing raises.

Each located row gets ``location_source``: ``"address"`` when a street address
was used, ``"postcode"`` when only the postcode (and city/country) was.

A long run reports its progress (``progress(done, total)``) and can be stopped
between two requests (``should_stop()``): every answer is in the cache as soon
as it arrives, so a stopped run keeps what it did and the next one continues
where it stopped. A self-hosted Nominatim (or Photon) is set by its base URL
(`GeocoderSettings.from_url`); only the public server is held to one request a
second. `geo.data.locate` combines this with the offline postcode tables.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

NOMINATIM_DOMAIN = "nominatim.openstreetmap.org"
USER_AGENT = "o2o-geo-dashboard/0.1 (local install; geocodes imported customer addresses)"
POLICY_MIN_DELAY_S = 1.0

Lookup = Callable[[str], "tuple[float, float] | None"]
StepProgress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]
SERVICES = ("nominatim", "photon")
STOPPED = "not located: geocoding was stopped before this address (run it again to continue)"


@dataclass(frozen=True)
class GeocoderSettings:
    """Where and how to geocode.

    Parameters
    ----------
    domain
        Nominatim host (and port), e.g. ``"nominatim.openstreetmap.org"`` or
        ``"127.0.0.1:8080"`` for a local server.
    scheme
        ``"https"`` or ``"http"``.
    user_agent
        Identifies this application to the service (required by Nominatim's policy).
    min_delay_s
        Seconds between two requests; never below 1 s for the public Nominatim.
    timeout_s
        Seconds to wait for one answer.
    cache_path
        SQLite file of past answers; None keeps no cache.
    country_codes
        Optional ISO 3166-1 alpha-2 codes restricting the search, e.g. ``("fr",)``.
    service
        ``"nominatim"`` or ``"photon"`` (the API the server speaks).
    path
        Path of the service under the host, e.g. ``"/nominatim"`` (``""`` at the root).
    """

    domain: str = NOMINATIM_DOMAIN
    scheme: str = "https"
    user_agent: str = USER_AGENT
    min_delay_s: float = POLICY_MIN_DELAY_S
    timeout_s: float = 10.0
    cache_path: Path | None = None
    country_codes: tuple[str, ...] = field(default=())
    service: str = "nominatim"
    path: str = ""

    @classmethod
    def from_url(cls, url: str, *, service: str = "nominatim", cache_path: Path | None = None,
                 min_delay_s: float | None = None) -> GeocoderSettings:
        """Settings for the server at base URL ``url`` (``https://`` assumed without a scheme).

        A server other than the public Nominatim gets no delay unless
        ``min_delay_s`` asks for one; the public one always waits 1 s.

        Raises
        ------
        DataError
            The URL has no host, or ``service`` is not one of `SERVICES`.
        """
        from urllib.parse import urlsplit

        from geo.errors import DataError

        raw = url.strip()
        parts = urlsplit(raw if "//" in raw else f"https://{raw}")
        if not parts.netloc or parts.scheme not in ("http", "https"):
            raise DataError("geocoder", f"not a usable geocoder URL {url!r}: give e.g. "
                                        "https://nominatim.example.org or http://127.0.0.1:8080")
        if service not in SERVICES:
            raise DataError("geocoder", f"unknown geocoding service {service!r}: use "
                                        f"{' or '.join(SERVICES)}")
        public = parts.netloc.split(":")[0].endswith(NOMINATIM_DOMAIN)
        delay = min_delay_s if min_delay_s is not None else (POLICY_MIN_DELAY_S if public else 0.0)
        return cls(domain=parts.netloc, scheme=parts.scheme, min_delay_s=delay,
                   cache_path=cache_path, service=service, path=parts.path.rstrip("/"))

    @property
    def delay_s(self) -> float:
        """The delay actually used (the policy minimum for the public service)."""
        if self.domain.split(":")[0].endswith(NOMINATIM_DOMAIN):
            return max(self.min_delay_s, POLICY_MIN_DELAY_S)
        return max(self.min_delay_s, 0.0)

    @property
    def url(self) -> str:
        """The service's base URL, for messages."""
        return f"{self.scheme}://{self.domain}{self.path}"


@dataclass
class GeocodeResult:
    """What geocoding found.

    Attributes
    ----------
    frame
        The input rows with ``lat``, ``lon`` and ``location_source`` filled where located.
    not_located
        One line per row that needed geocoding and stayed without coordinates:
        ``row`` (spreadsheet row), ``query`` and ``reason``.
    located
        Number of rows located.
    requests
        Requests sent to the service (cache hits excluded).
    message
        A sentence for the user when the service could not be used, else None.
    stopped
        True when ``should_stop`` ended the run before every query was answered.
    """

    frame: pd.DataFrame
    not_located: pd.DataFrame
    located: int = 0
    requests: int = 0
    message: str | None = None
    stopped: bool = False


class GeocodeCache:
    """Answers of past queries in a SQLite file: query -> (lat, lon), or None when not found."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (query TEXT PRIMARY KEY, "
                             "lat REAL, lon REAL, at REAL)")

    def get(self, query: str) -> tuple[bool, tuple[float, float] | None]:
        """Return ``(known, answer)`` for a query."""
        if self._db is None:
            return False, None
        row = self._db.execute("SELECT lat, lon FROM answers WHERE query = ?", (query,)).fetchone()
        if row is None:
            return False, None
        return True, (None if row[0] is None else (float(row[0]), float(row[1])))

    def put(self, query: str, answer: tuple[float, float] | None) -> None:
        """Remember an answer (None: the service found nothing)."""
        if self._db is None:
            return
        lat, lon = answer if answer else (None, None)
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                             (query, lat, lon, time.time()))

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None


def nominatim_lookup(settings: GeocoderSettings) -> Lookup:
    """Return a function ``query -> (lat, lon) | None`` calling the service every ``delay_s``.

    Nominatim, or Photon when ``settings.service == "photon"`` (Photon takes no
    country restriction).
    """
    from geopy.extra.rate_limiter import RateLimiter
    from geopy.geocoders import Nominatim, Photon

    codes = list(settings.country_codes) or None
    if settings.service == "photon":
        photon = Photon(domain=settings.domain + settings.path, scheme=settings.scheme,
                        user_agent=settings.user_agent, timeout=settings.timeout_s)
        limited = RateLimiter(photon.geocode, min_delay_seconds=settings.delay_s,
                              max_retries=0, swallow_exceptions=False)
        kwargs: dict[str, object] = {}
    else:
        service = Nominatim(user_agent=settings.user_agent, domain=settings.domain + settings.path,
                            scheme=settings.scheme, timeout=settings.timeout_s)
        limited = RateLimiter(service.geocode, min_delay_seconds=settings.delay_s,
                              max_retries=0, swallow_exceptions=False)
        kwargs = {"country_codes": codes}

    def lookup(query: str) -> tuple[float, float] | None:
        place = limited(query, exactly_one=True, **kwargs)
        return None if place is None else (float(place.latitude), float(place.longitude))

    return lookup


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype="string")
    return df[column].astype("string").fillna("").str.strip()


def build_queries(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Compose one free-text query per row and say what it is based on.

    Returns
    -------
    query, source
        ``"address, postcode city, country"`` (blank parts left out) and
        ``"address"``; or ``"postcode city, country"`` and ``"postcode"`` when
        the row has no street address; ``""`` and ``<NA>`` when it has neither.
    """
    address, postcode = _text(df, "address"), _text(df, "postcode")
    place = (postcode + " " + _text(df, "city")).str.strip()
    country = _text(df, "country")

    def join(*parts: pd.Series) -> pd.Series:
        out = pd.Series("", index=df.index, dtype="string")
        for part in parts:
            sep = np.where((out != "") & (part != ""), ", ", "")
            out = out + sep + part
        return out

    has_address, has_postcode = address != "", postcode != ""
    query = join(address.where(has_address, ""), place, country)
    query = query.where(has_address | has_postcode, "")
    source = pd.Series(pd.NA, index=df.index, dtype="string")
    source[has_postcode] = "postcode"
    source[has_address] = "address"
    return query, source


def _cache_key(query: str) -> str:
    return " ".join(query.lower().split())


def needs_geocoding(df: pd.DataFrame) -> pd.Series:
    """True for rows with no latitude or no longitude but an address or a postcode."""
    lat = _text(df, "lat")
    lon = _text(df, "lon")
    query, _ = build_queries(df)
    return ((lat == "") | (lon == "")) & (query != "")


def geocode_missing(df: pd.DataFrame, settings: GeocoderSettings | None = None, *,
                    lookup: Lookup | None = None, progress: StepProgress | None = None,
                    should_stop: ShouldStop | None = None) -> GeocodeResult:
    """Fill ``lat``/``lon`` of rows that have an address or postcode and no coordinates.

    Parameters
    ----------
    df
        Rows with canonical names (``lat``, ``lon``, ``address``, ``postcode``,
        ``city``, ``country``), indexed by spreadsheet row.
    settings
        Service, rate limit and cache (see `GeocoderSettings`); defaults to the
        public Nominatim without a cache.
    lookup
        Replaces the service (``query -> (lat, lon) | None``), e.g. in tests.
    progress
        Called with ``(done, total)`` distinct queries after each answer.
    should_stop
        Asked before each request; True ends the run (answers so far are cached).

    Returns
    -------
    GeocodeResult
        Coordinates are written as text in degrees (EPSG:4326), like a CSV's.
    """
    settings = settings or GeocoderSettings()
    todo = needs_geocoding(df)
    empty = pd.DataFrame({"row": pd.Series(dtype="int64"), "query": pd.Series(dtype=object),
                          "reason": pd.Series(dtype=object)})
    if not todo.any():
        return GeocodeResult(df, empty)
    query, source = build_queries(df)
    rows = query.index[todo.to_numpy()]
    keys = [_cache_key(q) for q in query[rows]]
    answers, requests, message = _resolve(list(dict.fromkeys(keys)), settings, lookup,
                                          progress=progress, should_stop=should_stop)
    found = dict(zip(rows, (answers.get(k) for k in keys), strict=True))
    located = [(i, answer) for i in rows if isinstance(answer := found[i], tuple)]
    idx = [i for i, _ in located]
    missed = [i for i in rows if not isinstance(found[i], tuple)]
    out = df.copy()
    for name in ("lat", "lon", "location_source"):
        if name not in out.columns:
            out[name] = pd.Series(pd.NA, index=out.index, dtype="string")
        out[name] = out[name].astype("string")
    if idx:
        out.loc[idx, "lat"] = [repr(answer[0]) for _, answer in located]
        out.loc[idx, "lon"] = [repr(answer[1]) for _, answer in located]
        out.loc[idx, "location_source"] = source[idx].to_numpy()
    reasons = [_reason(found[i]) for i in missed]
    not_located = pd.DataFrame({"row": np.asarray(missed, dtype="int64"),
                                "query": query[missed].to_numpy(dtype=object),
                                "reason": reasons}) if missed else empty
    stopped = any(a == "stopped" for a in answers.values())
    return GeocodeResult(out, not_located, located=len(idx), requests=requests, message=message,
                         stopped=stopped)


def _reason(answer: object) -> str:
    if answer == "unavailable":
        return "not located: geocoding service unavailable"
    if answer == "stopped":
        return STOPPED
    return "not located: the geocoding service found no match"


def eta_seconds(done: int, total: int, elapsed_s: float, delay_s: float) -> float:
    """Seconds a geocoding run still needs: the queries left at the pace seen so far.

    The pace is the mean seconds per query so far, never below the service's
    delay (``delay_s``); before the first answer it is the delay alone.
    """
    left = max(total - done, 0)
    pace = max(elapsed_s / done if done else 0.0, delay_s)
    return float(left * pace)


def progress_text(done: int, total: int, eta_s: float) -> str:
    """``"120 of 900 addresses, about 13 min left"`` for a progress bar."""
    if eta_s >= 90:
        left = f"about {round(eta_s / 60):,} min left"
    else:
        left = f"about {max(round(eta_s), 0):,} s left"
    return f"{done:,} of {total:,} addresses, {left}"


def _resolve(keys: list[str], settings: GeocoderSettings, lookup: Lookup | None, *,
             progress: StepProgress | None = None,
             should_stop: ShouldStop | None = None) -> tuple[dict[str, object], int, str | None]:
    """Answer each distinct query from the cache, then the service; stop at the first outage.

    Each answer is ``(lat, lon)``, None when the service found nothing,
    ``"unavailable"`` for the queries left when it could not be reached, or
    ``"stopped"`` for those left when ``should_stop`` said so.
    """
    from geopy.exc import GeocoderServiceError, GeocoderTimedOut, GeocoderUnavailable

    cache = GeocodeCache(settings.cache_path)
    answers: dict[str, object] = {}
    requests, message = 0, None
    try:
        pending = []
        for key in keys:
            known, answer = cache.get(key)
            if known:
                answers[key] = answer
            else:
                pending.append(key)
        total, done = len(keys), len(keys) - len(pending)
        if progress is not None:
            progress(done, total)
        if pending:
            ask = lookup or nominatim_lookup(settings)
            for i, key in enumerate(pending):
                if should_stop is not None and should_stop():
                    answers.update({k: "stopped" for k in pending[i:]})
                    break
                try:
                    requests += 1
                    answer = ask(key)
                except (GeocoderUnavailable, GeocoderTimedOut, GeocoderServiceError, OSError) as exc:
                    left = len(pending) - i
                    message = (f"geocoding service {settings.url} could not be used "
                               f"({type(exc).__name__}: {exc}); {left} address(es) stay not located. "
                               "Check the internet connection or add lat/lon to the file.")
                    answers.update({k: "unavailable" for k in pending[i:]})
                    break
                answers[key] = answer
                cache.put(key, answer)
                if progress is not None:
                    progress(done + i + 1, total)
    finally:
        cache.close()
    return answers, requests, message
