"""Checks across rows in geo.data.validate: swapped coordinates, duplicates, the report's shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.data.schema import CUSTOMERS, STORES
from geo.data.validate import find_swapped, shared_addresses, validate_table


def test_swapped_row_among_parisians_is_flagged():
    lat = pd.Series([48.85, 48.86, 48.87, 2.35, 48.84])
    lon = pd.Series([2.35, 2.36, 2.33, 48.85, 2.34])
    assert find_swapped(lat, lon).tolist() == [False, False, False, True, False]


def test_latitude_out_of_range_that_swaps_into_place():
    lat = pd.Series([40.7, 40.71, 40.72, -74.0])  # New York; last row swapped
    lon = pd.Series([-74.0, -74.01, -73.99, 40.7])
    assert find_swapped(lat, lon).tolist() == [False, False, False, True]


@pytest.mark.parametrize("lat, lon", [
    ([48.85, 2.35], [2.35, 48.85]),                       # too few rows to tell
    ([48.85, 48.86, 48.87, -21.1], [2.35, 2.36, 2.33, 55.5]),  # far away, not a swap
    ([48.85, 48.86, np.nan, 48.84], [2.35, 2.36, 2.4, np.nan]),  # missing values
    ([45.0, 45.1, 44.9, 45.05], [45.0, 45.1, 44.9, 45.02]),  # lat close to lon
])
def test_swapped_not_flagged(lat, lon):
    assert not find_swapped(pd.Series(lat), pd.Series(lon)).any()


def test_area_follows_the_data_scale():
    rng = np.random.default_rng(1)
    lat = pd.Series(np.r_[rng.normal(47, 2, 200), 2.0])  # France-wide
    lon = pd.Series(np.r_[rng.normal(2, 3, 200), 47.0])
    flags = find_swapped(lat, lon)
    assert flags[-1] and flags[:-1].sum() == 0


def test_shared_addresses_ignore_case_and_surrounding_spaces_only():
    valid = pd.DataFrame({"email": ["a@x.com", " A@X.COM", "b@x.com", "a.b@x.com", None, "B@x.com"],
                          "customer_id": ["1", "2", "3", "4", "5", "6"],
                          "_row": [2, 3, 4, 5, 6, 7]})
    shared = shared_addresses(valid)
    assert shared["row"].tolist() == [2, 3, 4, 7]
    assert shared["email_key"].tolist() == ["a@x.com", "a@x.com", "b@x.com", "b@x.com"]


def test_records_sharing_an_address_are_all_valid_and_reported_as_a_notice():
    df = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c1"],
                       "email": ["a@x.com", " A@x.com ", "b@x.com", "c@x.com"],
                       "first_name": "A", "lat": "60.1", "lon": "24.9",
                       "opted_in": ["yes", "no", "yes", "yes"]})
    report = validate_table(df, CUSTOMERS, "customers.csv")
    assert report.valid["customer_id"].tolist() == ["c1", "c2", "c3"]  # duplicate id: an error
    assert report.errors["reason"].tolist() == ["duplicate customer_id (same as row 2)"]
    assert report.shared_groups == 1 and report.shared["customer_id"].tolist() == ["c1", "c2"]
    assert report.as_dict()["shared_addresses"] == {"groups": 1, "records": 2}


def test_validate_table_stores_report_shape():
    df = pd.DataFrame({"store_id": ["S1", "S1", "S3"], "name": ["a", "b", "c"],
                       "lat": ["42.5", "42.51", "x"], "lon": ["1.5", "1.52", "1.51"]})
    report = validate_table(df, STORES, "stores.csv")
    assert report.as_dict() == {
        "file": "stores.csv", "rows": 3, "valid": 1,
        "errors": [{"row": 3, "column": "store_id", "reason": "duplicate store_id (same as row 2)"},
                   {"row": 4, "column": "lat", "reason": "not a number"}]}


def test_validate_table_row_numbers_parameter():
    df = pd.DataFrame({"customer_id": ["1", "2"], "email": ["a@x.com", "bad"],
                       "first_name": ["", ""], "lat": ["1", "1"], "lon": ["1", "1"],
                       "opted_in": ["1", "0"]})
    report = validate_table(df, CUSTOMERS, "c.csv", row_numbers=[10, 12])
    assert report.errors["row"].tolist() == [12] and report.valid["_row"].tolist() == [10]
