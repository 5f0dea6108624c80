"""The demo's past campaign end to end, through the function the funnel page uses.

Stage counts are checked against a direct pandas computation on the saved
tables, the lift must be positive, and the anomalies must be those that
`geo.demo.campaign` plants.
"""

from __future__ import annotations

import pandas as pd
import pytest

from geo.demo import campaign as demo_campaign
from geo.demo.campaign import CAMPAIGN_NAME, OFFER_END, OFFER_START, STORE_WIDE_CODE
from geo.funnel.campaign import analyse_campaign, saved_campaign
from geo.workspace import open_workspace


@pytest.fixture(scope="module")
def demo(demo_root):
    ws = open_workspace("demo", demo_root)
    tables = {k: ws.load_campaign_file(CAMPAIGN_NAME, k) for k in ("targets", "events", "redemptions")}
    return ws, tables, analyse_campaign(ws, CAMPAIGN_NAME, cost_per_email=0.002)


def direct_redemptions(targets: pd.DataFrame, red: pd.DataFrame) -> pd.DataFrame:
    """Each redemption's recipient, written out in plain pandas (card first, else code owner)."""
    red = red.copy()
    red["code"] = red["coupon_code"].str.strip().str.upper()
    owner = targets.dropna(subset=["coupon_code"]).set_index("coupon_code")["customer_id"]
    known = red["customer_id"].isin(set(targets["customer_id"]))
    red["recipient"] = red["customer_id"].where(known, red["code"].map(owner))
    info = targets.set_index("customer_id")
    red["group"] = red["recipient"].map(info["group"])
    red["home_store"] = red["recipient"].map(info["store_id"])
    red["late"] = (red["timestamp"] < OFFER_START) | (red["timestamp"] > OFFER_END)
    coded = red["code"].isin(set(owner.index))
    red["repeat"] = False
    by_time = red.sort_values("timestamp", kind="stable")
    red.loc[by_time.index, "repeat"] = (coded.loc[by_time.index]
                                        & by_time["code"].duplicated(keep="first")).to_numpy()
    red["counted"] = red["recipient"].notna() & ~red["late"] & ~red["repeat"]
    return red


def test_the_page_reads_the_campaigns_own_settings(demo):
    ws, _, _ = demo
    s = saved_campaign(ws, CAMPAIGN_NAME)
    assert s.store_wide_codes == (STORE_WIDE_CODE,)
    assert s.bands == tuple(float(b) for b in demo_campaign.BANDS)
    assert (s.window.start, s.window.end) == (OFFER_START, OFFER_END)


def test_stage_counts_match_a_direct_pandas_computation(demo):
    _, t, result = demo
    treat = t["targets"][t["targets"]["group"] == "treatment"]
    ev = t["events"]
    emails = set(treat["email"].str.lower())

    def reached(*events: str) -> int:
        return len(emails & set(ev.loc[ev["event"].isin(events), "email"].str.lower()))

    red = direct_redemptions(t["targets"], t["redemptions"])
    counted = red[red["counted"] & (red["group"] == "treatment")]
    expected = {
        "targeted": len(treat),
        "sent": reached("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed"),
        "delivered": reached("delivered", "opened", "clicked"),
        "opened": reached("opened", "clicked"),
        "clicked": reached("clicked"),
        "redeemed": counted["recipient"].nunique(),
    }
    assert {k: result.stages[k] for k in expected} == expected
    assert result.stages["revenue"] == pytest.approx(counted["amount"].sum(), abs=0.01)
    assert expected["targeted"] > expected["sent"] * 0.99 > expected["opened"] > expected["clicked"]
    # conversions are the counts' ratios
    table = result.stage_table.set_index("stage")
    assert table.loc["clicked", "step_rate"] == pytest.approx(expected["clicked"] / expected["opened"])
    assert table.loc["redeemed", "cumulative_rate"] == pytest.approx(
        expected["redeemed"] / expected["targeted"])
    # the store breakdown adds up to the totals
    assert int(result.by_store["redeemed"].sum()) == expected["redeemed"]
    assert int(result.by_band["targeted"].sum()) == expected["targeted"]
    assert list(result.by_band.index) == ["0-5", "5-10", "10-15"]


def test_lift_is_positive_on_both_bases(demo):
    _, t, result = demo
    for lift in (result.lift, result.lift_like_for_like):
        assert lift.lift_abs > 0 and lift.lift_low > 0
        assert lift.incremental_redemptions > 0 and lift.cost_per_incremental_visit > 0
    # like-for-like counts fewer treatment redemptions, never more; the holdout's are the same
    assert result.lift_like_for_like.treatment_redeemed < result.lift.treatment_redeemed
    assert result.lift_like_for_like.holdout_redeemed == result.lift.holdout_redeemed
    hold = t["targets"][t["targets"]["group"] == "holdout"]
    red = direct_redemptions(t["targets"], t["redemptions"])
    assert result.lift.holdout_n == len(hold)
    assert result.lift.holdout_redeemed == red.loc[red["counted"] & (red["group"] == "holdout"),
                                                      "recipient"].nunique()


def test_anomalies_are_the_planted_ones(demo):
    _, t, result = demo
    red = direct_redemptions(t["targets"], t["redemptions"])
    a = result.anomalies
    assert a["unknown_code"] == 4          # draw_redemptions mistypes 4 codes
    assert a["likely_typo"] == 4           # each by one character: the intended code is known
    assert a["double_redemption"] == 3     # and redeems 3 codes a second time
    assert a["outside_window"] == int(red["late"].sum()) > 0
    assert a["cross_store"] == int((red["recipient"].notna()
                                    & (red["store_id"] != red["home_store"])).sum()) > 0
    assert a["holdout_redemption"] == int((red["group"] == "holdout").sum()) > 0
    assert a["holdout_contacted"] == 0
    sw = result.store_wide
    assert sw["redemptions"] == int((t["redemptions"]["coupon_code"] == STORE_WIDE_CODE).sum())
    assert sw["by_holdout"] == a["holdout_redemption"]
