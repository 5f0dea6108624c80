"""Attribution of redemptions to recipients and the five anomalies, on hand-made cases."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.errors import DataError
from geo.funnel.attribution import (
    ANOMALIES,
    Window,
    anomaly_counts,
    anomaly_table,
    attribute_redemptions,
    likely_typos,
    store_wide_summary,
)
from geo.targeting.codes import generate_codes


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


def test_codes_typed_with_dashes_spaces_and_lower_case_are_matched():
    red = pd.DataFrame({"coupon_code": ["aa-a1", " A A A 1", "bbb\u20132"], "store_id": "S1",
                        "timestamp": pd.to_datetime(["2026-10-02"] * 3), "amount": 1.0})
    a = attribute_redemptions(targets(), red)
    assert a["recipient_id"].tolist() == ["c1", "c1", "c2"]
    assert a["code"].tolist() == ["AAA1", "AAA1", "BBB2"] and not a["unknown_code"].any()


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
        "likely_typo": [],
        "double_redemption": ["t2"],
        "cross_store": ["t5"],
        "outside_window": ["t5"],
        "holdout_redemption": ["t4"],
    }
    assert anomaly_counts(a) == {n: int(n != "likely_typo") for n in ANOMALIES}
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


def _issued(n: int = 200) -> pd.DataFrame:
    codes = generate_codes(n)
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)],
                         "email": [f"p{i}@x.com" for i in range(n)], "store_id": "S1",
                         "travel_min": 5.0, "coupon_code": codes, "group": "treatment"})


def _slips(code: str) -> tuple[str, str]:
    """One substitution (first character) and one swap of two adjacent, different characters."""
    sub = ("Z" if code[0] != "Z" else "Y") + code[1:]
    i = next(i for i in range(len(code) - 1) if code[i] != code[i + 1])
    swap = code[:i] + code[i + 1] + code[i] + code[i + 2:]
    return sub, swap


def test_one_slip_codes_are_reported_as_likely_typos_and_not_counted_by_default():
    t = _issued()
    sub, swap = _slips(t.loc[3, "coupon_code"])
    sub2, _ = _slips(t.loc[7, "coupon_code"])
    red = pd.DataFrame({"coupon_code": [sub.lower(), swap, f"{sub2[:4]}-{sub2[4:]}", "ZZZZZZZZZ"],
                        "store_id": "S1", "timestamp": pd.to_datetime(["2026-10-02"] * 4),
                        "amount": [1.0, 2.0, 3.0, 4.0]})
    a = attribute_redemptions(t, red)
    assert a["likely_typo"].tolist() == [True, True, True, False]
    assert a["intended_code"].tolist()[:3] == [t.loc[3, "coupon_code"]] * 2 + [t.loc[7, "coupon_code"]]
    assert a["unknown_code"].all() and not a["counted"].any()
    accepted = attribute_redemptions(t, red, accept_typos=True)
    assert accepted["recipient_id"].tolist()[:3] == ["c3", "c3", "c7"]
    assert accepted["counted"].tolist() == [True, False, True, False]  # the swap repeats code 3
    assert accepted["double_redemption"].tolist() == [False, True, False, False]
    assert accepted["unknown_code"].tolist() == [False, False, False, True]
    assert accepted["likely_typo"].tolist() == [True, True, True, False]
    assert "intended_code" in anomaly_table(a).columns


def test_an_ambiguous_slip_is_not_a_likely_typo():
    issued = pd.Series(["ABCDE", "ABCDF"], dtype="string")  # no check character: 1 apart
    got = likely_typos(pd.Series(["ABCDG", "ABCED", "ABCDE", None], dtype="string"), issued)
    assert pd.isna(got[0])             # one substitution from both issued codes
    assert got[1] == "ABCDE"           # one adjacent swap from exactly one
    assert pd.isna(got[2]) and pd.isna(got[3])  # issued itself, missing
