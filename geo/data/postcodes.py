"""Locate rows by postcode, offline, from GeoNames' postal-code tables (through `pgeocode`).

Each country's table is downloaded once by `pgeocode` (GeoNames, CC BY 4.0:
"postal code data © GeoNames") and kept on disk in the *postcode folder*:
``PGEOCODE_DATA_DIR`` when set (so an offline machine can be pre-filled), else
``DATA_ROOT/cache/pgeocode``. A table there is read in either form: pgeocode's
cache (``XX.txt``, comma-separated with a header) or GeoNames' own download
(``XX.txt`` tab-separated without a header, or the ``XX.zip`` holding it).

A postcode is compared upper-cased with its blanks collapsed; a US ZIP+4 keeps
its five digits; Great Britain, Ireland and Canada keep the outward part (the
tables hold only that); a code of digits that lost its leading zeros in a
spreadsheet (``1067`` for ``01067``) is padded to the country's length. Each
postcode gets the mean position of its places: location quality "postcode".
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import DataError

GEONAMES_FIELDS = ("country_code", "postal_code", "place_name", "state_name", "state_code",
                   "county_name", "county_code", "community_name", "community_code",
                   "latitude", "longitude", "accuracy")
OUTWARD_ONLY = ("GB", "IE", "CA")
GEONAMES_URL = "https://download.geonames.org/export/zip/"
ATTRIBUTION = "Postcode positions: GeoNames (CC BY 4.0)"

#: Country names (lower case) as exports write them, to ISO 3166-1 alpha-2.
COUNTRY_NAMES = {
    "united states": "US", "united states of america": "US", "usa": "US", "u.s.a.": "US",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "ireland": "IE", "canada": "CA", "australia": "AU",
    "new zealand": "NZ", "germany": "DE", "deutschland": "DE", "france": "FR",
    "spain": "ES", "españa": "ES", "italy": "IT", "italia": "IT", "netherlands": "NL",
    "the netherlands": "NL", "nederland": "NL", "belgium": "BE", "belgique": "BE",
    "austria": "AT", "österreich": "AT", "switzerland": "CH", "schweiz": "CH", "suisse": "CH",
    "finland": "FI", "suomi": "FI", "sweden": "SE", "sverige": "SE", "norway": "NO",
    "norge": "NO", "denmark": "DK", "danmark": "DK", "poland": "PL", "polska": "PL",
    "portugal": "PT", "czechia": "CZ", "czech republic": "CZ", "japan": "JP", "mexico": "MX",
    "méxico": "MX", "brazil": "BR", "brasil": "BR", "india": "IN", "south africa": "ZA",
    "estonia": "EE", "latvia": "LV", "lithuania": "LT", "luxembourg": "LU",
}


def postcode_dir(data_root: Path | None = None) -> Path:
    """The folder of postcode tables: ``PGEOCODE_DATA_DIR``, else ``data_root/cache/pgeocode``.

    Without ``data_root`` the project's data root (`geo.workspace.default_root`) is used.
    """
    env = os.environ.get("PGEOCODE_DATA_DIR")
    if env:
        return Path(env)
    if data_root is None:
        from geo.workspace import default_root

        data_root = default_root()
    return Path(data_root) / "cache" / "pgeocode"


def country_codes(values: pd.Series, default: str | None = None) -> pd.Series:
    """ISO alpha-2 code per row from a code or an English/local name; ``default`` where blank.

    Unknown names stay as written (upper-cased), so the report can name them.
    """
    text = values.astype("string").fillna("").str.strip()
    lower = text.str.lower()
    named = lower.map(COUNTRY_NAMES).astype("string")
    out = named.fillna(text.str.upper())
    if default:
        out = out.mask(out == "", default.strip().upper())
    return out.mask(out == "")


def normalise_postcodes(postcodes: pd.Series, country: str,
                        digits: int | None = None) -> pd.Series:
    """Postcodes as the country's table writes them (see the module notes).

    Parameters
    ----------
    postcodes
        Postcodes as exported (any case and spacing).
    country
        ISO alpha-2 code.
    digits
        The country's length of all-digit codes (pads shorter ones with zeros); None leaves them.
    """
    text = postcodes.astype("string").fillna("").str.strip().str.removeprefix("'").str.upper()
    text = text.str.replace(r"\s+", " ", regex=True)
    if country in OUTWARD_ONLY:
        text = text.str.split(" ").str[0]
    if country == "US":
        text = text.str.replace(r"^(\d{5})-?\d{4}$", r"\1", regex=True)
    if digits:
        short = text.str.fullmatch(r"\d+").fillna(False) & (text.str.len() < digits)
        text = text.mask(short, text.str.zfill(digits))
    return text


@dataclass(frozen=True)
class PostcodeTable:
    """One country's postcodes: normalised code → mean latitude and longitude (degrees, EPSG:4326)."""

    country: str
    codes: pd.Index
    lat: np.ndarray
    lon: np.ndarray
    digits: int | None = None

    @classmethod
    def from_geonames(cls, raw: pd.DataFrame, country: str) -> PostcodeTable:
        """Index a table with GeoNames' columns (``postal_code``, ``latitude``, ``longitude``)."""
        if "country_code" in raw:
            land = raw["country_code"].astype("string")
            data = raw.loc[(land.str.upper() == country).fillna(False).to_numpy(dtype=bool)]
        else:
            data = raw
        codes = normalise_postcodes(data["postal_code"], country)
        frame = pd.DataFrame({"code": codes.to_numpy(),
                              "lat": pd.to_numeric(data["latitude"], errors="coerce").to_numpy(),
                              "lon": pd.to_numeric(data["longitude"], errors="coerce").to_numpy()})
        frame = frame.dropna().loc[lambda f: f["code"] != ""]
        means = frame.groupby("code", sort=True)[["lat", "lon"]].mean()
        numeric = means.index.str.fullmatch(r"\d+")
        lengths = means.index[numeric].str.len()
        digits = int(pd.Series(lengths).mode().iloc[0]) if len(lengths) else None
        return cls(country, means.index, means["lat"].to_numpy(float),
                   means["lon"].to_numpy(float), digits)

    def locate(self, postcodes: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Latitude, longitude (NaN where unknown) and a found flag per postcode."""
        keys = normalise_postcodes(postcodes, self.country, self.digits)
        pos = self.codes.get_indexer(keys.fillna(""))
        found = pos >= 0
        safe = np.where(found, pos, 0)
        lat = np.where(found, self.lat[safe] if len(self.lat) else np.nan, np.nan)
        lon = np.where(found, self.lon[safe] if len(self.lon) else np.nan, np.nan)
        return lat, lon, found


def _read_table_file(path: Path, country: str) -> pd.DataFrame:
    """Read ``XX.txt`` (pgeocode's CSV cache or GeoNames' tab file) or GeoNames' ``XX.zip``."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            text = archive.read(f"{country}.txt").decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    first = text.split("\n", 1)[0]
    if first.startswith("country_code"):
        return pd.read_csv(io.StringIO(text), dtype={"postal_code": str}, keep_default_na=False,
                           na_values=[""])
    return pd.read_csv(io.StringIO(text), sep="\t", header=None, names=list(GEONAMES_FIELDS),
                       dtype={"postal_code": str, "country_code": str}, keep_default_na=False,
                       na_values=[""], quoting=3)


@contextlib.contextmanager
def _pgeocode_storage(directory: Path) -> Iterator[None]:
    """Point pgeocode's download cache at ``directory`` for one call, then put it back."""
    import pgeocode

    before = pgeocode.STORAGE_DIR
    pgeocode.STORAGE_DIR = str(directory)
    try:
        yield
    finally:
        pgeocode.STORAGE_DIR = before


def download_table(country: str, directory: Path) -> Path:
    """Download ``country``'s GeoNames table into ``directory`` through pgeocode; return its path.

    Raises
    ------
    DataError
        pgeocode does not know the country, or the download failed.
    """
    import pgeocode

    if country not in pgeocode.COUNTRIES_VALID:
        raise DataError("postcodes", f"GeoNames has no postcode table for country {country!r}")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with _pgeocode_storage(directory):
            pgeocode.Nominatim(country)
    except Exception as exc:  # urllib and pandas raise many types when offline
        raise DataError("postcodes", (
            f"could not download the GeoNames postcode table for {country} "
            f"({type(exc).__name__}: {exc}). On a machine without internet put {country}.zip "
            f"from {GEONAMES_URL} (or pgeocode's {country}.txt) in {directory}, or set "
            "PGEOCODE_DATA_DIR to a folder that holds it")) from None
    return directory / f"{country}.txt"


INDEX_SUFFIX = ".geo-index.parquet"


def _index_path(source: Path) -> Path:
    return source.with_name(source.stem + INDEX_SUFFIX)


def _read_index(source: Path, country: str) -> PostcodeTable | None:
    """The table's index written by `_write_index`, if it is newer than the table, else None."""
    index = _index_path(source)
    try:
        if not index.is_file() or index.stat().st_mtime < source.stat().st_mtime:
            return None
        frame = pd.read_parquet(index)
    except (OSError, ValueError):
        return None
    numeric = frame["code"].str.fullmatch(r"\d+").fillna(False)
    lengths = frame.loc[numeric, "code"].str.len()
    digits = int(lengths.mode().iloc[0]) if len(lengths) else None
    return PostcodeTable(country, pd.Index(frame["code"].astype(str)), frame["lat"].to_numpy(float),
                         frame["lon"].to_numpy(float), digits)


def _write_index(source: Path, table: PostcodeTable) -> None:
    """Keep the indexed table next to its source (skipped when the folder is read-only)."""
    frame = pd.DataFrame({"code": table.codes.astype(str), "lat": table.lat, "lon": table.lon})
    try:
        frame.to_parquet(_index_path(source), index=False)
    except OSError:
        pass


def _load_file(path: Path, country: str) -> PostcodeTable:
    cached = _read_index(path, country)
    if cached is not None:
        return cached
    try:
        table = PostcodeTable.from_geonames(_read_table_file(path, country), country)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(str(path), f"not a GeoNames postcode table ({exc})") from None
    _write_index(path, table)
    return table


def load_table(country: str, directory: Path, *, download: bool = True) -> PostcodeTable:
    """One country's postcode table from ``directory``, downloaded first if missing and allowed.

    The indexed table (mean position per normalised postcode) is kept beside
    the source as ``XX.geo-index.parquet`` and read instead while it is newer.

    Raises
    ------
    DataError
        No table on disk and ``download`` is False, or the download failed.
    """
    country = country.upper()
    for name in (f"{country}.txt", f"{country}.zip"):
        path = directory / name
        if path.is_file():
            return _load_file(path, country)
    if not download:
        raise DataError("postcodes", f"no postcode table for {country} in {directory}: put "
                                     f"{country}.zip from {GEONAMES_URL} there")
    return _load_file(download_table(country, directory), country)


@dataclass
class PostcodeBook:
    """The postcode tables of one import, loaded once per country as rows need them.

    Parameters
    ----------
    directory
        The postcode folder (see `postcode_dir`).
    default_country
        ISO alpha-2 code for rows without a country (``--country``).
    download
        Whether a missing table may be downloaded (pgeocode, once per country).
    """

    directory: Path
    default_country: str | None = None
    download: bool = True
    tables: dict[str, PostcodeTable | str] = field(default_factory=dict)

    def table(self, country: str) -> PostcodeTable | str:
        """The country's table, or the reason it cannot be had (remembered for the next rows)."""
        if country not in self.tables:
            try:
                self.tables[country] = load_table(country, self.directory, download=self.download)
            except DataError as exc:
                self.tables[country] = exc.reason
        return self.tables[country]


@dataclass
class PostcodeResult:
    """Rows located by postcode: positions (NaN where not) and a reason per row not located."""

    lat: pd.Series
    lon: pd.Series
    reasons: pd.Series

    @property
    def located(self) -> pd.Series:
        """True where a row got a position."""
        return self.lat.notna()


def locate_postcodes(postcodes: pd.Series, countries: pd.Series,
                     book: PostcodeBook) -> PostcodeResult:
    """Look up each row's postcode in its country's table.

    Parameters
    ----------
    postcodes
        Postcodes as exported.
    countries
        Country per row (code or name); blank rows use ``book.default_country``.
    book
        Where the tables come from.

    Returns
    -------
    PostcodeResult aligned with ``postcodes``; the reasons say "unknown
    postcode 12345 in DE", "no country" or why a country's table is missing.
    """
    index = postcodes.index
    lat = pd.Series(np.nan, index=index)
    lon = pd.Series(np.nan, index=index)
    reasons = pd.Series(pd.NA, index=index, dtype="string")
    codes = country_codes(countries, book.default_country)
    reasons[codes.isna()] = ("no country to look the postcode up in: add a country column "
                             "or give the country (--country XX)")
    for country in codes.dropna().unique():
        rows = codes.index[(codes == country).to_numpy(dtype=bool, na_value=False)]
        if not re.fullmatch(r"[A-Z]{2}", str(country)):
            reasons[rows] = f"unknown country {country!r} (use a two-letter code such as DE)"
            continue
        table = book.table(str(country))
        if isinstance(table, str):
            reasons[rows] = table
            continue
        la, lo, found = table.locate(postcodes[rows])
        lat[rows], lon[rows] = la, lo
        missed = rows[~found]
        reasons[missed] = [f"unknown postcode {p!r} in {country}" for p in postcodes[missed]]
    return PostcodeResult(lat, lon, reasons)
