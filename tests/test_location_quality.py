"""Every imported row says how it was located, and the Reach filter keeps rows by that quality."""

from __future__ import annotations

import numpy as np

from geo.data.ingest import check_file
from geo.data.schema import CUSTOMERS, LOCATION_SOURCES
from geo.data.tables import complete
from geo.targeting.audience import AudienceFilters, filter_mask, location_quality_labels


def test_the_filter_offers_every_quality_best_first():
    labels = location_quality_labels()
    assert tuple(labels) == LOCATION_SOURCES == ("given", "address", "postcode", "ip")
    assert labels["given"] == "coordinates in the file" and labels["ip"] == "IP estimate"


def test_imported_rows_carry_their_quality_and_the_filter_uses_it():
    data = ("email,first_name,opted_in,lat,lon,location_source\n"
            "a@x.com,A,yes,60.1,24.9,\n"          # coordinates in the file: given
            "b@x.com,B,yes,60.1,24.9,postcode\n"  # the file says how
            "c@x.com,C,yes,60.1,24.9,IP\n").encode()
    report = check_file(data, "customers", name="c.csv")
    customers = complete(report.valid.drop(columns="_row"), CUSTOMERS)
    assert customers["location_source"].tolist() == ["given", "postcode", "ip"]
    keep = filter_mask(customers, AudienceFilters(location_sources=("given", "postcode")))
    assert np.array_equal(keep, [True, True, False])
    assert filter_mask(customers, AudienceFilters(location_sources=("ip",))).tolist() == \
        [False, False, True]
