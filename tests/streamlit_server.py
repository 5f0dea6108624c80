"""Start `streamlit run app.py` on loopback and drive it with Playwright in Debian Chromium.

Shared by the browser tests and the browser benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(data_root: Path, *, extra_env: dict[str, str] | None = None,
                     timeout_s: float = 120.0) -> Iterator[str]:
    """Run the app against ``data_root``; yield its base URL; stop it afterwards."""
    port = free_port()
    home = tempfile.mkdtemp(prefix="st-home-")
    env = {**os.environ, "GEO_DATA_DIR": str(data_root), "HOME": home,
           "PYTHONPATH": str(PROJECT), **(extra_env or {})}
    log = open(Path(home) / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text.strip() == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def launch_browser(playwright):
    """Launch Debian Chromium headless with WebGL through SwiftShader."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def wait_for_app(page, timeout_ms: float = 90_000) -> None:
    """Wait until the app is connected, its script has finished and no skeleton is left."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", state="attached",
                           timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']",
                           state="attached", timeout=timeout_ms)
    page.wait_for_timeout(250)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                           state="attached", timeout=timeout_ms)
    page.wait_for_function(
        "document.querySelectorAll(\"[data-testid='stSkeleton']\").length === 0",
        timeout=timeout_ms)


def choose_option(page, box, name: str, *, tries: int = 3) -> None:
    """Open the selectbox ``box`` and pick the option ``name``.

    A rerun that lands between opening the list and the click redraws the
    widget and closes the list; then the list is opened again (up to ``tries``).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        wait_for_app(page)
        box.click()
        try:
            page.get_by_role("option", name=name, exact=True).click(timeout=10_000)
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            continue
        wait_for_app(page)
        return


def webgl2_available(page) -> bool:
    """True when the page can create a WebGL2 context."""
    return bool(page.evaluate(
        "() => !!document.createElement('canvas').getContext('webgl2')"))


def collect_errors(page, errors: list[str]) -> None:
    """Record console errors, page exceptions, failed requests and HTTP errors of ``page``.

    Streamlit's own probe of ``<page path>/_stcore/{health,host-config}`` when an
    app is opened at a page URL (it looks for its base path) answers 404 by
    design; those are not errors of the app. The console repeats every failed
    request as "Failed to load resource", so failed requests are judged by URL.
    """
    def on_console(msg) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    def on_response(resp) -> None:
        if resp.status >= 400 and not re.search(r"/[^/]+/_stcore/(health|host-config)$", resp.url):
            errors.append(f"HTTP {resp.status} {resp.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", on_response)
    # a request that never got an answer (e.g. to a host outside this machine)
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} ({req.failure})"))
