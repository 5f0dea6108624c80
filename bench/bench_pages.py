"""Browser benchmark of every page at scale: time to open (cold and warm) and bytes sent, at 200k and 1M customers.

Builds a data root with one workspace (``demo``, the one the app opens
first) holding the 50 Andorra benchmark stores and N synthetic customers near
the roads of ``/work/shared/osm/andorra.osm.pbf`` (drive mode), the same
builder as ``bench_reach_browser.py``. For each size it starts
``streamlit run`` on loopback (as ``tests/streamlit_server.py`` does) and
drives one headless Debian Chromium (Playwright):

* **cold**: each page opened once, first thing after a fresh server start,
  in a fresh browser (server caches empty, browser cache empty; each page on
  its own new server, so no page warms another's caches);
* **warm**: on one server whose caches a first open of every page has
  filled, each page is opened ``--repeats`` times in a new tab of the same
  browser context (a new Streamlit session; the server's caches and the
  browser's HTTP cache of Streamlit's scripts kept, as for a returning user);

"settled" means the app is connected, the script has finished, no skeleton
is left, the network is idle (static layer files fetched) and, on the reach
page, the live preview has drawn its targets. Also printed: bytes per first
load (websocket frames + files fetched from ``/app/static``) and per
reach-slider move (the preview's settled rerun). Targets: <= 3 s warm at 1M
customers for every page, a first map-page load < 5 MB, a slider move
< 100 kB.

Usage::

    .venv/bin/python bench/bench_pages.py [--sizes 200000,1000000] [--repeats 3] [--keep DIR]
        [--pages map,catchments,reach,export,funnel,data] [--no-cold]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from bench_reach_browser import WORKSPACE, build_root  # noqa: E402

from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app  # noqa: E402

PAGES = {"map": "Map", "catchments": "Catchments", "reach": "Reach & targets",
         "export": "Export", "funnel": "Funnel", "data": "Data & workspaces"}
TIMEOUT_MS = 900_000
VIEWPORT = {"width": 1500, "height": 1100}


class Meter:
    """Bytes a page receives: websocket frames and files fetched from ``/app/static``."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.ws: list[int] = []
        self.static: list[int] = []
        self.last = 0.0   # time.perf_counter() of the last frame or static file received
        page.on("websocket", lambda ws: ws.on("framereceived", self._on_frame))
        page.on("response", self._on_response)

    def _on_frame(self, frame) -> None:  # noqa: ANN001
        self.ws.append(len(frame) if isinstance(frame, (bytes, str)) else 0)
        self.last = time.perf_counter()

    def _on_response(self, resp) -> None:  # noqa: ANN001
        if "/app/static/" in resp.url:
            try:
                self.static.append(len(resp.body()))
                self.last = time.perf_counter()
            except Exception:  # noqa: BLE001 - an aborted fetch has no body
                pass

    def mark(self) -> tuple[int, int]:
        """Where the counters stand now (for `since`)."""
        return len(self.ws), len(self.static)

    def since(self, mark: tuple[int, int]) -> int:
        """Bytes received since ``mark``."""
        return sum(self.ws[mark[0]:]) + sum(self.static[mark[1]:])


def settle(page, path: str) -> float:  # noqa: ANN001
    """Wait until ``page`` (at ``path``) has settled: script idle, no skeleton, files fetched, preview drawn.

    Returns the time (``time.perf_counter``) the reach preview had drawn its
    targets (0 on other pages).
    """
    wait_for_app(page, timeout_ms=TIMEOUT_MS)
    drawn = 0.0
    if path == "reach":
        page.wait_for_function(
            "() => document.querySelector('canvas.rp-map')?.dataset.targetsDrawn !== undefined",
            timeout=TIMEOUT_MS)
        drawn = time.perf_counter()
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    wait_for_app(page, timeout_ms=TIMEOUT_MS)
    return drawn


def open_page(browser, url: str, path: str) -> tuple[float, int, object]:  # noqa: ANN001
    """Open ``path`` in a new tab of ``browser`` (a browser context); seconds until settled, bytes, the tab.

    Settled: the last websocket frame or static file received (or the reach
    preview drawn, if later), once the checks of `settle` have passed; the
    fixed waits of those checks (250 ms twice, 500 ms of network idle) are
    not counted.
    """
    tab = browser.new_page()
    meter = Meter(tab)
    t = time.perf_counter()
    tab.goto(f"{url}/{path}", timeout=TIMEOUT_MS)
    drawn = settle(tab, path)
    tab.__meter = meter  # type: ignore[attr-defined]
    return max(meter.last, drawn) - t, meter.since((0, 0)), tab


def slider_moves(tab, moves: int) -> list[int]:  # noqa: ANN001
    """Bytes received per reach-slider move (one key press, until the details have followed)."""
    meter = tab.__meter
    slider = tab.get_by_role("slider", name="Travel time (minutes)")
    slider.focus()
    minutes = int(tab.locator("canvas.rp-map").get_attribute("data-drawn"))
    sent = []
    for i in range(moves):
        step = -1 if (i // 3) % 2 else 1
        minutes += step
        mark = meter.mark()
        tab.keyboard.press("ArrowRight" if step > 0 else "ArrowLeft")
        tab.wait_for_function(
            """(m) => [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
                .some(e => e.innerText.includes(`catchment within ${m} min`))""",
            arg=minutes, timeout=TIMEOUT_MS)
        tab.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                              state="attached", timeout=TIMEOUT_MS)
        tab.wait_for_timeout(300)
        sent.append(meter.since(mark))
    return sent


def reset_settings(root: Path) -> None:
    """Forget a previous run's slider (the reach page starts from the workspace's bands)."""
    from geo.workspace import open_workspace

    open_workspace(WORKSPACE, root).update_settings(reach={})


def cold(root: Path, pages: list[str]) -> dict[str, tuple[float, int]]:
    """Each page opened first on its own fresh server."""
    from playwright.sync_api import sync_playwright

    out = {}
    for path in pages:
        reset_settings(root)
        with streamlit_server(root, timeout_s=300) as url, sync_playwright() as pw:
            browser = launch_browser(pw)
            seconds, sent, _ = open_page(browser.new_context(viewport=VIEWPORT), url, path)
            browser.close()
        out[path] = (seconds, sent)
        print(f"  cold {PAGES[path]}: {seconds:.1f} s, {sent / 1e6:.2f} MB", flush=True)
    return out


def warm(root: Path, pages: list[str], repeats: int, moves: int) -> dict:
    """Every page opened once to fill the caches, then ``repeats`` times each in a new tab."""
    from playwright.sync_api import sync_playwright

    reset_settings(root)
    times: dict[str, list[float]] = {p: [] for p in pages}
    first: dict[str, tuple[float, int]] = {}
    sent: dict[str, list[int]] = {p: [] for p in pages}
    moved: list[int] = []
    with streamlit_server(root, timeout_s=300) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        context = browser.new_context(viewport=VIEWPORT)   # one HTTP cache, as one user's browser
        for path in pages:
            seconds, size, tab = open_page(context, url, path)
            first[path] = (seconds, size)
            print(f"  first open {PAGES[path]}: {seconds:.1f} s, {size / 1e6:.2f} MB", flush=True)
            tab.close()
        for _ in range(repeats):
            for path in pages:
                seconds, size, tab = open_page(context, url, path)
                times[path].append(seconds)
                sent[path].append(size)
                if path == "reach" and moves and not moved:
                    moved = slider_moves(tab, moves)
                tab.close()
        browser.close()
    return {"times": times, "first": first, "sent": sent, "moves": moved}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--moves", type=int, default=6)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--no-cold", action="store_true", help="skip the cold opens (one server each)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build (or reuse) the data roots under this folder")
    args = parser.parse_args()
    pages = [p for p in args.pages.split(",") if p]
    base = args.keep
    tmp = None
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-pages-")
        base = Path(tmp.name)
    for n in (int(s) for s in args.sizes.split(",")):
        root = base / f"n{n}"
        t = time.perf_counter()
        if not (root / "workspaces" / WORKSPACE / "customers.parquet").exists():
            root.mkdir(parents=True, exist_ok=True)
            build_root(root, n)
        load = os.getloadavg()
        print(f"== {n:,} customers on andorra.osm.pbf (drive), 50 stores; data root ready in "
              f"{time.perf_counter() - t:.1f} s; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
              flush=True)
        cold_out = {} if args.no_cold else cold(root, pages)
        out = warm(root, pages, args.repeats, args.moves)
        print(f"-- {n:,} customers: page | {'first open' if args.no_cold else 'cold'} s | warm median s (of {args.repeats}) | "
              f"first-load MB | warm-load MB | warm <= 3 s")
        for path in pages:
            c = cold_out.get(path, out["first"][path])
            w = statistics.median(out["times"][path]) if out["times"][path] else float("nan")
            wmb = statistics.median(out["sent"][path]) / 1e6 if out["sent"][path] else float("nan")
            print(f"{PAGES[path]:>18} | {c[0]:6.1f} | {w:6.2f} | {c[1] / 1e6:6.2f} | {wmb:6.2f} | "
                  f"{'met' if w <= 3 else 'missed'}")
        if out["moves"]:
            kb = [x / 1e3 for x in out["moves"]]
            print(f"reach-slider move: median {statistics.median(kb):.1f} kB (max {max(kb):.1f}) "
                  f"over {len(kb)} moves; target < 100 kB")
        load = os.getloadavg()
        print(f"load average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
