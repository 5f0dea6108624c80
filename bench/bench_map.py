"""Benchmark the map page: cold start to first map, and bytes sent for the map, at 20k and 100k customers.

Runs `streamlit run` on loopback against a fresh data root and opens the page in
headless Debian Chromium (Playwright). For each size it prints:

* cold start: from launching the server (demo already generated, no caches) until
  the deck canvas is visible with the headline counts shown, median of N runs;
* bytes on first load: websocket frames received + static layer files fetched
  (each file counted once, by its size; static files are sent uncompressed);
* bytes per rerun: a layer toggle after the first load (websocket frames, and
  any layer file not fetched before).

Usage: ``python bench/bench_map.py [--sizes 30000,100000] [--repeats 3] [--region liechtenstein|helsinki]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.demo.build import install_demo  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "static"
from tests.streamlit_server import launch_browser, streamlit_server, wait_for_app  # noqa: E402


def settle(page, *counters: list[int], quiet_ms: int = 2000, max_ms: int = 60_000) -> None:
    """Wait until no counter has moved for ``quiet_ms`` (all layer files fetched)."""
    last, still, waited = None, 0, 0
    while still < quiet_ms and waited < max_ms:
        now = tuple(c[0] for c in counters)
        still = still + 250 if now == last else 0
        last = now
        page.wait_for_timeout(250)
        waited += 250


def measure(root: Path) -> dict[str, float]:
    """One cold start of the server and the page; returns seconds and byte counts."""
    from playwright.sync_api import sync_playwright

    ws_bytes = [0]
    static_bytes = [0]
    t0 = time.perf_counter()
    with streamlit_server(root) as url, sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda f: ws_bytes.__setitem__(0, ws_bytes[0] + len(f))))

        seen: set[str] = set()

        def on_response(resp):
            # count each layer file once, by its size on disk: a second request for the
            # same content-named URL is a browser-cache hit or a repeat, not new bytes
            if "/app/static/" in resp.url and resp.ok and resp.url not in seen:
                seen.add(resp.url)
                rel = resp.url.split("/app/static/", 1)[1]
                static_bytes[0] += (STATIC / rel).stat().st_size

        page.on("response", on_response)
        t_server = time.perf_counter() - t0
        page.goto(url)
        wait_for_app(page)
        t_script = time.perf_counter() - t0
        page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for(state="visible")
        page.wait_for_function("document.body.innerText.includes('Opted in')")
        cold = time.perf_counter() - t0
        settle(page, ws_bytes, static_bytes)
        first_ws, first_static = ws_bytes[0], static_bytes[0]
        # one rerun: toggle the density layer off
        # force: deck.gl keeps repainting, so Playwright never sees the page "stable"
        page.locator("[data-testid='stCheckbox']", has_text="Density (hexagons)").click(force=True)
        page.wait_for_timeout(300)
        wait_for_app(page)
        settle(page, ws_bytes, static_bytes)
        rerun_ws, rerun_static = ws_bytes[0] - first_ws, static_bytes[0] - first_static
        browser.close()
    return {"cold_s": cold, "server_s": t_server, "script_s": t_script, "first_ws": first_ws,
            "first_static": first_static, "rerun_ws": rerun_ws, "rerun_static": rerun_static}


def load_average() -> str:
    """The 1-minute load average (other processes slow every figure)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30000,100000")
    parser.add_argument("--region", default="liechtenstein", choices=["liechtenstein", "helsinki"],
                        help="demo region (default %(default)s, the default demo)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"region: {args.region}; machine load: {load_average()}")
    print("size      cold start (median)  first load: websocket + static   per rerun (websocket)")
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            t = time.perf_counter()
            install_demo(root, region=args.region, n_customers=n, name="demo")
            build = time.perf_counter() - t
            runs = [measure(root) for _ in range(args.repeats)]
            # static/generated is shared: the first run of a size writes the layer files
            cold = statistics.median(r["cold_s"] for r in runs)
            r = runs[-1]
            each = ", ".join(f"{x['cold_s']:.2f}" for x in runs)
            server = statistics.median(x["server_s"] for x in runs)
            script = statistics.median(x["script_s"] for x in runs)
            print(f"{n:>7,}   {cold:6.2f} s (runs: {each})"
                  f"   {r['first_ws'] / 1e3:8.1f} kB + {runs[0]['first_static'] / 1e6:6.2f} MB"
                  f"   {r['rerun_ws'] / 1e3:8.1f} kB (+{r['rerun_static']} B static)"
                  f"   [server up {server:.1f} s, script done {script:.1f} s; demo build {build:.1f} s]")


if __name__ == "__main__":
    main()
