"""Generate the demo's finished past campaign: targets, provider events and in-store redemptions.

The campaign is a three-day in-store offer e-mailed to every contactable customer
within 15 minutes of a store (walking in Helsinki, driving in Liechtenstein), with
a 10 % holdout drawn within each store and band. Outcomes are drawn from the stated
rates of `CampaignRates`; the chance of a store visit falls with travel time as
``exp(-minutes / decay_min)``, so the
funnel shows a real distance-decay curve and a real lift over the holdout.

How visits are observed (as at a real till):

* treatment members redeem their unique code; a share (``loyalty_card``) also
  shows a loyalty card, so the till records their ``customer_id``;
* holdout members have no unique code: their visits appear as redemptions of the
  store-wide code that the shop advertises in store; the same share shows a
  loyalty card, and only those visits can be tied to the holdout;
* anonymous walk-ins also use the store-wide code (no ``customer_id``);
* a few anomalies are planted: mistyped codes, codes redeemed twice, redemptions
  at another store than the recipient's nearest and just after the offer ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.targeting import codes as _codes

CAMPAIGN_NAME = "Autumn weekend 2026"
STORE_WIDE_CODE = "WEEKEND"
SENT_AT = pd.Timestamp("2026-10-07 09:00")
OFFER_START = pd.Timestamp("2026-10-09 00:00")
OFFER_END = pd.Timestamp("2026-10-11 23:59")
BANDS = (5, 10, 15)
DEMO_COST_PER_EMAIL = 0.002
"""Cost of one e-mail in the demo (euros), as the Reach page assumes."""
DEMO_CURRENCY = "EUR"


@dataclass(frozen=True)
class CampaignRates:
    """Stated rates of the demo campaign (fractions; minutes of travel; euros).

    Attributes
    ----------
    holdout
        Share of each store-and-band stratum held out.
    delivered, opened, clicked, unsubscribed
        Delivery rate of sent mails; opens among delivered; clicks among opened;
        unsubscribes among delivered.
    redeem_at_store
        Treatment redemption probability for a customer at 0 minutes.
    holdout_visit_at_store
        Holdout probability (at 0 minutes) of an observed offer purchase with the
        store-wide code.
    decay_min
        E-folding travel time, in minutes, of both probabilities.
    click_lift
        Redemption multiplier for recipients who clicked.
    loyalty_card
        Share of redemptions (both groups) where the till records the customer.
    cross_store
        Share of redemptions made at another store than the nearest.
    late
        Share of redemptions made on the day after the offer ended.
    mean_basket_eur
        Mean purchase amount, in euros (log-normal).
    """

    holdout: float = 0.10
    delivered: float = 0.97
    opened: float = 0.46
    clicked: float = 0.24
    unsubscribed: float = 0.004
    redeem_at_store: float = 0.20
    holdout_visit_at_store: float = 0.06
    decay_min: float = 8.0
    click_lift: float = 1.8
    loyalty_card: float = 0.6
    cross_store: float = 0.10
    late: float = 0.02
    mean_basket_eur: float = 38.0


def _hours(rng: np.random.Generator, n: int, scale_h: float) -> pd.TimedeltaIndex:
    return pd.to_timedelta(rng.exponential(scale_h, n) * 3600, unit="s").round("s")


def _demo_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct codes in the coupon alphabet with a check character, drawn from ``rng``.

    Real campaigns draw codes with cryptographic randomness (`geo.targeting.codes.generate_codes`);
    the demo draws them from its seed so that it is the same on every machine.
    """
    out = pd.Index([], dtype=object)
    while len(out) < n:
        need = n - len(out)
        body = rng.integers(0, _codes.N, size=(need, _codes.DEFAULT_LENGTH))
        full = np.concatenate([body, _codes.check_characters(body)[:, None]], axis=1)
        fresh = ["".join(_codes.ALPHABET[i] for i in row) for row in full]
        out = out.append(pd.Index(fresh)).drop_duplicates()
    codes: np.ndarray = out.to_numpy()[:n]
    return codes


def draw_targets(customers: pd.DataFrame, stores: pd.DataFrame, assignment: pd.DataFrame,
                 rng: np.random.Generator, rates: CampaignRates, mode: str = "walk") -> pd.DataFrame:
    """Contactable customers within the last band (minutes of ``mode``), with band, group and codes."""
    from geo.data.consent import contactable

    a = assignment.set_index("customer_id")
    c = customers.set_index("customer_id")
    ok = pd.Series(contactable(customers), index=c.index)
    t = a.loc[a["reachable"].astype(bool) & (a["travel_min"] <= BANDS[-1])]
    t = t[ok.loc[t.index].to_numpy()]
    band = np.digitize(t["travel_min"].to_numpy(), BANDS, right=True)
    labels = np.array([f"{lo}-{hi}" for lo, hi in zip((0,) + BANDS[:-1], BANDS, strict=True)])
    targets = pd.DataFrame({
        "customer_id": t.index.to_numpy(), "email": c.loc[t.index, "email"].to_numpy(),
        "first_name": c.loc[t.index, "first_name"].to_numpy(),
        "store_id": t["store_id"].to_numpy(), "travel_min": t["travel_min"].round(2).to_numpy(),
        "band": labels[band], "segment": c.loc[t.index, "segment"].to_numpy(),
    }).sort_values("customer_id", ignore_index=True)
    group = np.full(len(targets), "treatment", dtype=object)
    for _, idx in targets.groupby(["store_id", "band"]).indices.items():
        k = int(round(len(idx) * rates.holdout))
        group[rng.choice(idx, size=k, replace=False)] = "holdout"
    targets["group"] = group
    treat = targets["group"] == "treatment"
    targets["coupon_code"] = pd.Series(pd.NA, index=targets.index, dtype="string")
    targets.loc[treat, "coupon_code"] = _demo_codes(int(treat.sum()), rng)
    names = stores.set_index("store_id")
    targets["store_name"] = names.loc[targets["store_id"], "name"].to_numpy()
    targets["store_address"] = names.loc[targets["store_id"], "address"].to_numpy()
    targets["mode"] = mode
    targets["offer_start"] = OFFER_START
    targets["offer_end"] = OFFER_END
    return targets


def draw_events(targets: pd.DataFrame, rng: np.random.Generator,
                rates: CampaignRates, campaign_id: str) -> tuple[pd.DataFrame, pd.Series]:
    """Provider events for the treatment group; returns (events, per-target clicked flag)."""
    tr = targets[targets["group"] == "treatment"]
    n = len(tr)
    sent_ts = SENT_AT + pd.to_timedelta(rng.integers(0, 1800, n), unit="s")
    delivered = rng.random(n) < rates.delivered
    opened = delivered & (rng.random(n) < rates.opened)
    clicked = opened & (rng.random(n) < rates.clicked)
    unsub = delivered & (rng.random(n) < rates.unsubscribed)
    open_ts = sent_ts + _hours(rng, n, 10)
    frames = [
        (np.ones(n, bool), "sent", sent_ts),
        (delivered, "delivered", sent_ts + pd.to_timedelta(rng.integers(1, 90, n), unit="s")),
        (~delivered, "bounced", sent_ts + pd.to_timedelta(rng.integers(1, 600, n), unit="s")),
        (opened, "opened", open_ts),
        (clicked, "clicked", open_ts + pd.to_timedelta(rng.integers(5, 900, n), unit="s")),
        (unsub, "unsubscribed", open_ts + pd.to_timedelta(rng.integers(5, 900, n), unit="s")),
    ]
    events = pd.concat([pd.DataFrame({"email": tr["email"].to_numpy()[m], "event": name,
                                      "timestamp": ts[m], "campaign_id": campaign_id})
                        for m, name, ts in frames], ignore_index=True)
    events = events.sort_values(["timestamp", "email"], ignore_index=True)
    return events, pd.Series(clicked, index=tr.index)


def _visit_times(rng: np.random.Generator, n: int, late_share: float) -> pd.DatetimeIndex:
    days = rng.integers(0, 3, n)
    minutes = rng.integers(9 * 60, 21 * 60, n)
    ts = OFFER_START + pd.to_timedelta(days, unit="D") + pd.to_timedelta(minutes, unit="min")
    late = rng.random(n) < late_share
    next_day = OFFER_END.normalize() + pd.Timedelta(days=1) + pd.to_timedelta(minutes, unit="min")
    return ts.where(~late, next_day)


def draw_redemptions(targets: pd.DataFrame, clicked: pd.Series, stores: pd.DataFrame,
                     rng: np.random.Generator, rates: CampaignRates) -> pd.DataFrame:
    """Till records of the offer: unique codes, store-wide codes (holdout and walk-ins), anomalies."""
    decay = np.exp(-targets["travel_min"].to_numpy() / rates.decay_min)
    treat = (targets["group"] == "treatment").to_numpy()
    lift = np.where(clicked.reindex(targets.index, fill_value=False).to_numpy(), rates.click_lift,
                    1.0)
    p = np.where(treat, rates.redeem_at_store * lift, rates.holdout_visit_at_store) * decay
    who = targets[rng.random(len(targets)) < p]
    n = len(who)
    store_ids = stores["store_id"].to_numpy()
    store = who["store_id"].to_numpy().copy()
    cross = rng.random(n) < rates.cross_store
    store[cross] = rng.choice(store_ids, size=int(cross.sum()))
    is_treat = (who["group"] == "treatment").to_numpy()
    card = rng.random(n) < rates.loyalty_card   # a customer trait: same share in both groups
    sigma = 0.5
    amount = rng.lognormal(np.log(rates.mean_basket_eur) - sigma ** 2 / 2, sigma, n).round(2)
    red = pd.DataFrame({
        "coupon_code": np.where(is_treat, who["coupon_code"].astype(object), STORE_WIDE_CODE),
        "store_id": store, "timestamp": _visit_times(rng, n, rates.late), "amount": amount,
        "customer_id": pd.Series(np.where(card, who["customer_id"], None), dtype="string"),
    })
    walk_ins = pd.DataFrame({
        "coupon_code": STORE_WIDE_CODE, "store_id": rng.choice(store_ids, 60),
        "timestamp": _visit_times(rng, 60, 0.0),
        "amount": rng.lognormal(np.log(30), 0.5, 60).round(2),
        "customer_id": pd.Series([None] * 60, dtype="string")})
    coded = red[red["coupon_code"] != STORE_WIDE_CODE]
    twice = coded.sample(n=min(3, len(coded)), random_state=int(rng.integers(1 << 31)))
    twice = twice.assign(timestamp=twice["timestamp"] + pd.Timedelta(hours=3))
    typos = coded.sample(n=min(4, len(coded)), random_state=int(rng.integers(1 << 31)))
    typos = typos.assign(coupon_code=[c[:-1] + ("X" if c[-1] != "X" else "Y")
                                      for c in typos["coupon_code"]], customer_id=pd.NA)
    out = pd.concat([red, walk_ins, twice, typos], ignore_index=True)
    out = out.sort_values("timestamp", ignore_index=True)
    out.insert(4, "transaction_id", [f"T{i + 1:06d}" for i in range(len(out))])
    return out


def make_campaign(customers: pd.DataFrame, stores: pd.DataFrame, assignment: pd.DataFrame,
                  *, seed: int, rates: CampaignRates = CampaignRates(),
                  mode: str = "walk") -> dict[str, Any]:
    """Draw the demo campaign.

    Parameters
    ----------
    customers, stores
        The demo tables.
    assignment
        Assignment of customers to their nearest store in ``mode``
        (`geo.catchments.assign.assign_customers`).
    seed
        Random seed.
    rates
        Stated rates.
    mode
        Travel mode of the assignment (``"walk"``, ``"drive"``), recorded in the targets.

    Returns
    -------
    dict with ``targets``, ``events``, ``redemptions`` (DataFrames) and ``params`` (dict).
    """
    rng = np.random.default_rng([seed, 2026])
    campaign_id = "autumn-weekend-2026"
    targets = draw_targets(customers, stores, assignment, rng, rates, mode)
    events, clicked = draw_events(targets, rng, rates, campaign_id)
    redemptions = draw_redemptions(targets, clicked, stores, rng, rates)
    params = {"campaign_id": campaign_id, "mode": mode, "bands": list(BANDS),
              "holdout": rates.holdout, "seed": seed, "sent_at": SENT_AT.isoformat(),
              "store_wide_codes": [STORE_WIDE_CODE], "rates": asdict(rates),
              "cost_per_email": DEMO_COST_PER_EMAIL, "currency": DEMO_CURRENCY,
              "source": "synthetic demo campaign (geo.demo.campaign)"}
    return {"targets": targets, "events": events, "redemptions": redemptions, "params": params}
