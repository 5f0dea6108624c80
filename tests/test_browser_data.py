"""Browser: import a CRM export, map one column by hand, see the customers on the map."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from geo.workspace import list_workspaces, open_workspace
from tests.streamlit_server import choose_option, launch_browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

WS = "Shop data"
N_CUSTOMERS, N_BAD = 150, 2


def crm_files(root) -> tuple[bytes, bytes]:
    """Stores and customers of the demo, re-headed as a shop system and a CRM export them."""
    stores = pd.read_csv(root / "demo" / "stores.csv", dtype=str)
    stores = stores.rename(columns={"store_id": "Shop ID", "name": "Shop Name",
                                    "lat": "Latitude", "lon": "Longitude"})
    customers = pd.read_csv(root / "demo" / "customers.csv", dtype=str).head(N_CUSTOMERS)
    customers = customers.rename(columns={"customer_id": "Customer No", "email": "Mail Addr",
                                          "first_name": "First Name", "lat": "Lat",
                                          "lon": "Lng", "opted_in": "Newsletter"})
    customers.loc[: N_BAD - 1, "Lat"] = "north"      # two rows the report must reject
    return (stores.to_csv(index=False).encode(),
            customers.to_csv(index=False, sep=";").encode("utf-8-sig"))


def customers_emails(root) -> list[str]:
    return pd.read_csv(root / "demo" / "customers.csv", dtype=str)["email"].tolist()


def upload(page, name: str, payload: bytes) -> None:
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": payload}])
    page.get_by_text(f"First rows of {name}").wait_for(timeout=60_000)
    wait_for_app(page)


def choose_kind(page, label: str) -> None:
    page.locator("[data-testid='stRadio']").get_by_text(label, exact=True).click()
    wait_for_app(page)


def click_import(page) -> None:
    page.get_by_role("button", name=re.compile("^Import into")).click()
    page.locator("[data-testid='stMetric']").first.wait_for(timeout=60_000)
    wait_for_app(page)


def test_upload_map_a_column_by_hand_import_and_see_the_count_on_the_map(demo_root, tmp_path):
    from playwright.sync_api import sync_playwright

    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    stores_csv, customers_csv = crm_files(root)
    errors: list[str] = []
    with streamlit_server(root) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/data")   # a cold deep link: st.navigation routes it through app.py
        page.get_by_text("Import a file into “demo”").wait_for(timeout=60_000)
        wait_for_app(page)
        main = page.locator("[data-testid='stMain']")

        # a new workspace, which becomes the active one (the sidebar follows)
        page.get_by_role("textbox", name="New workspace").fill(WS)
        page.get_by_role("textbox", name="New workspace").press("Enter")
        wait_for_app(page)
        page.get_by_role("button", name="Create and switch").click()
        page.get_by_text(f"Import a file into “{WS}”").wait_for(timeout=30_000)
        wait_for_app(page)
        workspace_box = page.locator("[data-testid='stSidebar']").get_by_role(
            "combobox", name="Workspace")
        assert workspace_box.input_value() == WS

        # stores: every column is recognised
        choose_kind(page, "Stores")
        upload(page, "shops.csv", stores_csv)
        click_import(page)
        assert "Stored 8 stores" in main.inner_text()

        # customers: "Mail Addr" matches no known header, so e-mail is mapped by hand
        choose_kind(page, "Customers")
        upload(page, "crm.csv", customers_csv)
        email_box = main.get_by_role("combobox", name="email *", exact=True)
        assert email_box.input_value() == ""          # unmapped: the placeholder shows
        assert "not in the file" in email_box.get_attribute("placeholder")
        assert main.get_by_role("combobox", name="customer_id *").input_value() == "Customer No"
        assert "Choose a column of crm.csv for email" in main.inner_text()
        choose_option(page, email_box, "Mail Addr")
        assert email_box.input_value() == "Mail Addr"
        assert "Choose a column" not in main.inner_text()
        click_import(page)
        body = main.inner_text()
        good = N_CUSTOMERS - N_BAD
        assert re.search(rf"Good rows\s+{good}\b", body)
        assert re.search(rf"Rejected rows\s+{N_BAD}\b", body)
        assert f"Stored {good} customers" in body
        assert len(open_workspace(WS, root).load_table("customers")) == good
        with page.expect_download() as download:
            page.get_by_role("button", name=re.compile("^Download the bad rows")).click()
        bad = pd.read_csv(download.value.path(), dtype=str, encoding="utf-8-sig")
        assert bad["row"].tolist() == ["2", "3"]
        assert bad["reason"].str.startswith("lat: not a number").all()
        assert bad["Mail Addr"].tolist() == customers_emails(root)[:N_BAD]

        # the map of the active workspace counts them
        page.get_by_role("link", name="See them on the map").click()
        page.get_by_text("Customers and stores").wait_for(timeout=60_000)
        wait_for_app(page)
        body = main.inner_text()
        assert re.search(rf"Customers\s+{good}\b", body), body[:500]
        assert re.search(r"Stores\s+8\b", body)
        assert workspace_box.input_value() == WS
        browser.close()
    assert WS in list_workspaces(root)
    assert errors == [], errors
