"""Attribution of redemptions to recipients and the five anomalies, on hand-made cases."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.attribution import (ANOMALIES, Window, anomaly_counts, anomaly_table, attribute_redemptions,
                             normalise_codes, normalise_emails, store_wide_summary)
from geo.errors import DataError


def targets() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "h1", "h2"],
        "email": ["a@x.com", "b@x.com", "c@x.com", "h1@x.com", "h2@x.com"],
        "store_id": ["S1", "S1", "S2", "S1", "S2"],
        "travel_min": [3.0, 7.0, 12.0, 4.0, 9.0],
        "coupon_code": ["AAA1", "bbb2", "CCC3", pd.NA, pd.NA],
        "group": ["treatment", "treatment", "treatment", "holdout", "holdout"],
    })


def redemptions() -> pd.DataFrame:
    # t1: valid; t2: repeat of AAA1; t3: unknown code; t4: holdout h2 with a store-wide code
    # via loyalty card; t5: BBB2 at the wrong store and after the window.
    return pd.DataFrame({
        "coupon_code": [" aaa1 ", "AAA1", "ZZZ9", "welcome10", "BBB2"],
        "store_id": ["S1", "S1", "S1", "S2", "S2"],
        "timestamp": pd.to_datetime(["2026-10-02 10:00", "2026-10-03 10:00", "2026-10-02 11:00",
                                     "2026-10-02 12:00", "2026-10-09 10:00"]),
        "amount": [10.0, 20.0, 5.0, 7.0, 3.0],
        "transaction_id": ["t1", "t2", "t3", "t4", "t5"],
        "customer_id": [pd.NA, pd.NA, pd.NA, "h2", pd.NA],
    })


WINDOW = Window.parse("2026-10-01/2026-10-03")


def attributed(**kw) -> pd.DataFrame:
    kw.setdefault("window", WINDOW)
    kw.setdefault("store_wide_codes", ["WELCOME10"])
    return attribute_redemptions(targets(), redemptions(), **kw)


def test_normalising_codes_and_emails():
    codes = normalise_codes(pd.Series([" ab c1 ", "AbC1", "", None]))
    assert codes.tolist()[:2] == ["ABC1", "ABC1"]
    assert codes.isna().tolist()[2:] == [True, True]
    assert normalise_emails(pd.Series(["  A@X.Com "])).tolist() == ["a@x.com"]


def test_each_redemption_is_matched_by_code_or_till_customer():
    a = attributed().set_index("transaction_id")
    assert a.loc["t1", "recipient_id"] == "c1" and a.loc["t1", "match"] == "code"
    assert a.loc["t5", "recipient_id"] == "c2"  # code stored lower-case in targets
    assert a.loc["t4", "recipient_id"] == "h2" and a.loc["t4", "match"] == "customer_id"
    assert pd.isna(a.loc["t3", "recipient_id"])
    assert a["kind"].tolist() == ["unique", "unique", "unknown", "store_wide", "unique"]


def test_every_anomaly_hand_counted():
    a = attributed().set_index("transaction_id")
    flagged = {name: sorted(a.index[a[name]]) for name in ANOMALIES}
    assert flagged == {
        "unknown_code": ["t3"],
        "double_redemption": ["t2"],
        "cross_store": ["t5"],
        "outside_window": ["t5"],
        "holdout_redemption": ["t4"],
    }
    assert anomaly_counts(a) == {n: 1 for n in ANOMALIES}
    assert sorted(a.index[a["counted"]]) == ["t1", "t4"]


def test_double_redemption_follows_time_not_file_order():
    red = redemptions().iloc[[1, 0]].reset_index(drop=True)  # later one listed first
    a = attribute_redemptions(targets(), red)
    assert a["double_redemption"].tolist() == [True, False]


def test_till_customer_id_takes_precedence_over_the_code_owner():
    red = redemptions().iloc[[0]].assign(customer_id="c3")
    a = attribute_redemptions(targets(), red)
    assert a.loc[0, "recipient_id"] == "c3" and a.loc[0, "match"] == "customer_id"
    assert bool(a.loc[0, "cross_store"])  # c3's nearest store is S2, redeemed at S1


def test_unknown_till_customer_falls_back_to_the_code():
    red = redemptions().iloc[[0]].assign(customer_id="stranger")
    a = attribute_redemptions(targets(), red)
    assert a.loc[0, "recipient_id"] == "c1"


def test_without_window_nothing_is_outside_it():
    a = attributed(window=None)
    assert not a["outside_window"].any()
    assert sorted(a.loc[a["counted"], "transaction_id"]) == ["t1", "t4", "t5"]


def test_store_wide_code_without_store_wide_list_is_unknown():
    a = attributed(store_wide_codes=())
    assert a.set_index("transaction_id").loc["t4", "kind"] == "unknown"
    assert anomaly_counts(a)["unknown_code"] == 2


def test_store_wide_codes_are_counted_separately():
    summary = store_wide_summary(attributed())
    assert summary == {"redemptions": 1, "revenue": 7.0, "by_recipients": 1, "by_holdout": 1}


def test_anomaly_table_lists_one_row_per_flag():
    table = anomaly_table(attributed())
    assert len(table) == 5
    assert table.loc[table["anomaly"] == "cross_store", "transaction_id"].tolist() == ["t5"]


def test_a_code_given_twice_in_the_targets_is_refused():
    t = targets()
    t.loc[1, "coupon_code"] = "aaa1"
    with pytest.raises(DataError, match="AAA1"):
        attribute_redemptions(t, redemptions())


def test_window_parsing():
    w = Window.parse("2026-10-01/2026-10-03")
    assert w.start == pd.Timestamp("2026-10-01")
    assert w.end == pd.Timestamp("2026-10-03 23:59:59.999999")
    assert Window.parse("2026-10-01T08:00/2026-10-01T20:00").end == pd.Timestamp("2026-10-01 20:00")
    assert Window.parse("2026-10-01T08:00+02:00/2026-10-02").start == pd.Timestamp("2026-10-01 06:00")
    for bad in ("2026-10-01", "2026-10-05/2026-10-01", "x/y"):
        with pytest.raises(DataError):
            Window.parse(bad)
