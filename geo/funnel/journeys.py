"""Build the funnel's journeys: one row per recipient with their e-mail events, redemptions and revenue.

The unit of the funnel is the *journey*: one row per targeted customer (per
campaign when the target list carries ``campaign_id``) with what happened to
them: which e-mail events the provider recorded, whether they redeemed in store
and how much they spent, and their travel band.

Provider events imply earlier ones (``implied=True``): a click implies an open,
an open or click implies delivery, any event implies a send, as Mailchimp and
Klaviyo count them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo.keys import email_keys

EVENT_FLAGS = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed")
IMPLIES = {  # stage -> provider events that prove it (used when implied=True)
    "sent": ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed"),
    "delivered": ("delivered", "opened", "clicked"),
    "opened": ("opened", "clicked"),
    "clicked": ("clicked",),
    "bounced": ("bounced",),
    "unsubscribed": ("unsubscribed",),
}
DEFAULT_BANDS = (5.0, 10.0, 15.0)


# bands ------------------------------------------------------------------------------------
def band_labels(minutes: pd.Series, bands: Sequence[float] = DEFAULT_BANDS) -> pd.Series:
    """Label travel minutes with their band: ``"0-5"``, ``"5-10"``, ``"10-15"``, ``"15+"``.

    Parameters
    ----------
    minutes
        Travel time in minutes (NA for customers without one, e.g. radius mode).
    bands
        Increasing upper edges in minutes; a band includes its upper edge.

    Returns
    -------
    Series of ordered categorical labels; NA minutes give ``"unknown"``.
    """
    edges = [0.0] + [float(b) for b in sorted(bands)]
    labels = [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)] + [f"{edges[-1]:g}+"]
    values = pd.to_numeric(minutes, errors="coerce").astype("float64")
    cut = pd.cut(values, bins=edges + [np.inf], labels=labels, right=True, include_lowest=True)
    out = cut.cat.add_categories(["unknown"]).fillna("unknown")
    return out.astype(pd.CategoricalDtype(labels + ["unknown"], ordered=True))


def order_bands(labels: pd.Series) -> pd.Series:
    """Given band labels (``"0-5"``, ``"10-15"``...) as an ordered categorical, nearest band first.

    Labels are ordered by the number they start with (then as text); labels
    without a leading number come after, and NA becomes ``"unknown"`` (last).
    """
    text = labels.astype("string").str.strip().fillna("unknown")
    names = pd.Series(pd.unique(text.to_numpy(dtype=object)), dtype="string")
    lead = pd.to_numeric(names.str.extract(r"^(\d+(?:\.\d+)?)", expand=False), errors="coerce")
    order = (pd.DataFrame({"name": names, "lead": lead, "unknown": names.eq("unknown")})
             .sort_values(["unknown", "lead", "name"], na_position="last")["name"].tolist())
    return text.astype(pd.CategoricalDtype(order, ordered=True))


# journeys -----------------------------------------------------------------------
def _event_flags(targets: pd.DataFrame, events: pd.DataFrame | None, keys: list[str],
                 implied: bool) -> pd.DataFrame:
    flags = pd.DataFrame(False, index=targets.index, columns=list(EVENT_FLAGS))
    if events is None or events.empty:
        return flags
    ev = pd.DataFrame({"email_norm": email_keys(events["email"]),
                       "event": events["event"].astype("string").str.strip().str.lower()})
    if "campaign_id" in keys:
        ev["campaign_id"] = events["campaign_id"].astype("string")
    ev = ev.dropna(subset=keys + ["event"])
    seen = ev.groupby(keys + ["event"], observed=True).size().unstack("event", fill_value=0).gt(0)
    seen = seen.reindex(columns=list(EVENT_FLAGS), fill_value=False)
    joined = targets[keys].merge(seen, left_on=keys, right_index=True, how="left")
    raw = joined[list(EVENT_FLAGS)].fillna(False).astype(bool)
    raw.index = targets.index
    if not implied:
        return raw
    return pd.DataFrame({s: raw[list(IMPLIES[s])].any(axis=1) for s in EVENT_FLAGS})


def _match_on_campaign(targets: pd.DataFrame, events: pd.DataFrame | None) -> bool:
    if events is None or "campaign_id" not in targets or "campaign_id" not in events:
        return False
    ours = set(targets["campaign_id"].dropna().astype(str))
    theirs = set(events["campaign_id"].dropna().astype(str))
    return bool(ours & theirs)


def build_journeys(targets: pd.DataFrame, events: pd.DataFrame | None,
                   attributed: pd.DataFrame | None, *,
                   bands: Sequence[float] = DEFAULT_BANDS, implied: bool = True) -> pd.DataFrame:
    """One row per recipient with their e-mail events, in-store redemptions and revenue.

    Parameters
    ----------
    targets
        Target list (`geo.data.schema.TARGETS` + extras such as segment, band, campaign_id).
    events
        Provider events (email, event, timestamp[, campaign_id]); matched to
        recipients by normalised e-mail, and by campaign too when both tables
        carry campaign ids that overlap.
    attributed
        Output of `geo.funnel.attribution.attribute_redemptions`; only ``counted``
        redemptions contribute.
    bands
        Band edges in minutes, used when targets carry no ``band`` column.
    implied
        Whether later events imply earlier ones (see the module docstring).

    Returns
    -------
    DataFrame
        Target columns plus ``band`` and boolean ``sent, delivered, opened,
        clicked, bounced, unsubscribed, redeemed``, ``redemptions`` (int),
        ``revenue`` (float) and ``first_redeemed_at``.
    """
    t = targets.reset_index(drop=True).copy()
    t["customer_id"] = t["customer_id"].astype("string").str.strip()
    t["email_norm"] = email_keys(t["email"])
    t["group"] = t["group"].astype("string").str.strip().str.lower()
    if "band" in t and t["band"].notna().any():
        t["band"] = order_bands(t["band"])
    else:
        t["band"] = band_labels(t["travel_min"], bands)
    keys = ["campaign_id", "email_norm"] if _match_on_campaign(t, events) else ["email_norm"]
    t = pd.concat([t, _event_flags(t, events, keys, implied)], axis=1)

    rkeys = ["campaign_id", "customer_id"] if ("campaign_id" in t and attributed is not None
                                              and "campaign_id" in attributed) else ["customer_id"]
    if attributed is not None and not attributed.empty:
        got = attributed[attributed["counted"]].rename(columns={"recipient_id": "_rid"})
        got = got.assign(customer_id=got["_rid"])
        per = got.groupby(rkeys, dropna=True).agg(redemptions=("amount", "size"),
                                                  revenue=("amount", "sum"),
                                                  first_redeemed_at=("timestamp", "min"))
        t = t.merge(per, left_on=rkeys, right_index=True, how="left")
    else:
        t["redemptions"], t["revenue"], t["first_redeemed_at"] = 0, 0.0, pd.NaT
    t["redemptions"] = t["redemptions"].fillna(0).astype("int64")
    t["revenue"] = t["revenue"].fillna(0.0).astype("float64")
    t["first_redeemed_at"] = pd.to_datetime(t["first_redeemed_at"])
    t["redeemed"] = t["redemptions"] > 0
    t["targeted"] = True
    return t.drop(columns="email_norm")
