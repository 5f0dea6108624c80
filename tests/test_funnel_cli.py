"""The ``python -m geo funnel`` command on small files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geo.cli import main

ROOT = Path(__file__).resolve().parent.parent

TARGETS = """customer_id,email,store_id,travel_min,coupon_code,group,segment
c1,A@x.com,S1,3,AAA1,treatment,loyal
c2,b@x.com,S1,7,BBB2,treatment,new
c3,c@x.com,S2,12,CCC3,treatment,loyal
c4,d@x.com,S2,16,DDD4,treatment,new
h1,h1@x.com,S1,4,,holdout,loyal
h2,h2@x.com,S2,9,,holdout,new
"""
EVENTS = """email,event,timestamp,campaign_id
 a@X.com,sent,2026-10-01T08:00:00,mc1
a@x.com,opened,2026-10-01T09:00:00,mc1
b@x.com,delivered,2026-10-01T08:00:00,mc1
c@x.com,sent,2026-10-01T08:00:00,mc1
c@x.com,bounced,2026-10-01T08:01:00,mc1
d@x.com,clicked,2026-10-01T10:00:00,mc1
not-an-email,opened,2026-10-01T09:00:00,mc1
"""
REDEMPTIONS = """coupon_code,store_id,timestamp,amount,transaction_id,customer_id
aaa1 ,S1,2026-10-02T10:00:00,10.0,t1,
AAA1,S1,2026-10-03T10:00:00,20.0,t2,
ZZZ,S1,2026-10-02T11:00:00,5.0,t3,
WELCOME10,S2,2026-10-02T12:00:00,7.0,t4,h2
BBB2,S2,2026-10-09T10:00:00,3.0,t5,
DDD4,S1,2026-10-03T10:00:00,12.5,t6,
"""


@pytest.fixture()
def files(tmp_path):
    paths = {}
    for name, text in (("targets", TARGETS), ("events", EVENTS), ("redemptions", REDEMPTIONS)):
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def run(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main(["funnel", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_funnel_json(files, capsys):
    code, out, _ = run(capsys, "--targets", files["targets"], "--events", files["events"],
                       "--redemptions", files["redemptions"], "--window", "2026-10-01/2026-10-03",
                       "--store-wide-codes", "welcome10", "--cost-per-email", "0.5", "--json")
    assert code == 0
    assert out["stages"] == {"targeted": 4, "sent": 4, "delivered": 3, "opened": 2, "clicked": 1,
                             "redeemed": 2, "revenue": 22.5}
    assert out["by_store"]["S1"]["redeemed"] == 1 and out["by_store"]["S2"]["redeemed"] == 1
    assert out["by_band"]["0-5"]["targeted"] == 1 and out["by_band"]["15+"]["redeemed"] == 1
    assert out["by_segment"]["loyal"]["targeted"] == 2
    h = out["holdout"]
    assert h["treatment_rate"] == 0.5 and h["holdout_rate"] == 0.5 and h["lift_abs"] == 0.0
    assert len(h["ci"]) == 2 and h["ci"][0] < 0 < h["ci"][1] and h["confidence"] == 0.95
    assert h["cost"] == 2.0  # 4 sent x 0.5
    assert out["anomalies"] == {"unknown_code": 1, "likely_typo": 0, "double_redemption": 1,
                                "cross_store": 2,
                                "outside_window": 1, "holdout_redemption": 1, "holdout_contacted": 0}
    assert out["store_wide"]["redemptions"] == 1
    assert out["validation"]["events"]["errors"][0] == {
        "row": 8, "column": "email", "reason": "not a valid e-mail address"}


def test_funnel_only_targets(files, capsys):
    code, out, _ = run(capsys, "--targets", files["targets"])
    assert code == 0 and out["stages"]["targeted"] == 4 and out["stages"]["redeemed"] == 0


def test_funnel_bands_option(files, capsys):
    _, out, _ = run(capsys, "--targets", files["targets"], "--bands", "10,20")
    assert list(out["by_band"]) == ["0-10", "10-20"]


@pytest.mark.parametrize("argv, message", [
    (["--window", "2026-10-05/2026-10-01"], "before it starts"),
    (["--window", "yesterday"], "START/END"),
    (["--bands", "five"], "--bands"),
    (["--redemptions", "missing.csv"], "file not found"),
])
def test_funnel_user_errors_exit_2(files, capsys, argv, message):
    code, out, err = run(capsys, "--targets", files["targets"], *argv)
    assert code == 2 and out is None
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_funnel_as_a_process(files):
    proc = subprocess.run([sys.executable, "-m", "geo", "funnel", "--targets", str(files["targets"]),
                           "--redemptions", str(files["redemptions"]), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stages"]["redeemed"] == 3  # no window: t1, t5 (c2), t6 (c4)
