"""AppTest: the Data page recognises known exports, shows the mapping, locates rows, stops geocoding."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.data.consent import contactable
from geo.workspace import open_workspace
from tests.test_app_data import data_root, mapping_box, open_data_page  # noqa: F401 (fixture)
from tests.test_geocode import nominatim  # noqa: F401 (fixture)
from tests.test_layouts import (
    SHOPIFY_HEADER,
    csv_bytes,
    mailchimp_zip,
    shopify_rows,
)
from tests.test_postcodes import geonames_text

FR = [("FR", f"750{i:02d}", f"Paris {i:02d}", "Île-de-France", "11", "Paris", "75", "Paris",
       "751", 48.85 + i / 1000, 2.35 + i / 1000, 5) for i in range(1, 21)]


def upload(at, name: str, payload: bytes, mime: str = "text/csv"):
    at.radio(key="data_kind").set_value("customers").run()
    at.file_uploader(key="data_upload").upload(name, payload, mime).run()
    assert not at.exception, at.exception
    return at


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture()
def postcode_tables(tmp_path, monkeypatch):
    folder = tmp_path / "pgeocode"
    folder.mkdir()
    (folder / "FR.txt").write_text(geonames_text(FR), encoding="utf-8")
    monkeypatch.setenv("PGEOCODE_DATA_DIR", str(folder))
    return folder


def test_shopify_export_is_recognised_mapped_and_located_by_postcode(data_root,  # noqa: F811
                                                                      postcode_tables):
    at = upload(open_data_page(), "customers_export.csv", csv_bytes(SHOPIFY_HEADER,
                                                                    shopify_rows(30)))
    assert "Recognised: **Shopify customers export**" in markdown(at)
    assert mapping_box(at, "customer_id").value == "Customer ID"
    assert mapping_box(at, "opted_in").value == "Accepts Email Marketing"
    assert mapping_box(at, "address").value == "(derived) address"
    assert mapping_box(at, "postcode").value == "Default Address Zip"
    assert not at.warning and not at.button(key="data_import").disabled  # no lat/lon columns
    at.radio(key="data_geocode").set_value("postcode").run()
    assert not [b for b in at.button if b.key == "data_geocode_stop"]  # offline: nothing to stop
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert any("Located 30 rows by postcode and 0 by address; 0 could not" in c.value
               for c in at.caption)
    stored = open_workspace("demo", data_root).load_table("customers")
    shop = stored[stored["customer_id"].str.startswith("70")]
    assert len(shop) == 30 and set(shop["location_source"]) == {"postcode"}
    assert shop["lat"].between(48.85, 48.88).all()
    assert open_workspace("demo", data_root).settings()["imports"]["customers"]["layout"] == \
        "shopify"


def test_the_layout_can_be_changed_by_hand(data_root):  # noqa: F811
    at = upload(open_data_page(), "customers_export.csv", csv_bytes(SHOPIFY_HEADER,
                                                                    shopify_rows(3)))
    at.selectbox(key="data_layout").set_value("none").run()
    assert "Read as a plain table" in markdown(at)
    assert mapping_box(at, "address").value is None  # no derived column without the layout
    assert mapping_box(at, "email").value == "Email"


def test_mailchimp_zip_import_keeps_consent_off(data_root):  # noqa: F811
    at = upload(open_data_page(), "audience_export.zip", mailchimp_zip(), "application/zip")
    assert "Recognised: **Mailchimp audience export**" in markdown(at)
    assert mapping_box(at, "opted_in").value == "(derived) opted_in"
    assert mapping_box(at, "customer_id").value is None  # derived from the e-mail address
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    stored = open_workspace("demo", data_root).load_table("customers")
    mc = stored[stored["customer_id"].str.startswith("em-")]
    assert len(mc) == 16
    unsub = mc[mc["email"].str.startswith("unsub")]
    assert len(unsub) == 3 and not unsub["opted_in"].any() and unsub["unsubscribed"].all()
    assert int(contactable(mc).sum()) == 10


def test_geocoding_server_setting_stop_and_cached_only(data_root, nominatim,  # noqa: F811
                                                       postcode_tables, tmp_path):
    domain, log = nominatim
    data = csv_bytes(["email", "first_name", "opted_in", "address", "postcode", "city", "country"],
                     [["a@x.fr", "A", "yes", "10 Rue de Rivoli", "75004", "Paris", "France"],
                      ["b@x.fr", "B", "yes", "1 Nowhere Lane", "75011", "Paris", "France"]])
    at = upload(open_data_page(), "shop.csv", data)
    at.radio(key="data_geocode").set_value("all").run()
    at.text_input(key="data_geocoder_url").set_value(f"http://{domain}").run()
    assert open_workspace("demo", data_root).settings()["geocoder"]["url"] == f"http://{domain}"
    assert any("no rate limit" in c.value for c in at.caption)
    # cached only: nothing is asked; both rows fall back to their postcode
    at.checkbox(key="data_geocode_cached_only").check().run()
    at.button(key="data_check").click().run()
    assert not at.exception, at.exception
    assert log == []
    assert any("Located 2 rows by postcode and 0 by address" in c.value for c in at.caption)
    # a real run asks the server for each street address once
    at.checkbox(key="data_geocode_cached_only").uncheck().run()
    at.button(key="data_check").click().run()
    assert len(log) == 2
    assert any("Located 1 rows by postcode and 1 by address" in c.value for c in at.caption)
    at.button(key="data_geocode_stop").click().run()
    assert any("Geocoding stopped" in i.value for i in at.info)
    pd.testing.assert_index_equal(pd.Index([r["q"] for r in log]).sort_values(),
                                  pd.Index(["1 nowhere lane, 75011 paris, france",
                                            "10 rue de rivoli, 75004 paris, france"]))


def test_till_exports_use_the_store_table_and_square_says_what_is_missing(data_root):  # noqa: F811
    from tests.test_tills import orders_bytes, square_bytes

    ws = open_workspace("demo", data_root)
    store_ids = ws.load_table("stores")["store_id"].astype(str).tolist()
    ws.update_settings(store_locations={"Downtown": store_ids[0], "Kallio shop": store_ids[1]})
    at = open_data_page()
    at.radio(key="data_kind").set_value("redemptions").run()
    at.file_uploader(key="data_upload").upload("transactions.csv", square_bytes(),
                                               "text/csv").run()
    assert not at.exception, at.exception
    assert "Recognised: **Square transactions export**" in markdown(at)
    assert any("no discount name or code column" in i.value for i in at.info)
    assert at.button(key="data_import").disabled
    assert any("coupon_code" in w.value for w in at.warning)

    at.file_uploader(key="data_upload").clear().run()
    at.file_uploader(key="data_upload").upload("orders_export.csv", orders_bytes(),
                                               "text/csv").run()
    assert not at.exception, at.exception
    assert "Recognised: **Shopify orders export (POS included)**" in markdown(at)
    assert any("Till locations" in m.value for m in at.markdown)
    assert mapping_box(at, "store_id").value == "(derived) store_id"
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    stored = ws.load_table("redemptions")
    assert len(stored) == 10 and set(stored["store_id"]) == set(store_ids[:2])
    assert any("till location 'Uptown' has no store" in str(v)
               for v in at.dataframe[-1].value["reason"])
