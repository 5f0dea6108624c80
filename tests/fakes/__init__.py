"""Loopback fakes of the email providers (one module each) and shared test data for export tests."""

from __future__ import annotations

import pandas as pd

from geo.export import RetryPolicy


def make_targets(n: int = 10) -> pd.DataFrame:
    """A target list: ``n`` consented treatment rows, then one holdout, one not opted in,
    one unsubscribed and one malformed address (none of which may be exported)."""
    rows = [{"customer_id": f"C{i:03d}", "email": f"Person{i}@Example.com", "first_name": f"P{i}",
             "store_id": f"S{i % 3:02d}", "store_name": f"Store {i % 3}",
             "store_address": f"{i} Main St", "travel_min": 3.4 + i, "mode": "drive",
             "coupon_code": f"CODE-{i:04d}", "group": "treatment", "offer_start": "2026-06-01",
             "offer_end": "2026-06-30", "tags": f"store:S{i % 3:02d}, band:5-10,segment:loyal",
             "opted_in": True, "unsubscribed": False} for i in range(n)]
    base = dict(rows[0])
    rows.append({**base, "customer_id": "H1", "email": "holdout@example.com", "group": "holdout"})
    rows.append({**base, "customer_id": "N1", "email": "noconsent@example.com", "opted_in": False})
    rows.append({**base, "customer_id": "U1", "email": "unsub@example.com", "unsubscribed": True})
    rows.append({**base, "customer_id": "B1", "email": "not-an-email"})
    return pd.DataFrame(rows)


class Sleeps(list):
    """Records requested sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fast_policy(sleeps: Sleeps | None = None, **kw) -> RetryPolicy:
    """A retry policy for tests: short timeouts, no real sleeping."""
    opts = dict(timeout=0.5, max_attempts=6, backoff_base=0.01, poll_interval=0.01,
                max_polls=50, sleep=sleeps if sleeps is not None else Sleeps())
    opts.update(kw)
    return RetryPolicy(**opts)
