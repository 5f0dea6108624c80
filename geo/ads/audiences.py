"""Hashed customer lists for Google Customer Match and Meta custom audiences, advertising consent first.

Who is on a list: the treatment members of a target list (a saved campaign
or one store's catchment), never the holdout nor any other record of a
holdout address, and only addresses whose every record gave advertising
consent (``ads_consent`` true; `geo.data.consent.advertisable`). Advertising
consent is not e-mail consent: without an ``ads_consent`` column, or when no
record has a value in it (customers imported from files without one),
nothing is exported (`AdsConsentMissing` says why). The identifiers come from
the customers table as imported (`geo.data.schema.AD_FIELDS`: ``last_name``,
``phone``, ``postcode``, ``city``, ``region``, ``country``), joined to the
targets by ``customer_id``. The platforms need about 100 matched members
before a list is usable (`MIN_MEMBERS`); smaller lists are flagged, not refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo.access import Actor, actor_or_local
from geo.ads import hashing as h
from geo.audit import record
from geo.data.consent import advertisable
from geo.data.validate import TRUE_WORDS
from geo.errors import DataError, GeoError
from geo.keys import email_keys
from geo.workspace import Workspace

PLATFORMS = ("google", "meta")
COLUMNS = {"google": ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"],
           "meta": ["email", "phone", "fn", "ln", "zip", "ct", "st", "country"]}
MIN_MEMBERS = 100
"""Members a platform list needs to be usable (both platforms, about; see ad-platforms.md)."""
CONSENT = "ads_consent"
#: our column (the customers table's, `geo.data.schema.AD_FIELDS`) -> names accepted in a
#: target or customers file given on the command line
ALIASES = {"postcode": ("postcode", "zip", "postal_code", "zip_code"),
           "region": ("region", "state", "province"),
           "last_name": ("last_name", "surname"), "phone": ("phone", "phone_number"),
           "city": ("city",), "country": ("country", "country_code"), CONSENT: (CONSENT,)}
PERSONAL = tuple(ALIASES)
SKIPPED_COLUMNS = ["customer_id", "email", "reason"]


class AdsConsentMissing(GeoError):
    """The customer data has no ``ads_consent`` value: no one may be put on an ad list."""


@dataclass
class AdAudience:
    """A platform's customer list, ready to upload by hand.

    Attributes
    ----------
    platform
        ``google`` or ``meta``.
    rows
        The upload file's rows in the platform's `COLUMNS` (hashed hex,
        Google's Country and Zip in clear, blanks empty).
    skipped
        Candidates left out and why (``customer_id, email, reason``).
    """

    platform: str
    rows: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS))

    @property
    def members(self) -> int:
        """Rows on the list."""
        return int(len(self.rows))

    @property
    def below_minimum(self) -> bool:
        """True when the list is under `MIN_MEMBERS` (the platform will not serve it)."""
        return self.members < MIN_MEMBERS

    def warning(self) -> str | None:
        """Why the list may not be usable, or None."""
        if not self.below_minimum:
            return None
        return (f"{self.members} members: {self.platform.title()} needs about {MIN_MEMBERS} "
                "matched people before it serves a list; widen the catchment or combine stores")

    def csv_bytes(self) -> bytes:
        """The upload file (UTF-8 CSV with the platform's headers)."""
        text: str = self.rows.to_csv(index=False)
        return text.encode("utf-8")

    def release(self, *, actor: Actor | None = None, workspace: Workspace | None = None,
                campaign: str | None = None) -> bytes:
        """The upload file, for someone allowed to download (marketer or admin).

        Personal data leaves the app here: the role is checked
        (`geo.access.require` ``download``) and, given the workspace, the
        download is written to its audit trail with the member count.
        """
        who = actor_or_local(actor)
        who.require("download")
        data = self.csv_bytes()
        if workspace is not None:
            record(workspace, "download", self.members, actor=who,
                   layout=f"{self.platform}-audience", campaign=campaign)
        return data

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts: members, skipped per reason, the minimum flag."""
        return {"platform": self.platform, "members": self.members,
                "below_minimum": self.below_minimum, "minimum": MIN_MEMBERS,
                "warning": self.warning(),
                "skipped": {str(k): int(v) for k, v in
                            self.skipped["reason"].value_counts().items()}}


def _flag(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean").fillna(False).astype(bool)
    return s.astype("string").str.strip().str.lower().isin(TRUE_WORDS).fillna(False).astype(bool)


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Rename accepted aliases to our names (`ALIASES`), first match wins."""
    lower = {str(c).strip().lower(): c for c in df.columns}
    renames = {}
    for ours, names in ALIASES.items():
        if ours in df.columns:
            continue
        hit = next((lower[n] for n in names if n in lower), None)
        if hit is not None:
            renames[hit] = ours
    return df.rename(columns=renames)


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("string").str.strip() == "").fillna(True)


def _require_consent(t: pd.DataFrame, file: str) -> None:
    """Raise `AdsConsentMissing` unless some record carries an ``ads_consent`` value."""
    if CONSENT not in t.columns:
        raise AdsConsentMissing(
            f"{file}: no {CONSENT} column, so nothing is exported. E-mail consent does not "
            f"cover advertising: add an {CONSENT} column (yes/no per customer) to the customers "
            "file and import it again")
    if _blank(t[CONSENT]).all():
        raise AdsConsentMissing(
            f"{file}: no {CONSENT} column in the customers as imported (every value is blank), "
            "so nothing is exported. E-mail consent does not cover advertising: import the "
            f"customers again from a file with an {CONSENT} column (yes/no per customer)")


def _advertisable(df: pd.DataFrame) -> pd.Series:
    """`geo.data.consent.advertisable` of a table whose ``ads_consent`` may be text (yes/no)."""
    flags = df.assign(**{CONSENT: _flag(df[CONSENT]).to_numpy()})
    return pd.Series(advertisable(flags), index=df.index)


def ad_candidates(targets: pd.DataFrame, customers: pd.DataFrame | None = None, *,
                  file: str = "targets") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The treatment members who may go on an ad list, and those who may not (with reasons).

    Parameters
    ----------
    targets
        A target list (``customer_id, email``, optional ``group``, ``store_id``)
        or any customer table; personal columns (`ALIASES`) missing from it
        are taken from ``customers`` by ``customer_id``.
    customers
        The customers table with ``ads_consent`` (and phone, names, postcode...),
        usually the workspace's; every record of an address counts for the
        consent rule, a blank ``ads_consent`` as no.
    file
        Name used in messages.

    Raises
    ------
    AdsConsentMissing
        When neither table has an ``ads_consent`` column, or no target has a value in it.
    DataError
        When ``customer_id`` or ``email`` is missing.
    """
    t = _canonical(targets.reset_index(drop=True))
    for col in ("customer_id", "email"):
        if col not in t.columns:
            raise DataError(file, f"missing column {col}", column=col)
    people = _canonical(customers) if customers is not None else None
    if people is not None:
        extra = [c for c in ("first_name", *PERSONAL) if c in people.columns and c not in t.columns]
        if extra:
            info = people.assign(customer_id=people["customer_id"].astype("string"))
            info = info.drop_duplicates("customer_id").set_index("customer_id")[extra]
            ids = t["customer_id"].astype("string")
            t = t.assign(**{c: ids.map(info[c]) for c in extra})
    _require_consent(t, file)
    key = email_keys(t["email"])
    group = (t["group"].astype("string").str.lower() if "group" in t.columns
             else pd.Series("treatment", index=t.index, dtype="string"))
    held = set(key[group == "holdout"].dropna())
    refusing = set(key[~_advertisable(t)].dropna())
    if people is not None and CONSENT in people.columns:
        refusing |= set(email_keys(people["email"])[~_advertisable(people)].dropna())
    reason = pd.Series(pd.NA, index=t.index, dtype="string")

    def skip(mask: pd.Series, why: str) -> None:
        new = (mask.fillna(False) & reason.isna()).to_numpy(bool)
        reason[new] = why

    skip(group == "holdout", "holdout: never exported")
    skip(group != "treatment", "not in the treatment group")
    skip(key.isin(held), "address in the holdout: never exported")
    skip(key.isin(refusing), "no advertising consent on some record of the address")
    skip(key.isna(), "no e-mail address")
    skip(key.duplicated() & reason.isna(), "second record of an address")
    keep = reason.isna().to_numpy(bool)
    skipped = t.loc[~keep, ["customer_id", "email"]].assign(reason=reason[~keep])
    return t.loc[keep].reset_index(drop=True), skipped[SKIPPED_COLUMNS].reset_index(drop=True)


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(None, index=df.index, dtype=object)


def _each(values: pd.Series, fn: Callable[[object], str | None]) -> list[str | None]:
    return [fn(v) for v in values.astype(object)]


def _hashed(values: list[str | None]) -> list[str | None]:
    return [h.sha256_hex(v) for v in values]


def _countries(df: pd.DataFrame, default_country: str | None) -> list[str | None]:
    given = _each(_col(df, "country"), h.country_code)
    fallback = h.country_code(default_country)
    return [c or fallback for c in given]


def audience_rows(candidates: pd.DataFrame, platform: str, *,
                  default_country: str | None = None) -> pd.DataFrame:
    """Normalise and hash the candidates into the platform's upload columns.

    Parameters
    ----------
    candidates
        `ad_candidates` output (``email``, optional ``phone, first_name,
        last_name, postcode, city, region, country``).
    platform
        ``google`` or ``meta``.
    default_country
        ISO 3166-1 alpha-2 code for rows without a country (phone numbers
        written without a country code are read in it).
    """
    if platform not in PLATFORMS:
        raise GeoError(f"unknown ad platform {platform!r}; use google or meta")
    country = _countries(candidates, default_country)
    phones = [h.phone_e164(p, c) for p, c in
              zip(_col(candidates, "phone").astype(object), country, strict=True)]
    if platform == "google":
        out = pd.DataFrame({
            "Email": _hashed(_each(candidates["email"], h.email_google)),
            "Phone": _hashed(phones),
            "First Name": _hashed(_each(_col(candidates, "first_name"), h.name_google)),
            "Last Name": _hashed(_each(_col(candidates, "last_name"), h.name_google)),
            "Country": country,
            "Zip": _each(_col(candidates, "postcode"), h.zip_google)})
    else:
        out = pd.DataFrame({
            "email": _hashed(_each(candidates["email"], h.email_meta)),
            "phone": _hashed([p[1:] if p else None for p in phones]),
            "fn": _hashed(_each(_col(candidates, "first_name"), h.letters_only)),
            "ln": _hashed(_each(_col(candidates, "last_name"), h.letters_only)),
            "zip": _hashed(_each(_col(candidates, "postcode"), h.zip_meta)),
            "ct": _hashed(_each(_col(candidates, "city"), h.letters_only)),
            "st": _hashed(_each(_col(candidates, "region"), h.letters_only)),
            "country": _hashed([c.lower() if c else None for c in country])})
    return out[COLUMNS[platform]]


def build_audience(targets: pd.DataFrame, platform: str, *,
                   customers: pd.DataFrame | None = None, store_id: str | None = None,
                   default_country: str | None = None, file: str = "targets") -> AdAudience:
    """The platform list of a target list (optionally one store's members); see the module notes.

    Raises
    ------
    AdsConsentMissing
        No ``ads_consent`` value anywhere: nothing is exported.
    """
    if store_id is not None:
        if "store_id" not in targets.columns:
            raise DataError(file, "no store_id column to pick a store's members", column="store_id")
        targets = targets[targets["store_id"].astype("string") == str(store_id)]
    candidates, skipped = ad_candidates(targets, customers, file=file)
    rows = audience_rows(candidates, platform, default_country=default_country)
    identified = rows[[c for c in rows.columns if c.lower() in ("email", "phone")]].notna().any(axis=1)
    if not identified.all():
        lost = candidates.loc[~identified.to_numpy(bool), ["customer_id", "email"]]
        skipped = pd.concat([skipped, lost.assign(reason="no usable e-mail or phone")],
                            ignore_index=True)
        rows = rows[identified.to_numpy(bool)].reset_index(drop=True)
    return AdAudience(platform, rows, skipped)
