"""Recognise the exports marketers have (Shopify, Mailchimp, Klaviyo, tills) and map them.

A *layout* is a known export format: the headers that give it away, the
column that feeds each canonical column, and a preparation step that adds
*derived* columns a format needs but does not hold as such:

- Shopify customers: ``Customer ID`` (Excel's leading ``'`` removed), consent
  from ``Accepts Email Marketing`` (``Accepts Marketing`` in older files),
  ``Total Orders`` into ``online_orders_12m``, the default address into the
  location fields (``Province Code`` into ``region``), ``Last Name`` and ``Phone``
  for the ad-platform lists.
- Mailchimp audience: no consent column, the status is the file's (one CSV per
  status, alone or in the export's ZIP): ``subscribed`` files opt in,
  ``unsubscribed`` and ``cleaned`` files set consent off (never on), a file
  whose status cannot be told opts nobody in. ``ADDRESS`` is one cell with
  its parts separated by two spaces; ``LATITUDE``/``LONGITUDE`` are
  Mailchimp's own estimate, so located rows get location quality ``ip``.
  ``Last Name`` and ``Phone Number`` merge fields are kept where present.
- Klaviyo profiles: consent from ``Email Marketing Consent`` (``SUBSCRIBED``
  opts in; ``UNSUBSCRIBED`` and ``SUPPRESSED`` set unsubscribed), location
  fields under their CSV or API spellings (``Zip Code``/``zip``/``$zip``...),
  ``State / Region`` into ``region``, last name and phone number.
- Tills (redemptions): Square's transactions CSV (no coupon-code column) and
  Shopify's orders export (``Discount Code``); see `geo.data.tills` for the
  ``Location`` to ``store_id`` table.

Derived columns are named ``"(derived) NAME"``; they show in the preview and
the mapping like the file's own columns, so the user can still change the
mapping. Header spellings are compared after `geo.data.columns.normalise_header`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pandas as pd

from geo.data.columns import normalise_header
from geo.errors import DataError
from geo.keys import email_keys

DERIVED = "(derived) "
AUTO = "auto"


def derived(name: str) -> str:
    """The header of a derived column (``"(derived) opted_in"``)."""
    return DERIVED + name


Prepare = Callable[[pd.DataFrame, str], pd.DataFrame]


@dataclass(frozen=True)
class Layout:
    """A known export format.

    Attributes
    ----------
    name
        Short name used on the command line (``shopify``, ``mailchimp``...).
    label
        What the Data page calls it.
    kind
        The table it feeds (``customers`` or ``redemptions``).
    signature
        Groups of normalised headers; the file must hold one header of each group.
    fields
        ``{canonical: header spellings}`` in order of preference; derived
        columns are named with `derived`.
    coordinates_source
        Location quality of rows whose coordinates come from the file
        (``given``; ``ip`` for Mailchimp's estimate).
    note
        A plain sentence the user should read when this layout is used
        (e.g. Square holds no coupon code), or None.
    """

    name: str
    label: str
    kind: str
    signature: tuple[tuple[str, ...], ...]
    fields: Mapping[str, tuple[str, ...]]
    coordinates_source: str = "given"
    note: str | None = None
    prepare: Prepare | None = field(default=None, compare=False, repr=False)

    def matches(self, columns: Iterable[object]) -> bool:
        """True when the headers hold one spelling of every signature group.

        A signature spelling that starts with ``$`` (Klaviyo's own property names) must be
        present with its ``$``: a generic ``zip`` column is not Klaviyo's ``$zip``.
        """
        cols = [str(c).strip() for c in columns]
        norm = {normalise_header(c) for c in cols}
        marked = {c.lower() for c in cols if c.startswith("$")}

        def present(spelling: str) -> bool:
            if spelling.startswith("$"):
                return spelling.lower() in marked
            return normalise_header(spelling) in norm

        return all(any(present(h) for h in group) for group in self.signature)

    def mapping(self, columns: Iterable[object]) -> dict[str, str]:
        """``{canonical: source}`` for the fields whose header is in ``columns`` (each used once)."""
        by_norm: dict[str, str] = {}
        for col in columns:
            by_norm.setdefault(normalise_header(col), str(col))
        out: dict[str, str] = {}
        for canonical, spellings in self.fields.items():
            for spelling in spellings:
                src = by_norm.get(normalise_header(spelling))
                if src is not None and src not in out.values():
                    out[canonical] = src
                    break
        return out


# --- shared helpers for the preparation steps ---------------------------------------------
def _col(df: pd.DataFrame, *spellings: str) -> pd.Series:
    """The first column of ``df`` named like one of ``spellings`` as stripped text ('' if none)."""
    norm = {normalise_header(c): c for c in df.columns}
    for s in spellings:
        name = norm.get(normalise_header(s))
        if name is not None:
            return df[name].astype("string").fillna("").str.strip()
    return pd.Series("", index=df.index, dtype="string")


def strip_apostrophe(values: pd.Series) -> pd.Series:
    """Remove the ``'`` Excel and Shopify put before ids and codes to keep them text."""
    text = values.astype("string")
    return text.str.strip().str.removeprefix("'").str.strip()


def _yes_no(flag: np.ndarray | pd.Series) -> pd.Series:
    arr = np.asarray(flag, dtype=bool)
    return pd.Series(np.where(arr, "yes", "no"), dtype="string")


# --- Shopify ---------------------------------------------------------------------------------
def _prepare_shopify(df: pd.DataFrame, label: str) -> pd.DataFrame:
    out = df.copy()
    for name in out.columns:
        if normalise_header(name) == "customerid":
            out[name] = strip_apostrophe(out[name])
    street = _col(df, "Default Address Address1", "Address1")
    extra = _col(df, "Default Address Address2", "Address2")
    out[derived("address")] = (street + np.where((street != "") & (extra != ""), ", ", "")
                               + extra).to_numpy()
    return out


SHOPIFY = Layout(
    name="shopify", label="Shopify customers export", kind="customers",
    signature=(("Customer ID",), ("Email",),
               ("Accepts Email Marketing", "Accepts Marketing"),
               ("Default Address Address1", "Address1", "Total Orders", "Default Address Zip",
                "Default Address Country Code")),
    fields={
        "customer_id": ("Customer ID",),
        "email": ("Email",),
        "first_name": ("First Name",),
        "last_name": ("Last Name",),
        "phone": ("Phone", "Default Address Phone"),
        "opted_in": ("Accepts Email Marketing", "Accepts Marketing"),
        "online_orders_12m": ("Total Orders",),
        "address": (derived("address"), "Default Address Address1", "Address1"),
        "postcode": ("Default Address Zip", "Zip"),
        "city": ("Default Address City", "City"),
        "region": ("Default Address Province Code", "Province Code", "Province"),
        "country": ("Default Address Country Code", "Country Code", "Country"),
    },
    prepare=_prepare_shopify,
)


# --- Mailchimp ---------------------------------------------------------------------------------
MAILCHIMP_STATUSES = ("subscribed", "unsubscribed", "cleaned", "nonsubscribed")
_STATUS_WORDS = re.compile(r"(non_?subscribed|unsubscribed|cleaned|subscribed)", re.I)


def mailchimp_status(file_name: str) -> str | None:
    """The audience status a Mailchimp export's file name gives, or None.

    ``subscribed_members_export_1a2b.csv`` → ``"subscribed"``;
    ``unsubscribed_…`` → ``"unsubscribed"``; ``cleaned_…`` → ``"cleaned"``;
    ``nonsubscribed_…`` → ``"nonsubscribed"``.
    """
    found = _STATUS_WORDS.search(PurePath(str(file_name)).name)
    return None if found is None else found.group(1).lower().replace("_", "")


def _row_statuses(df: pd.DataFrame, label: str) -> pd.Series:
    """Status per row: the ZIP member's name, else the file's name, else the UNSUB/CLEAN columns."""
    status = pd.Series(pd.NA, index=df.index, dtype="string")
    member = _col(df, "File")
    if (member != "").any():
        status = member.map(lambda m: mailchimp_status(m) if m else None).astype("string")
    whole = mailchimp_status(label)
    if whole is not None:
        status = status.fillna(whole)
    status = status.mask(status.isna() & (_col(df, "UNSUB_TIME") != ""), "unsubscribed")
    return status.mask(status.isna() & (_col(df, "CLEAN_TIME") != ""), "cleaned")


def split_packed_address(cells: pd.Series) -> pd.DataFrame:
    """Split Mailchimp's ``ADDRESS`` cells (``addr1  addr2  city  state  zip  country``).

    Parts are separated by two spaces; a blank part leaves four spaces. A
    cell that does not have six parts keeps its text as the street (parts
    joined by ``", "``) and leaves the other fields blank.

    Returns
    -------
    DataFrame aligned with ``cells``: ``street``, ``city``, ``region``,
    ``postcode``, ``country`` (text, ``""`` when blank).
    """
    rows = []
    for cell in cells.astype("string").fillna("").to_numpy(dtype=object):
        parts = [p.strip() for p in str(cell).split("  ")]
        if len(parts) >= 6:
            head = parts[:len(parts) - 5]
            a1 = " ".join(p for p in head if p)
            a2, city, region, postcode, country = parts[-5:]
            street = ", ".join(p for p in (a1, a2) if p)
            rows.append((street, city, region, postcode, country))
        else:
            rows.append((", ".join(p for p in parts if p), "", "", "", ""))
    return pd.DataFrame(rows, index=cells.index,
                        columns=["street", "city", "region", "postcode", "country"], dtype="string")


def _per_address(flag: pd.Series, emails: pd.Series) -> np.ndarray:
    """True for every row whose address (`geo.keys.email_keys`) has a row where ``flag`` is True."""
    keys = email_keys(emails)
    mine: np.ndarray = flag.to_numpy(dtype=bool)
    hit = keys[mine].dropna().unique()
    shared: np.ndarray = keys.isin(hit).to_numpy(dtype=bool, na_value=False)
    both: np.ndarray = np.logical_or(mine, shared)
    return both


def _prepare_mailchimp(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """Derive consent from each row's status, and split the packed address.

    An address unsubscribed or cleaned in any of the export's files is off in
    all of them (consent off wins, never on).
    """
    out = df.copy()
    status = _row_statuses(df, label)
    emails = _col(df, "Email Address")
    off = _per_address((status != "subscribed").fillna(True), emails)
    unsubscribed = _per_address((status == "unsubscribed").fillna(False), emails)
    out[derived("opted_in")] = _yes_no(~off).to_numpy()
    out[derived("unsubscribed")] = _yes_no(unsubscribed).to_numpy()
    out[derived("status")] = status.fillna("unknown").to_numpy()
    parts = split_packed_address(_col(df, "Address", "ADDRESS"))
    cc = _col(df, "CC")
    out[derived("address")] = parts["street"].to_numpy()
    out[derived("city")] = parts["city"].to_numpy()
    out[derived("region")] = parts["region"].where(parts["region"] != "",
                                                   _col(df, "REGION")).to_numpy()
    out[derived("postcode")] = parts["postcode"].to_numpy()
    out[derived("country")] = parts["country"].where(parts["country"] != "", cc).to_numpy()
    return out


def mailchimp_notes(df: pd.DataFrame, label: str) -> list[str]:
    """Sentences about a Mailchimp file's consent (rows whose status is unknown)."""
    if derived("status") not in df.columns:
        return []
    unknown = int((df[derived("status")] == "unknown").sum())
    if not unknown:
        return []
    return [f"{unknown:,} row(s) of {label} come from a Mailchimp file whose status (subscribed, "
            "unsubscribed, cleaned) cannot be told from its name: they are imported as not "
            "opted in. Import the export's ZIP, or keep Mailchimp's file names "
            "(subscribed_…csv)."]


MAILCHIMP = Layout(
    name="mailchimp", label="Mailchimp audience export", kind="customers",
    signature=(("Email Address",), ("MEMBER_RATING", "LEID", "EUID", "OPTIN_TIME")),
    fields={
        "email": ("Email Address",),
        "first_name": ("First Name",),
        "last_name": ("Last Name",),
        "phone": ("Phone Number", "Phone"),
        "lat": ("LATITUDE",),
        "lon": ("LONGITUDE",),
        "opted_in": (derived("opted_in"),),
        "unsubscribed": (derived("unsubscribed"),),
        "address": (derived("address"),),
        "postcode": (derived("postcode"),),
        "city": (derived("city"),),
        "region": (derived("region"),),
        "country": (derived("country"),),
    },
    coordinates_source="ip",
    prepare=_prepare_mailchimp,
)


# --- Klaviyo ---------------------------------------------------------------------------------
KLAVIYO_OPTED_IN = {"subscribed", "true", "yes", "1"}
KLAVIYO_UNSUBSCRIBED = {"unsubscribed", "suppressed"}
KLAVIYO_CONSENT = ("Email Marketing Consent", "email_marketing_consent", "Accepts Marketing",
                   "Email Consent", "consent")


def klaviyo_notes(df: pd.DataFrame, label: str) -> list[str]:
    """A sentence when a Klaviyo file has no consent column (then nobody is opted in)."""
    norm = {normalise_header(c) for c in df.columns}
    if any(normalise_header(h) in norm for h in KLAVIYO_CONSENT):
        return []
    return [f"{label} has no consent column (Email Marketing Consent): every profile is "
            "imported as not opted in. Export the profiles with their consent, or map "
            "opted_in by hand."]


def _prepare_klaviyo(df: pd.DataFrame, label: str) -> pd.DataFrame:
    out = df.copy()
    given = _col(df, *KLAVIYO_CONSENT)
    consent = given.str.lower()
    out[derived("opted_in")] = _yes_no(consent.isin(KLAVIYO_OPTED_IN).to_numpy()).to_numpy()
    out[derived("unsubscribed")] = _yes_no(consent.isin(KLAVIYO_UNSUBSCRIBED).to_numpy()).to_numpy()
    return out


KLAVIYO = Layout(
    name="klaviyo", label="Klaviyo profiles export", kind="customers",
    signature=(("Email", "email", "$email"),
               ("Email Marketing Consent", "Klaviyo ID", "State / Region", "$city", "$zip",
                "$region", "$latitude")),
    fields={
        "customer_id": ("Klaviyo ID", "Profile ID", "External ID", "$id"),
        "email": ("Email", "$email"),
        "first_name": ("First Name", "first_name", "$first_name"),
        "last_name": ("Last Name", "last_name", "$last_name"),
        "phone": ("Phone Number", "phone_number", "$phone_number", "Phone"),
        "lat": ("Latitude", "$latitude"),
        "lon": ("Longitude", "$longitude"),
        "opted_in": (derived("opted_in"),),
        "unsubscribed": (derived("unsubscribed"),),
        "address": ("Address", "address1", "Address 1", "$address1"),
        "postcode": ("Zip Code", "zip", "$zip"),
        "city": ("City", "$city"),
        "region": ("State / Region", "Region", "State", "$region"),
        "country": ("Country", "$country"),
    },
    prepare=_prepare_klaviyo,
)


# --- tills (redemptions) -----------------------------------------------------------------------
def _prepare_square(df: pd.DataFrame, label: str) -> pd.DataFrame:
    from geo.data.tills import local_timestamps, money_values

    out = df.copy()
    amount = money_values(_col(df, "Net Sales", "Total Collected", "Gross Sales"))
    out[derived("amount")] = amount.map(lambda v: "" if pd.isna(v) else repr(float(v))).to_numpy()
    out[derived("timestamp")] = local_timestamps(_col(df, "Date"), _col(df, "Time"),
                                                 _col(df, "Time Zone")).to_numpy()
    return out


def _prepare_shopify_orders(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """Keep one row per order that used a discount code (line-item rows and others left out)."""
    code = _col(df, "Discount Code")
    order_row = (_col(df, "Total") != "") | (_col(df, "Paid at") != "")
    out = df.loc[(code != "").to_numpy(dtype=bool) & order_row.to_numpy(dtype=bool)].copy()
    return out


SQUARE = Layout(
    name="square", label="Square transactions export", kind="redemptions",
    signature=(("Transaction ID",), ("Location",), ("Time Zone",), ("Gross Sales", "Net Sales")),
    fields={
        "store_id": ("(derived) store_id",),
        "timestamp": (derived("timestamp"),),
        "amount": (derived("amount"),),
        "transaction_id": ("Transaction ID",),
        "customer_id": ("Customer Reference ID", "Customer ID"),
    },
    note=("Square's transactions export has a discount amount but no discount name or code "
          "column, so redemptions cannot be told by coupon code. Export the orders with their "
          "discount codes instead (e.g. Square's item or order exports that name the discount, "
          "or your e-commerce orders export), or match customers back by loyalty card or "
          "customer id only."),
    prepare=_prepare_square,
)

SHOPIFY_ORDERS = Layout(
    name="shopify_orders", label="Shopify orders export (POS included)", kind="redemptions",
    signature=(("Name",), ("Discount Code",), ("Location",), ("Paid at", "Created at")),
    fields={
        "coupon_code": ("Discount Code",),
        "store_id": ("(derived) store_id",),
        "timestamp": ("Paid at", "Created at"),
        "amount": ("Total",),
        "transaction_id": ("Name", "Id"),
    },
    note=("Orders without a discount code, and the extra line-item rows of each order, are not "
          "redemptions: they are left out."),
    prepare=_prepare_shopify_orders,
)

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (SHOPIFY, MAILCHIMP, KLAVIYO, SQUARE,
                                                         SHOPIFY_ORDERS)}
#: Layouts of customer files, offered by ``geo import --layout``.
CUSTOMER_LAYOUTS = tuple(n for n, lay in LAYOUTS.items() if lay.kind == "customers")


def detect_layout(columns: Iterable[object], kind: str) -> Layout | None:
    """The known layout of ``kind`` whose signature the headers match, or None.

    Shopify is tried before Klaviyo (both have an ``Email`` column).
    """
    cols = [str(c) for c in columns]
    for lay in LAYOUTS.values():
        if lay.kind == kind and lay.matches(cols):
            return lay
    return None


def resolve_layout(choice: str | None, columns: Iterable[object], kind: str,
                   file: str) -> Layout | None:
    """The layout to use: detected for ``"auto"``, none for None, else the named one.

    Raises
    ------
    DataError
        The name is unknown, or the layout is for another kind of table.
    """
    if choice is None:
        return None
    if choice in ("", AUTO):
        return detect_layout(columns, kind)
    lay = LAYOUTS.get(str(choice))
    if lay is None:
        raise DataError(file, f"unknown layout {choice!r}: use auto or one of "
                              f"{', '.join(LAYOUTS)}")
    if lay.kind != kind:
        raise DataError(file, f"the {lay.label} holds {lay.kind}, not {kind}")
    return lay


def prepare_chunk(chunk: pd.DataFrame, layout: Layout | None, file: str) -> pd.DataFrame:
    """Add the layout's derived columns to a chunk of the file (unchanged without a layout)."""
    if layout is None or layout.prepare is None:
        return chunk
    return layout.prepare(chunk, file)


def layout_notes(chunk: pd.DataFrame, layout: Layout | None, file: str) -> list[str]:
    """Sentences the user should read about this file's layout (may be empty)."""
    if layout is None:
        return []
    notes = [layout.note] if layout.note else []
    if layout is MAILCHIMP:
        notes += mailchimp_notes(chunk, file)
    if layout is KLAVIYO:
        notes += klaviyo_notes(chunk, file)
    return notes


def layout_mapping(columns: Iterable[object], schema_fields: Iterable[str],
                   suggested: Mapping[str, str], layout: Layout | None) -> dict[str, str]:
    """The mapping to propose: ``suggested`` with the layout's choices over it.

    Parameters
    ----------
    columns
        The file's headers (derived columns included).
    schema_fields
        The canonical columns the file can be mapped onto, in display order.
    suggested
        The synonym-based suggestion (`geo.data.columns.suggest_mapping`).
    layout
        The recognised layout, or None (then ``suggested`` is returned).
    """
    from geo.data.columns import merge_mapping

    if layout is None:
        return dict(suggested)
    merged = merge_mapping(suggested, layout.mapping(columns))
    return {f: merged[f] for f in schema_fields if f in merged}
