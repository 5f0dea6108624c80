"""Reading provider activity exports: generic, Mailchimp report (CSV and ZIP), Klaviyo events."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from geo.data.activity import (
    activity_to_events,
    detect_layout,
    event_from_name,
    load_activity,
    read_activity,
)
from geo.errors import DataError


def frame(text: str) -> pd.DataFrame:
    from geo.data.tables import read_csv_text
    return read_csv_text(text, "test.csv")


def test_generic_layout_keeps_good_rows_and_reports_bad_ones():
    df = frame("email,event,timestamp,campaign_id\n"
               "a@x.com,sent,2026-10-01T08:00:00,c1\n"
               "b@x.com,exploded,2026-10-01T08:00:00,c1\n"
               "c@x.com,opened,2026-10-01T09:00:00+02:00,c1\n")
    imp = activity_to_events(df)
    assert imp.layout == "generic"
    assert imp.events["email"].tolist() == ["a@x.com", "c@x.com"]
    assert imp.events["timestamp"].tolist()[1] == pd.Timestamp("2026-10-01 07:00")  # to UTC
    err = imp.report.errors.iloc[0]
    assert (err["row"], err["column"]) == (3, "event")


def test_mailchimp_email_activity():
    df = frame("Email Address,Action,Timestamp,URL,IP\n"
               "A@x.com,open,2026-10-01T10:00:00+00:00,,1.2.3.4\n"
               "a@x.com,click,2026-10-01T10:01:00+00:00,https://shop.example/offer,1.2.3.4\n"
               "b@x.com,bounce,2026-10-01T08:00:00+00:00,,\n"
               "c@x.com,forward,2026-10-01T08:00:00+00:00,,\n")
    imp = activity_to_events(df, campaign_id="mc-42")
    assert imp.layout == "mailchimp"
    assert imp.events["event"].tolist() == ["opened", "clicked", "bounced"]
    assert set(imp.events["campaign_id"]) == {"mc-42"}
    assert imp.report.errors["row"].tolist() == [5]


def test_klaviyo_events_map_metrics_and_skip_others():
    df = frame("Email,Metric,Timestamp,Campaign Name\n"
               "a@x.com,Received Email,1759300000,Autumn\n"
               "a@x.com,Opened Email,2026-10-01T10:00:00+02:00,Autumn\n"
               "b@x.com,Placed Order,2026-10-01T10:00:00,Autumn\n"
               "c@x.com,Bounced Email,1759300000000,Autumn\n"
               "bad-address,Clicked Email,2026-10-01T10:00:00,Autumn\n"
               "d@x.com,Unsubscribed from Email Marketing,2026-10-02,Autumn\n")
    imp = activity_to_events(df, file="klaviyo.csv")
    assert imp.layout == "klaviyo"
    ev = imp.events
    assert list(zip(ev["email"], ev["event"], strict=True)) == [
        ("a@x.com", "sent"), ("a@x.com", "delivered"), ("a@x.com", "opened"),
        ("c@x.com", "sent"), ("c@x.com", "bounced"), ("d@x.com", "unsubscribed")]
    assert ev["timestamp"].iloc[0] == pd.Timestamp("2025-10-01 06:26:40")  # Unix seconds, UTC
    assert ev["timestamp"].iloc[3] == pd.Timestamp("2025-10-01 06:26:40")  # milliseconds
    assert ev["campaign_id"].iloc[0] == "Autumn"
    assert imp.skipped == {"Placed Order": 1}
    assert imp.report.errors["row"].tolist() == [6]
    assert imp.as_dict()["skipped"] == 1


def test_klaviyo_api_flattened_names():
    df = frame("profile.email,metric.name,datetime,$message\n"
               "a@x.com,Clicked Email,2026-10-01T10:00:00+00:00,M1\n")
    imp = activity_to_events(df)
    assert imp.layout == "klaviyo" and imp.events["event"].tolist() == ["clicked"]


def test_mailchimp_report_zip(tmp_path):
    path = tmp_path / "report.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Autumn/sent_to.csv", "Email Address,First Name\na@x.com,A\nb@x.com,B\n")
        z.writestr("Autumn/opened.csv", "Email Address,First Name\na@x.com,A\n")
        z.writestr("Autumn/not_opened.csv", "Email Address,First Name\nb@x.com,B\n")
        z.writestr("Autumn/clicked.csv", "Email Address,First Name\nnope,A\n")
        z.writestr("Autumn/aggregate_stats.csv", "Title,Value\nOpens,1\n")
    imp = read_activity(path, sent_at="2026-10-01T08:00:00")
    assert imp.layout == "mailchimp_members"
    assert sorted(zip(imp.events["email"], imp.events["event"], strict=True)) == [
        ("a@x.com", "opened"), ("a@x.com", "sent"), ("b@x.com", "sent")]
    assert set(imp.events["timestamp"]) == {pd.Timestamp("2026-10-01 08:00")}
    assert imp.skipped == {"not_opened.csv": 1, "aggregate_stats.csv": 1}
    reason = imp.report.errors.iloc[0]["reason"]
    assert "report.zip/Autumn/clicked.csv" in reason and imp.report.errors.iloc[0]["row"] == 2
    with pytest.raises(DataError, match="clicked.csv"):
        load_activity(path, sent_at="2026-10-01T08:00:00")


def test_member_list_needs_a_time(tmp_path):
    path = tmp_path / "opened.csv"
    path.write_text("Email Address,First Name\na@x.com,A\n", encoding="utf-8")
    with pytest.raises(DataError, match="sent_at"):
        read_activity(path)
    assert load_activity(path, sent_at="2026-10-01")["event"].tolist() == ["opened"]


def test_detect_layout_and_errors():
    assert detect_layout(frame("email,event,timestamp\na@x.com,Opened Email,2026-10-01\n")) == "klaviyo"
    assert detect_layout(frame("email,event,timestamp\na@x.com,opened,2026-10-01\n")) == "generic"
    with pytest.raises(DataError, match="found columns: who, when"):
        detect_layout(frame("who,when\na,b\n"))
    with pytest.raises(DataError, match="unknown activity layout"):
        activity_to_events(frame("email,event,timestamp\na@x.com,sent,2026-10-01\n"), layout="x")


def test_event_from_file_name():
    assert event_from_name("sent_to.csv") == "sent"
    assert event_from_name("Opened Members.csv") == "opened"
    assert event_from_name("clicked.csv") == "clicked"
    assert event_from_name("hard_bounces.csv") == "bounced"
    assert event_from_name("unsubscribes.csv") == "unsubscribed"
    assert event_from_name("not_opened.csv") is None
    assert event_from_name("unopened.csv") is None
    assert event_from_name("aggregate_stats.csv") is None
