"""One set of campaign settings per workspace; one Mode type; money in the workspace's currency."""

from __future__ import annotations

import pytest

from geo.campaign_settings import CampaignSettings, load_settings, save_settings
from geo.modes import MODES, TRAVEL_MODES, Mode
from geo.money import check_currency, format_money
from geo.workspace import create_workspace


def test_mode_knows_its_unit_network_and_column():
    assert [m.value for m in MODES] == ["walk", "bike", "drive", "radius"]
    assert Mode.RADIUS == "radius" and Mode.parse(" Drive ") is Mode.DRIVE
    assert [m.unit for m in MODES] == ["min", "min", "min", "km"]
    assert Mode.RADIUS.network == "walk" and Mode.BIKE.network == "bike"
    assert Mode.RADIUS.metric_column == "crow_km" and Mode.WALK.metric_column == "travel_min"
    assert Mode.RADIUS not in TRAVEL_MODES
    with pytest.raises(ValueError, match="use one of walk, bike, drive, radius"):
        Mode.parse("boat")


def test_settings_set_on_one_page_are_read_on_the_next(tmp_path):
    ws = create_workspace("w", tmp_path)
    save_settings(ws, mode="drive", bands=[15, 5, 10], traffic=0.8, currency="chf")
    s = load_settings(create_workspace("w", tmp_path, exist_ok=True))  # a fresh handle
    assert (s.mode, s.bands, s.traffic, s.currency) == (Mode.DRIVE, (5.0, 10.0, 15.0), 0.8, "CHF")
    save_settings(ws, mode="radius", bands=[2, 1])
    s = load_settings(ws)
    assert s.bands == (1.0, 2.0) and s.minutes == (5.0, 10.0, 15.0)  # each mode keeps its bands


def test_bad_values_are_refused_and_change_nothing(tmp_path):
    ws = create_workspace("w", tmp_path)
    save_settings(ws, cost_per_email=0.01)
    for bad in ({"bands": [0, 5]}, {"traffic": 0}, {"currency": "euro"}, {"mode": "boat"},
                {"cost_per_email": -1}):
        with pytest.raises(ValueError):
            save_settings(ws, **bad)
    assert load_settings(ws).cost_per_email == 0.01


def test_settings_kept_under_older_keys_are_read(tmp_path):
    ws = create_workspace("w", tmp_path)
    ws.update_settings(mode="bike", minutes=[4, 8], reach={"cost_per_email": 0.003})
    s = load_settings(ws)
    assert (s.mode, s.minutes, s.cost_per_email) == (Mode.BIKE, (4.0, 8.0), 0.003)
    assert CampaignSettings().currency == "EUR"


def test_money_is_written_with_its_currency():
    assert format_money(9720, "EUR") == "€9,720"
    assert format_money(1234.5, "CHF", decimals=2) == "CHF 1,234.50"
    assert format_money(-3, "USD") == "-$3" and format_money(None, "EUR") == "n/a"
    assert format_money(float("nan"), "EUR") == "n/a"
    assert check_currency(" sek ") == "SEK"
