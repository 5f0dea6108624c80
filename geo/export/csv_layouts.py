"""Each provider's contact-import CSV layout and API travel field, defined once for all exports.

A manual-import file holds the recipients an API export would upload (see
`geo.export.recipients.prepare_targets`: consented treatment members with a
valid, unique email; the holdout is never written) with the headers each
provider's import wizard expects (see the shared ``email-providers.md`` notes):

=========  ==================  ====================  ===============  ===========
provider   email column        travel column         header style     separator
=========  ==================  ====================  ===============  ===========
mailchimp  ``Email Address``   ``Drive Minutes``     ``Title Case``   ``,``
klaviyo    ``Email`` (first)   ``Drive Minutes``     ``Title Case``   ``,``
sendgrid   ``email``           ``drive_minutes``     ``snake_case``   ``,``
brevo      ``EMAIL``           ``DRIVE_MINUTES``     ``UPPER_SNAKE``  ``;``
=========  ==================  ====================  ===============  ===========

The travel column follows the campaign's mode: whole minutes named after the
mode (``Drive/Walk/Bike Minutes``) for travel-time catchments, crow-flies
kilometres with one decimal (``Distance km``) for radius catchments.

Who reads a file decides how its text is written, per file, never per column:
a provider import file goes to the provider's importer, which reads every cell
as text and validates it, so its cells are written verbatim (an address such as
``-dash@example.com`` must arrive as it is); a file for a spreadsheet (the CSV
for Excel, with a byte-order mark) has every text cell that a spreadsheet would
evaluate neutralised (`neutralise_formulas`).

The API uploads carry the same values (`distance_values`) in one provider field
per unit, `API_TRAVEL_FIELDS` (see `api_travel_field`):

=========  ===========================  ===================  =============
provider   minutes (drive, walk, bike)  km (radius mode)     created as
=========  ===========================  ===================  =============
mailchimp  merge tag ``TRAVELMIN``      ``DISTKM``           ``number``
klaviyo    ``travel_minutes`` property  ``distance_km``      (free-form)
sendgrid   ``travel_minutes`` field     ``distance_km``      ``Number``
brevo      ``TRAVEL_MINUTES`` attribute ``DISTANCE_KM``      ``float``
=========  ===========================  ===================  =============
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import pandas as pd

from geo import audit
from geo.access import Actor, actor_or_local
from geo.errors import GeoError
from geo.export.recipients import PreparedTargets, prepare_targets
from geo.modes import Mode
from geo.workspace import Workspace

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LINE_TERMINATOR = "\r\n"
DISTANCE = "distance"
#: the distance column's key when the mode is missing or not one of drive/walk/bike/radius
UNKNOWN_MODE = "travel"


#: our fields in file order; ``distance`` is the mode-aware travel column
FIELD_ORDER = ("email", "first_name", "store_name", "store_address", DISTANCE, "coupon_code",
               "offer_start", "offer_end", "tags")


@dataclass(frozen=True)
class ProviderLayout:
    """The column layout of one provider's contact-import CSV.

    Attributes
    ----------
    provider
        ``mailchimp``, ``klaviyo``, ``sendgrid`` or ``brevo``.
    headers
        Our field -> the provider's header, for every field of `FIELD_ORDER`
        but the travel column.
    distance
        Travel mode (``drive``, ``walk``, ``bike``, ``radius``, or ``travel``
        when unknown) -> header of the travel column.
    sep
        Field separator.
    """

    provider: str
    headers: Mapping[str, str]
    distance: Mapping[str, str]
    sep: str = ","

    def distance_header(self, mode: str | None) -> str:
        """The travel column's header for ``mode`` (minutes, or km in radius mode)."""
        return self.distance.get(mode or UNKNOWN_MODE, self.distance[UNKNOWN_MODE])

    def columns(self, mode: str | None) -> dict[str, str]:
        """Our field -> header in file order, with the travel column named for ``mode``."""
        return {f: self.distance_header(mode) if f == DISTANCE else self.headers[f]
                for f in FIELD_ORDER}


def _upper(names: Mapping[str, str]) -> dict[str, str]:
    return {k: v.upper() for k, v in names.items()}


_TITLE = {"first_name": "First Name", "store_name": "Nearest Store",
          "store_address": "Store Address", "coupon_code": "Coupon Code",
          "offer_start": "Offer Start", "offer_end": "Offer End", "tags": "Tags"}
_TITLE_DISTANCE = {"drive": "Drive Minutes", "walk": "Walk Minutes", "bike": "Bike Minutes",
                   Mode.RADIUS: "Distance km", UNKNOWN_MODE: "Travel Minutes"}
_SNAKE = {"email": "email", "first_name": "first_name", "store_name": "nearest_store",
          "store_address": "store_address", "coupon_code": "coupon_code",
          "offer_start": "offer_start", "offer_end": "offer_end", "tags": "tags"}
_SNAKE_DISTANCE = {"drive": "drive_minutes", "walk": "walk_minutes", "bike": "bike_minutes",
                   Mode.RADIUS: "distance_km", UNKNOWN_MODE: "travel_minutes"}

#: provider -> its import layout (the only definition of these headers in the code base)
LAYOUTS: Mapping[str, ProviderLayout] = MappingProxyType({
    "mailchimp": ProviderLayout("mailchimp", {"email": "Email Address", **_TITLE},
                                _TITLE_DISTANCE),
    "klaviyo": ProviderLayout("klaviyo", {"email": "Email", **_TITLE}, _TITLE_DISTANCE),
    "sendgrid": ProviderLayout("sendgrid", _SNAKE, _SNAKE_DISTANCE),
    "brevo": ProviderLayout("brevo", _upper(_SNAKE) | {"first_name": "FIRSTNAME"},
                            _upper(_SNAKE_DISTANCE), ";"),
})



@dataclass(frozen=True)
class ApiField:
    """The provider field an API upload fills with the travel column.

    Attributes
    ----------
    name
        Merge tag (Mailchimp), profile property (Klaviyo), custom field
        (SendGrid) or attribute (Brevo).
    kind
        The provider's type word for creating it (``number``, ``Number``,
        ``float``); Klaviyo properties need no creating.
    label
        The name shown in the provider's interface (Mailchimp merge fields).
    source
        Our column: ``travel_min`` (whole minutes) or ``crow_km`` (crow-flies
        km with one decimal, radius mode).
    """

    name: str
    kind: str
    label: str
    source: str


MINUTES, KM = "travel_min", "crow_km"


def _api_fields(minutes: str, km: str, kind: str) -> Mapping[str, ApiField]:
    return MappingProxyType({
        MINUTES: ApiField(minutes, kind, _TITLE_DISTANCE[UNKNOWN_MODE], MINUTES),
        KM: ApiField(km, kind, _TITLE_DISTANCE[Mode.RADIUS], KM)})


#: provider -> our column (``travel_min`` or ``crow_km``) -> its field in API uploads. Minutes
#: keep one name whatever the travel mode (the name the uploads had before distances were sent),
#: so an export interrupted before an upgrade resumes into the field its first batches filled.
#: Mailchimp merge tags are at most 10 upper-case characters; the others reuse the import files'
#: snake/upper spellings of the mode-less and the radius travel column.
API_TRAVEL_FIELDS: Mapping[str, Mapping[str, ApiField]] = MappingProxyType({
    "mailchimp": _api_fields("TRAVELMIN", "DISTKM", "number"),
    "klaviyo": _api_fields(_SNAKE_DISTANCE[UNKNOWN_MODE], _SNAKE_DISTANCE[Mode.RADIUS], "number"),
    "sendgrid": _api_fields(LAYOUTS["sendgrid"].distance_header(None),
                            LAYOUTS["sendgrid"].distance_header(Mode.RADIUS), "Number"),
    "brevo": _api_fields(LAYOUTS["brevo"].distance_header(None),
                         LAYOUTS["brevo"].distance_header(Mode.RADIUS), "float"),
})


# --- neutralising and writing -----------------------------------------------------------------

def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix a single quote to every text cell starting with =, +, -, @, tab or carriage return.

    Numbers, dates and missing values are left alone; only text is touched, so a
    negative number stays a number while the text ``"-2+3"`` becomes ``"'-2+3"``.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)
                or isinstance(s.dtype, pd.CategoricalDtype)):
            continue
        try:  # non-text cells of an object column give NA here, so only text is touched
            risky = s.str.startswith(FORMULA_PREFIXES)
        except AttributeError:  # no text in the column at all
            continue
        risky = risky.astype("boolean").fillna(False).to_numpy(dtype=bool)
        if risky.any():
            s = s.astype(object)
            s[risky] = "'" + s[risky]
            out[col] = s
    return out


def csv_text(df: pd.DataFrame, *, sep: str = ",", spreadsheet: bool = True) -> str:
    """The frame as CSV text with a header row and CRLF line ends.

    Parameters
    ----------
    spreadsheet
        True for a file a spreadsheet opens: text cells are neutralised
        (`neutralise_formulas`). False for a provider import file: every cell
        verbatim.
    """
    data = neutralise_formulas(df) if spreadsheet else df
    text: str = data.to_csv(index=False, sep=sep, lineterminator=LINE_TERMINATOR)
    return text


# --- layouts ----------------------------------------------------------------------------------

def get_layout(provider: str) -> ProviderLayout:
    """The import layout of ``provider``.

    Raises
    ------
    GeoError
        When the provider is not one of `LAYOUTS`.
    """
    if provider not in LAYOUTS:
        raise GeoError(f"unknown provider {provider!r}; use one of {', '.join(LAYOUTS)}")
    return LAYOUTS[provider]


def layout_mode(eligible: pd.DataFrame) -> str | None:
    """The one travel mode of the recipients (``drive``, ``walk``, ``bike``, ``radius``) or None.

    Raises
    ------
    GeoError
        When the list mixes modes: a provider file has a single travel column,
        minutes or kilometres.
    """
    if "mode" not in eligible.columns:
        return None
    modes = sorted(eligible["mode"].astype("string").str.strip().str.lower().dropna().unique())
    if len(modes) > 1:
        raise GeoError(f"the target list mixes travel modes ({', '.join(modes)}); a provider "
                       "import file has one travel column, so export one campaign per mode")
    return modes[0] if modes else None


def distance_values(eligible: pd.DataFrame, mode: str | None) -> pd.Series:
    """The travel column: crow-flies km (one decimal) in radius mode, else whole minutes (Int64)."""
    if mode == Mode.RADIUS:
        if "crow_km" not in eligible:
            return pd.Series(pd.NA, index=eligible.index, dtype="Float64")
        return pd.to_numeric(eligible["crow_km"], errors="coerce").astype("Float64").round(1)
    return eligible["travel_min"].astype("Int64")


def api_travel_field(provider: str, mode: str | None) -> ApiField:
    """The field an API upload to ``provider`` fills with the travel column in ``mode``.

    The crow-flies distance field (km) in radius mode, else the travel-minutes
    field (``drive``, ``walk``, ``bike`` or an unknown mode).

    Raises
    ------
    GeoError
        When the provider is not one of `LAYOUTS`.
    """
    get_layout(provider)
    return API_TRAVEL_FIELDS[provider][KM if mode == Mode.RADIUS else MINUTES]


def api_travel(batch: pd.DataFrame, provider: str) -> tuple[ApiField, pd.Series]:
    """The travel field and values an API upload of ``batch`` (prepared recipients) sends.

    Returns
    -------
    The `ApiField` for the batch's mode and `distance_values`: whole minutes
    (Int64), or crow-flies km with one decimal (Float64) in radius mode; NA
    where unknown (nothing is sent for that recipient).

    Raises
    ------
    GeoError
        When the batch mixes travel modes (see `layout_mode`).
    """
    mode = layout_mode(batch)
    return api_travel_field(provider, mode), distance_values(batch, mode)


def manual_import_frame(targets: pd.DataFrame | PreparedTargets, provider: str) -> pd.DataFrame:
    """The recipients an export would upload, with ``provider``'s import headers, in order.

    Parameters
    ----------
    targets
        A target list (`geo.targeting.targets.build_target_list`, a saved campaign, or a
        CSV read back) or its `prepare_targets` result. Holdout members, rows
        without consent, invalid and repeated emails are left out.
    provider
        ``mailchimp``, ``klaviyo``, ``sendgrid`` or ``brevo``.

    Returns
    -------
    DataFrame with the email column first (Klaviyo requires it), then first
    name, nearest store, store address, the travel column (whole minutes, or km
    with one decimal in radius mode; see `ProviderLayout.distance_header`),
    coupon code, offer start and end (``YYYY-MM-DD``, with ``HH:MM`` when the
    bound is not a whole day) and comma-separated tags.
    """
    layout = get_layout(provider)
    if isinstance(targets, PreparedTargets):
        eligible = targets.eligible
        mode = layout_mode(eligible)
    else:  # the mode of the whole list names the column even when nobody is eligible
        eligible = prepare_targets(targets).eligible
        mode = layout_mode(targets)
    data = {field: (distance_values(eligible, mode) if field == DISTANCE else eligible[field])
            for field in FIELD_ORDER}
    frame = pd.DataFrame(data).rename(columns=layout.columns(mode))
    return frame.reset_index(drop=True)


def manual_import_csv(targets: pd.DataFrame | PreparedTargets, provider: str, *,
                      spreadsheet: bool = False, actor: Actor | None = None,
                      workspace: Workspace | None = None) -> str:
    """The manual-import file as text: CRLF line ends, Brevo's separated by ``;``.

    Cells are verbatim, as the provider's importer takes them (an address that
    begins with ``-``, ``+`` or ``=`` stays deliverable), unless ``spreadsheet``:
    then text a spreadsheet would evaluate is neutralised (see `csv_text`).
    ``actor`` must be allowed ``download`` (`geo.access`; None is the local OS
    user); with ``workspace`` the download is recorded in its audit trail.
    """
    actor_or_local(actor).require("download")
    frame = manual_import_frame(targets, provider)
    if workspace is not None:
        audit.record(workspace, "download", len(frame), actor=actor, layout=provider,
                     format="csv")
    return csv_text(frame, sep=get_layout(provider).sep, spreadsheet=spreadsheet)


def manual_import_bytes(targets: pd.DataFrame | PreparedTargets, provider: str, *,
                        bom: bool = False) -> bytes:
    """The manual-import file as UTF-8 bytes.

    With ``bom`` it is the CSV for Excel: a byte-order mark (so Excel reads
    accents right) and formulas neutralised; without, the provider import file,
    every cell verbatim.
    """
    text = manual_import_csv(targets, provider, spreadsheet=bom)
    return text.encode("utf-8-sig" if bom else "utf-8")


def write_manual_import(targets: pd.DataFrame | PreparedTargets, provider: str,
                        path: str | Path, *, bom: bool = False) -> Path:
    """Write the manual-import file for ``provider`` to ``path`` and return the path.

    The file is the CSV for Excel when ``bom`` (see `manual_import_bytes`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(manual_import_bytes(targets, provider, bom=bom))
    return path
