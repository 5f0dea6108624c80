"""Shared fixtures: a demo data root built once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _shared_osm() -> Path:
    """The shared OSM extracts: ``$GEO_SHARED_OSM``, else ``../shared/osm`` beside the checkout."""
    env = os.environ.get("GEO_SHARED_OSM")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "osm", Path("/work/shared/osm")]
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED_OSM = _shared_osm()


def placeable_nodes(router) -> np.ndarray:
    """Indices of the router's core nodes inside the extract's declared bounds (well inside the extract).

    The bounds test is done here in EPSG:4326 degrees with shapely, apart from
    the router's own (projected) area test.
    """
    import shapely

    inside = (shapely.contains_xy(router.bounds, router.lon, router.lat) if router.bounds is not None
              else np.ones(len(router.lon), dtype=bool))
    return np.flatnonzero(inside & router.core)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """A data root whose ``demo`` workspace is the central-Helsinki (walk) demo, built once.

    The suites written for the walking demo keep its figures: the default demo
    (Liechtenstein, drive) is `li_root`.
    """
    from geo.demo.build import install_demo

    root = tmp_path_factory.mktemp("data")
    install_demo(root, region="helsinki", name="demo")
    return root


@pytest.fixture(scope="session")
def li_root(tmp_path_factory) -> Path:
    """A data root holding the default demo (Liechtenstein, drive) in workspace ``demo``, built once."""
    from geo.demo.build import install_demo

    root = tmp_path_factory.mktemp("data-li")
    install_demo(root)
    return root


@pytest.fixture()
def demo_env(demo_root, monkeypatch) -> Path:
    """Point the app (``GEO_DATA_DIR``) at the session's demo data root."""
    monkeypatch.setenv("GEO_DATA_DIR", str(demo_root))
    return demo_root


@pytest.fixture()
def scratch_demo(demo_root, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo data root, for tests that change settings or data."""
    import shutil

    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    monkeypatch.setenv("GEO_DATA_DIR", str(root))
    return root


@pytest.fixture()
def shared_osm() -> Path:
    """Folder of the real OSM extracts shared with the project (read-only)."""
    if not SHARED_OSM.exists():
        pytest.fail(f"the shared OSM extracts are missing: expected {SHARED_OSM}")
    return SHARED_OSM


APP = ROOT / "app.py"


def run_app(page: str | None = None, *, timeout: float = 180):
    """Run the app under `AppTest` (optionally switched to ``page``, e.g. ``"app_pages/reach.py"``)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.run()
    if page is not None and not at.exception:
        at.switch_page(page)
        at.run()
    return at


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Put back ``__main__`` after each test: an AppTest run leaves app.py there, and Dask's spawned
    worker processes would then re-run app.py (building the demo) and fail to start."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
