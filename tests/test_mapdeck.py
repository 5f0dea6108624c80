"""Map specs: layers, payload contents, legends, offline by default."""

from __future__ import annotations

import json

import pandas as pd

from geo.views.maps import (
    customer_points_json,
    legend,
    overview_deck,
    store_records,
    view_state,
)
from geo.views.summary import headline_counts

CUSTOMERS = pd.DataFrame({
    "customer_id": ["C1", "C2", "C3"], "email": ["a@x.fi", "b@x.fi", "c@x.fi"],
    "first_name": ["Aino", None, "Eino"], "lat": [60.1, 60.2, 60.3], "lon": [24.9, 24.8, 24.7],
    "opted_in": [True, False, False], "unsubscribed": [False, False, True],
    "segment": ["loyal", "loyal", "new"], "location_source": ["address", "ip", None],
})
STORES = pd.DataFrame({"store_id": ["S1"], "name": ["Alepa"], "lat": [60.15], "lon": [24.85],
                       "address": ["Street 1"]})


def test_customer_payload_has_positions_colours_tooltips_and_no_email():
    rows = json.loads(customer_points_json(CUSTOMERS))
    assert [r["p"] for r in rows] == [[24.9, 60.1], [24.8, 60.2], [24.7, 60.3]]
    assert "a@x.fi" not in json.dumps(rows)
    # each customer wears its consent and segment colour, as the legend shows them
    consent = dict(legend(CUSTOMERS, "consent"))
    assert [r["cc"] for r in rows] == [consent["opted in"], consent["no consent"], consent["unsubscribed"]]
    assert len({tuple(c) for c in consent.values()}) == 3
    segment = dict(legend(CUSTOMERS, "segment"))
    assert [r["sc"] for r in rows] == [segment["loyal"], segment["loyal"], segment["new"]]
    assert segment["loyal"] != segment["new"]
    assert "unsubscribed" in rows[2]["tooltip"] and "located by ip" in rows[1]["tooltip"]


def test_headline_counts_exclude_unsubscribed_from_opted_in():
    c = CUSTOMERS.assign(opted_in=[True, True, True])
    assert headline_counts(c, STORES) == {"customers": 3, "opted_in": 2, "unsubscribed": 1,
                                          "stores": 1}


def test_deck_layers_offline_tooltips_and_toggles():
    deck = overview_deck(STORES, customers_url="/app/static/c.json", roads_url="/app/static/r.json",
                         view=view_state(STORES.lat, STORES.lon))
    spec = json.loads(deck.to_json())
    assert [layer["id"] for layer in spec["layers"]] == ["roads", "density", "customers", "stores",
                                                         "store-labels"]
    assert spec["layers"][2]["data"] == "/app/static/c.json"
    assert spec["mapStyle"] == "__MAP_STYLE__" and "mapProvider" not in spec  # no basemap
    assert spec["initialViewState"]["latitude"] == 60.15
    assert spec["layers"][2]["updateTriggers"] == {"getFillColor": "consent"}
    off = overview_deck(STORES, customers_url="u", roads_url=None, view=view_state([60], [24]),
                        show={"density": False, "store-labels": False}, colour_by="segment")
    layers = json.loads(off.to_json())["layers"]
    assert [layer["id"] for layer in layers] == ["customers", "stores"]
    assert "sc" in json.dumps(layers[0]["getFillColor"])


def test_store_records_and_legend():
    rec = store_records(STORES)
    assert rec.loc[0, "position"] == [24.85, 60.15] and "Alepa" in rec.loc[0, "tooltip"]
    assert [label for label, _ in legend(CUSTOMERS, "consent")] == ["opted in", "no consent",
                                                                    "unsubscribed"]
    assert [label for label, _ in legend(CUSTOMERS, "segment")] == ["loyal", "new"]
