"""Map the column names of a user's file onto the product's canonical column names.

Headers are compared after `normalise_header`: lower case, accents removed and
every character that is not a letter or digit dropped, so ``"E-mail Address"``,
``"email_address"`` and ``"EMAIL ADDRESS"`` all read ``"emailaddress"``.
`suggest_mapping` proposes a mapping from the synonyms below; the user can
change it (the import page shows it, the command line takes ``--map``) and
`apply_mapping` renames the columns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import pandas as pd

from geo.data.schema import Schema
from geo.errors import DataError

#: Columns that are not in a schema but that the importer keeps when present:
#: they let rows without coordinates be geocoded (see `geo.data.geocode`).
LOCATION_FIELDS = ("address", "postcode", "city", "country")

#: Required canonical columns a file may leave out because the importer derives
#: them from other mapped columns (any one of them): a customer without
#: ``customer_id`` gets a stable id from the e-mail address
#: (`geo.data.identity.email_customer_ids`); rows without coordinates are
#: located from their address or postcode (`geo.data.locate`), or refused one
#: by one with the reason.
DERIVABLE: dict[str, tuple[str, ...]] = {"customer_id": ("email",),
                                         "lat": ("address", "postcode"),
                                         "lon": ("address", "postcode")}

_ID = ("customerid", "custid", "clientid", "contactid", "memberid", "userid",
       "customernumber", "customerno", "externalid", "crmid", "klaviyoid", "uniqueid")

#: Canonical name -> accepted headers (before normalising). The canonical name
#: itself is always accepted and wins over a synonym.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": _ID,
    "store_id": ("store", "storeid", "storenumber", "storeno", "storecode", "shopid",
                 "shop", "branchid", "branch", "locationid", "siteid", "outletid", "posid"),
    "name": ("storename", "shopname", "branchname", "locationname", "sitename", "title",
             "label", "outlet"),
    "email": ("e-mail", "mail", "emailaddress", "email address", "e-mail address", "emailid",
              "contactemail", "customeremail", "recipient", "recipientemail", "subscriber",
              "subscriberemail"),
    "last_name": ("last name", "lastname", "lname", "surname", "familyname", "nachname",
                  "nom", "apellido"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone",
              "mobilenumber", "cellphone", "smsphone", "defaultaddressphone"),
    "region": ("state", "province", "provincecode", "statecode", "stateregion", "county",
               "bundesland", "region"),
    "ads_consent": ("adsconsent", "adconsent", "advertisingconsent", "adsoptin", "adoptin",
                    "advertisingoptin", "acceptsadvertising", "adsmarketingconsent"),
    "first_name": ("first name", "firstname", "fname", "first", "forename", "givenname",
                   "vorname", "prenom", "prénom", "nombre"),
    "lat": ("latitude", "lat", "y", "ycoord", "ycoordinate", "latdeg", "breite",
            "breitengrad", "geolat", "gpslat", "locationlatitude", "latitud"),
    "lon": ("longitude", "lng", "long", "lon", "x", "xcoord", "xcoordinate", "londeg",
            "länge", "laenge", "längengrad", "laengengrad", "geolon", "geolng", "gpslon",
            "gpslng", "locationlongitude", "longitud"),
    "opted_in": ("optin", "opt-in", "opted in", "consent", "emailconsent", "marketingconsent",
                 "acceptsmarketing", "acceptsemailmarketing", "emailmarketingconsent",
                 "subscribed", "newsletter", "gdprconsent", "marketingoptin", "emailoptin",
                 "permission"),
    "unsubscribed": ("unsubscribe", "unsubscribed", "optout", "opt-out", "opted out",
                     "emailoptout", "donotemail", "donotmail"),
    "segment": ("customersegment", "segmentname", "tier", "cluster", "persona", "loyaltytier"),
    "online_orders_12m": ("orders", "onlineorders", "orders12m", "ordercount", "orderscount",
                          "totalorders", "numberoforders", "norders", "onlineorders12m"),
    "last_order_date": ("lastorder", "lastorderdate", "lastorderat", "lastpurchase",
                        "lastpurchasedate", "lastorderedat", "lastordered"),
    "location_source": ("locationsource", "geosource", "locationquality", "geoprecision",
                        "locationtype"),
    "address": ("address", "street", "streetaddress", "address1", "addressline1", "addr",
                "fulladdress", "strasse", "straße", "adresse", "direccion"),
    "postcode": ("postcode", "zip", "zipcode", "postalcode", "plz", "postleitzahl", "cp",
                 "codepostal", "pincode", "zippostalcode"),
    "city": ("city", "town", "locality", "ort", "stadt", "ville", "ciudad"),
    "country": ("country", "countrycode", "land", "pays", "pais"),
    "event": ("eventtype", "type", "action", "activity", "eventname", "metric", "status"),
    "timestamp": ("time", "date", "datetime", "eventtime", "eventdate", "created", "createdat",
                  "occurredat", "ts", "timestampiso", "redeemedat", "redemptiontime",
                  "transactiontime", "transactiondate", "datetimeutc"),
    "campaign_id": ("campaign", "campaignid", "campaignname", "campaigntitle"),
    "coupon_code": ("coupon", "code", "couponcode", "voucher", "vouchercode", "promocode",
                    "promo", "discountcode", "offercode", "redemptioncode"),
    "amount": ("revenue", "total", "value", "sales", "basket", "basketvalue", "ordertotal",
               "spend", "price", "transactionamount", "turnover", "umsatz"),
    "transaction_id": ("transaction", "transactionid", "receipt", "receiptid", "receiptno",
                       "orderid", "ticketid", "bonnummer"),
    "travel_min": ("travelmin", "traveltime", "traveltimemin", "minutes", "driveminutes"),
    "group": ("group", "arm", "variant", "cohort", "treatment"),
}


def normalise_header(name: object) -> str:
    """Return a header lower-cased, without accents, keeping letters and digits only."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _accepted(canonical: str, schema: Schema) -> list[str]:
    names = [normalise_header(canonical)]
    if canonical == schema.key:
        names.append("id")  # a bare "id" is the key of whatever table this is
    names += [normalise_header(s) for s in SYNONYMS.get(canonical, ())]
    return list(dict.fromkeys(n for n in names if n))


def mappable_fields(schema: Schema) -> list[str]:
    """Canonical columns a file can be mapped onto: the schema's, then `LOCATION_FIELDS`."""
    extra = [f for f in LOCATION_FIELDS if f not in schema.names] if "lat" in schema.names else []
    return schema.names + extra


def suggest_mapping(columns: Iterable[object], schema: Schema) -> dict[str, str]:
    """Propose which source column feeds each canonical column.

    Parameters
    ----------
    columns
        The file's headers, as read. A bare ``id`` maps onto the schema's key.
    schema
        The target layout (`geo.data.schema.CUSTOMERS`, `STORES`...).

    Returns
    -------
    dict
        ``{canonical: source}`` for every canonical column (plus the location
        fields ``address``, ``postcode``, ``city``, ``country`` for tables with
        coordinates) that a header matches. An exact (normalised) canonical name
        beats a synonym, an earlier synonym beats a later one, and each source
        column is used at most once.
    """
    sources = [str(c) for c in columns]
    by_norm: dict[str, str] = {}
    for src in sources:
        by_norm.setdefault(normalise_header(src), src)
    fields = mappable_fields(schema)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    # two passes: exact canonical names first, then synonyms in preference order
    for exact in (True, False):
        for field in fields:
            if field in mapping:
                continue
            accepted = _accepted(field, schema)
            names = accepted[:1] if exact else accepted[1:]
            for norm in names:
                match = by_norm.get(norm)
                if match is not None and match not in used:
                    mapping[field] = match
                    used.add(match)
                    break
    return {f: mapping[f] for f in fields if f in mapping}


def merge_mapping(suggested: Mapping[str, str],
                  overrides: Mapping[str, str | None]) -> dict[str, str]:
    """Apply the user's choices over a suggested mapping.

    An override with an empty value (``""`` or None) removes that canonical
    column from the mapping; a source chosen by an override is taken away from
    any other canonical column that the suggestion gave it to.
    """
    out = dict(suggested)
    for field, src in overrides.items():
        out.pop(field, None)
        if src:
            for other in [k for k, v in out.items() if v == src]:
                del out[other]
            out[field] = src
    return out


def recall_mapping(columns: Iterable[object], schema: Schema,
                   previous: Mapping[str, str] | None = None) -> dict[str, str]:
    """Suggest a mapping, preferring the user's earlier choices where they still fit.

    Parameters
    ----------
    columns
        The file's headers.
    schema
        The target layout.
    previous
        A mapping used before for this kind of table (e.g. saved with the last
        import in the workspace settings). Entries whose source column is not in
        this file, or whose canonical column is unknown, are ignored.

    Returns
    -------
    dict
        `suggest_mapping`, overridden by the still-valid earlier choices (see
        `merge_mapping`).
    """
    sources = [str(c) for c in columns]
    known = set(mappable_fields(schema))
    kept = {f: s for f, s in (previous or {}).items() if f in known and s in sources}
    merged = merge_mapping(suggest_mapping(sources, schema), kept)
    return {f: merged[f] for f in mappable_fields(schema) if f in merged}


def check_mapping(mapping: Mapping[str, str], columns: Iterable[object], schema: Schema,
                  file: str) -> None:
    """Raise `DataError` unless ``mapping`` is usable for ``columns`` and ``schema``.

    It must name existing source columns, use each at most once, target known
    canonical columns and cover every required column.
    """
    sources = [str(c) for c in columns]
    found = ", ".join(repr(c) for c in sources) or "none"
    known = mappable_fields(schema)
    for field, src in mapping.items():
        if field not in known:
            raise DataError(file, f"cannot map onto unknown column {field!r}; "
                                  f"{schema.name} columns are: {', '.join(known)}")
        if src not in sources:
            raise DataError(file, f"column {src!r} (mapped to {field!r}) is not in the file; "
                                  f"found: {found}", column=src)
    seen: dict[str, str] = {}
    for field, src in mapping.items():
        if src in seen:
            raise DataError(file, f"column {src!r} is mapped twice ({seen[src]!r} and {field!r})",
                            column=src)
        seen[src] = field
    missing = missing_required(mapping, schema)
    if missing:
        raise DataError(
            file, f"missing required column(s) {', '.join(missing)}: no header matches; "
                  f"found: {found}. Map them by hand (e.g. --map {missing[0]}=COLUMN)",
            column=missing[0])


def missing_required(mapping: Mapping[str, str], schema: Schema) -> list[str]:
    """Required columns of ``schema`` that ``mapping`` leaves out and the importer cannot derive.

    ``customer_id`` of customers is not missing when ``email`` is mapped, nor
    ``lat``/``lon`` when ``address`` or ``postcode`` is (see `DERIVABLE`).
    """
    derivable = dict(DERIVABLE)
    if schema.name != "customers":
        derivable.pop("customer_id")
    return [c for c in schema.required if c not in mapping
            and not any(src in mapping for src in derivable.get(c, ()))]


def apply_mapping(df: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame:
    """Return the mapped columns of ``df`` renamed to their canonical names.

    Unmapped columns are left out; the index (spreadsheet row numbers) is kept.
    Columns are selected, not copied (pandas copy-on-write).
    """
    sources = [mapping[f] for f in mapping]
    out = df.loc[:, sources]
    out.columns = list(mapping)
    return out
