"""Declare the tables the product reads and writes: columns, types and allowed values."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("id", "text", "email", "lat", "lon", "float", "int", "bool", "date",
         "datetime", "choice", "country")
"""``country``: ISO 3166-1 alpha-2, read from a code or a country name (`geo.data.validate`)."""


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Parameters
    ----------
    name
        Canonical column name.
    kind
        One of ``KINDS``: how a raw cell is parsed and checked.
    required
        Whether the column must be present and every cell filled.
    choices
        Allowed values for ``kind="choice"`` (compared case-insensitively).
    allow_empty
        For a required column: whether a blank cell is acceptable (the column
        must still be present).
    """

    name: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()
    allow_empty: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; use one of {KINDS}")


@dataclass(frozen=True)
class Schema:
    """A named table layout: its columns and the column that identifies a row."""

    name: str
    columns: tuple[Column, ...]
    key: str | None = None
    unique: tuple[str, ...] = field(default=())

    @property
    def required(self) -> list[str]:
        """Names of the required columns."""
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        """Names of all columns, required first as declared."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


LOCATION_SOURCES = ("given", "address", "postcode", "ip")
"""How a customer was located, best first: coordinates given in the file, geocoded street
address, postcode centroid, IP-based estimate (e.g. Mailchimp's)."""
GROUPS = ("treatment", "holdout")
EVENT_TYPES = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed")

STORES = Schema(
    "stores",
    (
        Column("store_id", "id"),
        Column("name", "text"),
        Column("lat", "lat"),
        Column("lon", "lon"),
        Column("address", "text", required=False),
        Column("attractiveness", "float", required=False),  # issue 15: Huff A_j (floor area...), 1 when blank
    ),
    key="store_id",
)

CUSTOMERS = Schema(
    "customers",
    (
        Column("customer_id", "id"),
        Column("email", "email"),
        Column("first_name", "text", allow_empty=True),
        Column("lat", "lat"),
        Column("lon", "lon"),
        Column("opted_in", "bool"),
        Column("unsubscribed", "bool", required=False),
        Column("segment", "text", required=False),
        Column("online_orders_12m", "int", required=False),
        Column("last_order_date", "date", required=False),
        Column("location_source", "choice", required=False, choices=LOCATION_SOURCES),
        # issue 16/17: ad identifiers and advertising consent, kept through import and merge
        Column("last_name", "text", required=False),
        Column("phone", "text", required=False),
        Column("postcode", "text", required=False),
        Column("city", "text", required=False),
        Column("region", "text", required=False),
        Column("country", "country", required=False),  # ISO 3166-1 alpha-2
        Column("ads_consent", "bool", required=False),  # blank when the file had none
    ),
    key="customer_id",
)
AD_FIELDS = ("last_name", "phone", "postcode", "city", "region", "country", "ads_consent")
"""Optional customer columns the ad-platform lists read (`geo.ads.audiences`)."""

TARGETS = Schema(
    "targets",
    (
        Column("customer_id", "id"),
        Column("email", "email"),
        Column("store_id", "id"),
        Column("travel_min", "float"),
        Column("coupon_code", "text", required=False),
        Column("group", "choice", choices=GROUPS),
    ),
    key="customer_id",
)

EVENTS = Schema(
    "events",
    (
        Column("email", "email"),
        Column("event", "choice", choices=EVENT_TYPES),
        Column("timestamp", "datetime"),
        Column("campaign_id", "text", required=False),
    ),
)

REDEMPTIONS = Schema(
    "redemptions",
    (
        Column("coupon_code", "text"),
        Column("store_id", "id"),
        Column("timestamp", "datetime"),
        Column("amount", "float"),
        Column("transaction_id", "text", required=False),
        Column("customer_id", "id", required=False),
    ),
)

SCHEMAS = {s.name: s for s in (STORES, CUSTOMERS, TARGETS, EVENTS, REDEMPTIONS)}
