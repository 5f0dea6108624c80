"""Locate the rows of an import that have no coordinates: by postcode, by address, or both.

Three modes (``geo import --geocode MODE``):

``postcode``
    Offline, from GeoNames' postcode tables (`geo.data.postcodes`): thousands
    of rows a second once a country's table is on disk. Quality ``postcode``.
``address``
    The geocoding service (`geo.data.geocode`: Nominatim at one request a
    second, or a self-hosted server) for every row that needs it, with the
    street address when there is one (quality ``address``), else the postcode
    and city (quality ``postcode``).
``all``
    The service only for rows with a street address; the postcode tables for
    the others and for the addresses the service could not find (or that a
    stopped run did not reach).

Every row that needed locating and stays without coordinates gets a reason
beginning "not located".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.data.geocode import (
    GeocoderSettings,
    GeocodeResult,
    Lookup,
    ShouldStop,
    StepProgress,
    build_queries,
    geocode_missing,
    needs_geocoding,
)
from geo.data.postcodes import PostcodeBook, locate_postcodes, postcode_dir
from geo.errors import DataError

GEOCODE_MODES = ("postcode", "address", "all")
NO_POSTCODE = ("not located: no postcode to look up (street addresses need the geocoding "
               "service: --geocode address or all)")


def check_geocode_mode(mode: str) -> str:
    """Return ``mode`` if it is one of `GEOCODE_MODES`, else raise `DataError`."""
    if mode not in GEOCODE_MODES:
        raise DataError("geocode", f"unknown geocoding mode {mode!r}: use one of "
                                   f"{', '.join(GEOCODE_MODES)}")
    return mode


@dataclass
class LocatePlan:
    """How to locate rows without coordinates.

    Parameters
    ----------
    mode
        One of `GEOCODE_MODES`.
    geocoder, lookup
        The geocoding service (see `geo.data.geocode.geocode_missing`); the public
        Nominatim when both are None and the mode needs the service.
    postcodes
        The postcode tables; `postcode_dir` with downloads allowed when None.
    progress, should_stop
        Passed to the service's run (progress bar, Stop button).
    """

    mode: str = "address"
    geocoder: GeocoderSettings | None = None
    lookup: Lookup | None = None
    postcodes: PostcodeBook | None = None
    progress: StepProgress | None = None
    should_stop: ShouldStop | None = None

    def book(self) -> PostcodeBook:
        """The postcode tables (created on first use, then kept for the next chunks)."""
        if self.postcodes is None:
            self.postcodes = PostcodeBook(postcode_dir())
        return self.postcodes


@dataclass
class LocateCounts:
    """Rows located by postcode, by address, and rows that needed it but stayed unlocated."""

    postcode: int = 0
    address: int = 0
    failed: int = 0
    stopped: bool = False
    messages: list[str] = field(default_factory=list)

    def add(self, other: LocateCounts) -> None:
        """Add another chunk's counts to these."""
        self.postcode += other.postcode
        self.address += other.address
        self.failed += other.failed
        self.stopped |= other.stopped
        self.messages += [m for m in other.messages if m not in self.messages]

    def as_dict(self) -> dict[str, int]:
        """``{"postcode", "address", "failed"}`` as the command line prints them."""
        return {"postcode": self.postcode, "address": self.address, "failed": self.failed}


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype="string")
    return df[column].astype("string").fillna("").str.strip()


def _prepared(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for name in ("lat", "lon", "location_source"):
        if name not in out.columns:
            out[name] = pd.Series(pd.NA, index=out.index, dtype="string")
        out[name] = out[name].astype("string")
    return out


def _by_service(out: pd.DataFrame, rows: pd.Index, plan: LocatePlan, counts: LocateCounts,
                reasons: dict[int, str]) -> None:
    """Geocode ``rows`` through the service, writing into ``out`` and ``reasons``."""
    if len(rows) == 0:
        return
    result = geocode_missing(out.loc[rows], plan.geocoder, lookup=plan.lookup,
                             progress=plan.progress, should_stop=plan.should_stop)
    src = result.frame["location_source"]
    hit = rows[result.frame.loc[rows, "lat"].fillna("").ne("").to_numpy()
               & out.loc[rows, "lat"].fillna("").eq("").to_numpy()]
    for name in ("lat", "lon", "location_source"):
        out.loc[hit, name] = result.frame.loc[hit, name]
    counts.address += int((src[hit] == "address").sum())
    counts.postcode += int((src[hit] == "postcode").sum())
    counts.stopped |= result.stopped
    if result.message:
        counts.messages.append(result.message)
    for row, reason in zip(result.not_located["row"], result.not_located["reason"], strict=True):
        reasons[int(row)] = str(reason)


def _by_postcode(out: pd.DataFrame, rows: pd.Index, plan: LocatePlan, counts: LocateCounts,
                 reasons: dict[int, str]) -> None:
    """Look ``rows`` up in the postcode tables, writing into ``out`` and ``reasons``."""
    if len(rows) == 0:
        return
    found = locate_postcodes(_text(out, "postcode")[rows], _text(out, "country")[rows],
                             plan.book())
    ok = found.located.to_numpy(dtype=bool)
    hit = rows[ok]
    out.loc[hit, "lat"] = [repr(float(v)) for v in found.lat[hit]]
    out.loc[hit, "lon"] = [repr(float(v)) for v in found.lon[hit]]
    out.loc[hit, "location_source"] = "postcode"
    counts.postcode += len(hit)
    if reasons:
        for row in hit:
            reasons.pop(int(row), None)
    for row in rows[~ok]:
        earlier = reasons.get(int(row))
        why = f"not located: {found.reasons[row]}"
        reasons[int(row)] = f"{earlier}; {why.removeprefix('not located: ')}" if earlier else why


def locate_missing(df: pd.DataFrame, plan: LocatePlan) -> tuple[GeocodeResult, LocateCounts]:
    """Fill ``lat``/``lon``/``location_source`` of rows that need locating, as ``plan`` says.

    Rows without coordinates need locating; so do rows located only by an IP
    estimate (``location_source`` ``ip``, e.g. Mailchimp's) that have a postcode
    or an address: they take the better position when one is found and keep
    their estimate otherwise (they are not counted as failed).

    Parameters
    ----------
    df
        Rows with canonical names (``lat``, ``lon``, ``address``, ``postcode``,
        ``city``, ``country``), indexed by spreadsheet row.
    plan
        Mode and services (see `LocatePlan`).

    Returns
    -------
    result, counts
        The rows (coordinates as text, degrees EPSG:4326) with one ``not_located``
        line per row left without coordinates; and the counts by method.
    """
    check_geocode_mode(plan.mode)
    query, _ = build_queries(df)
    weak = ((_text(df, "location_source").str.lower() == "ip") & (query != "")).to_numpy(dtype=bool)
    if not weak.any():
        return _locate_rows(df, plan)
    work = _prepared(df)
    work.loc[weak, ["lat", "lon"]] = ""
    result, counts = _locate_rows(work, plan)
    out = result.frame
    kept = df.index[weak & out["lat"].fillna("").eq("").to_numpy(dtype=bool)]
    for name in ("lat", "lon"):
        out.loc[kept, name] = df.loc[kept, name].astype("string")
    out.loc[kept, "location_source"] = "ip"
    result.not_located = result.not_located[~result.not_located["row"].isin(kept)]
    result.not_located = result.not_located.reset_index(drop=True)
    counts.failed -= len(kept)
    return result, counts


def _locate_rows(df: pd.DataFrame, plan: LocatePlan) -> tuple[GeocodeResult, LocateCounts]:
    """`locate_missing` for the rows without coordinates."""
    mode = plan.mode
    counts = LocateCounts()
    todo = needs_geocoding(df)
    empty = pd.DataFrame({"row": pd.Series(dtype="int64"), "query": pd.Series(dtype=object),
                          "reason": pd.Series(dtype=object)})
    if not todo.any():
        return GeocodeResult(df, empty), counts
    out = _prepared(df)
    rows = df.index[todo.to_numpy(dtype=bool)]
    has_street = (_text(df, "address") != "")[rows].to_numpy(dtype=bool)
    has_postcode = (_text(df, "postcode") != "")[rows].to_numpy(dtype=bool)
    reasons: dict[int, str] = {}
    if mode == "address":
        _by_service(out, rows, plan, counts, reasons)
    elif mode == "all":
        _by_service(out, rows[has_street], plan, counts, reasons)
    if mode in ("postcode", "all"):
        left = out.loc[rows, "lat"].fillna("").eq("").to_numpy(dtype=bool)
        _by_postcode(out, rows[left & has_postcode], plan, counts, reasons)
        for row in rows[left & ~has_postcode]:
            reasons.setdefault(int(row), NO_POSTCODE)
    missed = list(rows[out.loc[rows, "lat"].fillna("").eq("").to_numpy(dtype=bool)])
    query, _ = build_queries(df)
    not_located = pd.DataFrame({
        "row": np.asarray(missed, dtype="int64"),
        "query": query[missed].to_numpy(dtype=object),
        "reason": [reasons.get(int(r), "not located: no address or postcode found")
                   for r in missed]}) if missed else empty
    counts.failed = len(missed)
    located = len(rows) - len(missed)
    message = "; ".join(counts.messages) or None
    return GeocodeResult(out, not_located, located=located, message=message,
                         stopped=counts.stopped), counts
