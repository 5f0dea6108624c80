"""AppTest: every page runs on the default demo (Liechtenstein, drive) without an exception."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_app

PAGES = ["app_pages/map.py", "app_pages/catchments.py", "app_pages/reach.py", "app_pages/export.py",
         "app_pages/funnel.py", "app_pages/data.py"]


@pytest.fixture(scope="module")
def li_copy(li_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("li-pages") / "data"
    shutil.copytree(li_root, root)
    return root


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_the_drive_demo(page, li_copy, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(li_copy))
    at = run_app(page)
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    if page.endswith(("map.py", "catchments.py")):
        assert "OpenStreetMap contributors" in text
    if page.endswith("catchments.py"):
        assert "min" in " ".join(m.label for m in at.metric)      # drive bands in minutes
