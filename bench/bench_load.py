"""Load benchmark: 10 concurrent browser sessions on one server for 2 minutes, on the default demo.

Starts ``streamlit run`` on loopback over a fresh copy of the demo (a
temporary data root), then one headless Debian Chromium with ``--sessions``
browser contexts (10 by default, each its own Streamlit session). For
``--seconds`` (120 by default) every session, concurrently, repeats: switch to
a random other page through the sidebar, and on the Reach page move the reach
(minutes) slider one to three steps. For each action it records the time from
the click or key press until the page has settled (connected, script not
running, no skeleton left: the readiness test of Streamlit's own end-to-end
suite) and counts errors: console errors, uncaught page exceptions, HTTP
errors, failed requests, exceptions shown in the app, and actions that did
not settle within 90 s.

The server's resident memory (RSS, MB, of the ``streamlit run`` process) is
read cold (before any session), warm (one session has visited every page and
closed, and Streamlit has dropped it: the caches are full, no session is held),
at the peak under load (sampled each second), ``--cooldown`` seconds after all
sessions have closed (Streamlit still keeps them for a reconnect), and once
Streamlit has dropped them (its ``server.disconnectedSessionTTL``, 120 s by
default, plus ``--cooldown``; the app's heap trimmer, ``ui/memory.py``, drops
expired sessions and returns the freed memory within seconds). Targets: 0
errors; dropped/warm within +10 %. The CPU seconds used by the server and by
Chromium under load, and the machine's load average, are printed too: on a
shared machine the times measure the contention as well, and here the
browsers' software-rendered maps run on the server's two cores.

Usage::

    .venv/bin/python bench/bench_load.py [--sessions 10] [--seconds 120] [--cooldown 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tests.streamlit_server import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

PAGES = ["Map", "Catchments", "Reach & targets", "Export", "Funnel", "Data & workspaces"]
SETTLE_TIMEOUT_MS = 90_000
REACH_SLIDER = ".rp-range input[type=range]"   # the live preview's catchment slider (ui/reach_preview.js)
PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")   # Streamlit's base-path probe


def server_process(url: str) -> psutil.Process:
    """The `streamlit run` child of this process serving ``url``."""
    port = url.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        try:
            if "streamlit" in child.cmdline() and port in child.cmdline():
                return child
        except psutil.Error:
            continue
    raise RuntimeError(f"no streamlit process serves {url}")


def cache_bytes(url: str) -> dict[str, int]:
    """Bytes held per Streamlit cache and in session state, from the server's ``/_stcore/metrics``.

    Keys are ``"<cache type>:<function>"`` (``st_cache_data``, ``st_cache_resource``,
    ``st_session_state``...). Used to tell cache growth (bounded by each cache's
    ``max_entries``) from memory held elsewhere.
    """
    import httpx

    text = httpx.get(f"{url}/_stcore/metrics", timeout=60, headers={"Accept": "text/plain"}).text
    out: dict[str, int] = {}
    for m in re.finditer(r'cache_memory_bytes\{cache_type="([^"]*)",cache="([^"]*)"\} (\d+)', text):
        key = f"{m[1]}:{m[2].rsplit('.', 1)[-1]}"
        out[key] = out.get(key, 0) + int(m[3])
    return out


def memory_probe(proc: psutil.Process, out: Path, timeout_s: float = 120.0) -> dict:
    """Signal the server (SIGUSR1, see `bench/memprobe`) and return the report line it appends to ``out``."""
    import json
    import signal

    seen = out.read_text().count("\n") if out.exists() else 0
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = out.read_text().splitlines() if out.exists() else []
        if len(lines) > seen:
            return json.loads(lines[seen])
        time.sleep(0.5)
    raise TimeoutError(f"the server wrote no memory report to {out} within {timeout_s:.0f} s")


def report_probes(probes: dict[str, dict]) -> None:
    """Print the probe's readings (garbage collected, C heap trimmed) and the object types that grew."""
    for when, p in probes.items():
        print(f"probe {when}: RSS {p['rss_mb']:.0f} MB after gc, {p['rss_trimmed_mb']:.0f} MB after "
              f"malloc_trim; {p['objects']:,} objects, {p['threads']} threads, "
              f"{p.get('py_blocks', 0):,} Python blocks")
        if p.get("heap"):
            print("  glibc heap (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in p["heap"].items()))
        if p.get("arrow"):
            a = p["arrow"]
            print(f"  pyarrow {a['backend']}: {a['allocated_mb']:.0f} MB allocated (peak {a['max_mb']:.0f}); "
                  f"RSS {a['rss_before_mb']:.0f} -> {a['rss_after_mb']:.0f} MB after release_unused")
        print("  live: " + ", ".join(f"{k} {v:,}" for k, v in p.get("watched", {}).items()))
        for chain in p.get("holders", []):
            print(f"  held: {chain}")
    if {"warm", "end"} <= probes.keys():
        warm, after = dict(map(tuple, probes["warm"]["top"])), dict(map(tuple, probes["end"]["top"]))
        grew = sorted(((after.get(k, 0) - warm.get(k, 0), k) for k in after), reverse=True)[:8]
        print("  object types that grew: " + ", ".join(f"{k} +{d:,}" for d, k in grew if d > 0))


def rss_mb(proc: psutil.Process) -> float:
    """Resident memory of ``proc`` in MB."""
    return proc.memory_info().rss / 1e6


async def settle(page) -> None:
    """Wait until the app is connected, idle and without skeletons (as tests/streamlit_server)."""
    await page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']",
                                 state="attached", timeout=SETTLE_TIMEOUT_MS)
    await page.wait_for_timeout(250)
    await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                                 state="attached", timeout=SETTLE_TIMEOUT_MS)
    await page.wait_for_function(
        "document.querySelectorAll(\"[data-testid='stSkeleton']\").length === 0",
        timeout=SETTLE_TIMEOUT_MS)


def watch_errors(page, errors: list[str]) -> None:
    """Collect console errors, page exceptions, HTTP errors and failed requests of ``page``."""
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
            if r.status >= 400 and not PROBE.search(r.url) else None)
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))


async def timed(page, action, errors: list[str]) -> float | None:
    """Run ``action`` and wait for the page to settle; seconds taken (the wait counts 0.25 s)."""
    t0 = time.perf_counter()
    try:
        await action()
        await settle(page)
    except Exception as exc:  # noqa: BLE001 — a timeout or a lost element is an error to count
        errors.append(f"did not settle: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return None
    took = time.perf_counter() - t0
    shown = await page.locator("[data-testid='stException']").count()
    if shown:
        text = await page.locator("[data-testid='stException']").first.inner_text()
        errors.append(f"exception shown in the app: {' '.join(text.split())[:300]}")
    return took


def slider_move(page, slider, key: str, steps: int):
    """An action: focus the slider and press ``key`` ``steps`` times."""
    async def move() -> None:
        await slider.focus()
        for _ in range(steps):
            await page.keyboard.press(key)
    return move


def click(locator):
    """An action: click ``locator``."""
    async def go() -> None:
        await locator.click(timeout=SETTLE_TIMEOUT_MS)
    return go


async def session(browser, url: str, seconds: float, seed: int, times: dict[str, list[float]],
                  errors: list[str]) -> int:
    """One user: random page switches and reach-slider moves until ``seconds`` have passed."""
    rng = random.Random(seed)
    ctx = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await ctx.new_page()
    watch_errors(page, errors)
    actions = 0
    try:
        took = await timed(page, lambda: page.goto(url), errors)
        if took is not None:
            times["first load"].append(took)
        current = "Map"
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            slider = page.locator(REACH_SLIDER)   # the live preview's slider, not the first on the page
            if current == "Reach & targets" and rng.random() < 0.6 and await slider.count():
                took = await timed(page, slider_move(page, slider, rng.choice(
                    ["ArrowRight", "ArrowLeft"]), rng.randint(1, 3)), errors)
                kind = "reach slider"
            else:
                target = rng.choice([p for p in PAGES if p != current])
                took = await timed(page, click(page.get_by_role("link", name=target,
                                                                exact=True)), errors)
                current, kind = target, "page switch"
            if took is not None:
                times[kind].append(took)
            actions += 1
    finally:
        await ctx.close()
    return actions


async def warm_up(browser, url: str, errors: list[str]) -> None:
    """One session visits every page once (fills the server's caches), then closes."""
    await visit(browser, url, errors, pages=PAGES[1:])


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    """User plus system CPU seconds used so far by each of ``procs``, by pid (gone ones left out)."""
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            continue
    return out


def browser_processes() -> list[psutil.Process]:
    """The Chromium processes this benchmark started (browser, renderers, GPU: SwiftShader draws the maps)."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                out.append(child)
        except psutil.Error:
            continue
    return out


class Sampler:
    """Each second: the server's RSS (for its peak) and the CPU seconds of the server and of Chromium.

    Renderer processes end with their browser context, so the last reading of
    each process is kept: the CPU they used counts although they are gone.
    """

    def __init__(self, proc: psutil.Process) -> None:
        self.proc, self.peak = proc, rss_mb(proc)
        self.server0 = cpu_seconds([proc])[proc.pid]
        self.browser_last = cpu_seconds(browser_processes())
        self.browser0 = sum(self.browser_last.values())
        self.server_last = self.server0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.peak = max(self.peak, rss_mb(self.proc))
                self.server_last = cpu_seconds([self.proc])[self.proc.pid]
            except (psutil.Error, KeyError):
                return
            self.browser_last |= cpu_seconds(browser_processes())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu(self) -> dict[str, float]:
        """CPU seconds used since the start by the server and by Chromium."""
        return {"server": self.server_last - self.server0,
                "browser": sum(self.browser_last.values()) - self.browser0}


async def run(url: str, proc: psutil.Process, sessions: int, seconds: float,
              cooldown: float, ttl: float, rounds: int = 1, probe: Path | None = None) -> dict:
    from playwright.async_api import async_playwright

    mem = {"cold": rss_mb(proc)}
    dropped = ttl + cooldown    # Streamlit keeps a closed session for its TTL; the trimmer then frees it
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=CHROMIUM_ARGS)
        warm_errors: list[str] = []
        await warm_up(browser, url, warm_errors)
        await asyncio.sleep(dropped)
        mem["warm"] = rss_mb(proc)
        caches = {"warm": cache_bytes(url)}
        probes = {"warm": await asyncio.to_thread(memory_probe, proc, probe)} if probe else {}
        times: dict[str, list[float]] = {"first load": [], "page switch": [], "reach slider": []}
        errors: list[str] = []
        t0 = time.perf_counter()
        counts = []
        with Sampler(proc) as sampler:
            for r in range(1, rounds + 1):    # the same seeds each round: the same cache keys
                counts += await asyncio.gather(*(session(browser, url, seconds, seed, times, errors)
                                                 for seed in range(sessions)))
                await asyncio.sleep(cooldown)
                mem[f"after round {r}"] = rss_mb(proc)
        wall = time.perf_counter() - t0 - rounds * cooldown
        mem["peak"] = sampler.peak
        mem["after"] = mem[f"after round {rounds}"]
        await asyncio.sleep(dropped - cooldown)
        mem["after TTL"] = rss_mb(proc)
        await browser.close()
    if probe:
        probes["end"] = await asyncio.to_thread(memory_probe, proc, probe)
    caches["end"] = cache_bytes(url)
    return {"times": times, "errors": errors, "warm_errors": warm_errors, "mem": mem, "caches": caches,
            "probes": probes, "actions": sum(counts), "wall": wall, "rounds": rounds, "cpu": sampler.cpu()}


async def visit(browser, url: str, errors: list[str], pages: list[str] | tuple[str, ...] = ()) -> None:
    """One session opens the default page, then each of ``pages`` through the sidebar, and closes."""
    ctx = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await ctx.new_page()
    watch_errors(page, errors)
    await page.goto(url)
    await settle(page)
    for name in pages:
        await page.get_by_role("link", name=name, exact=True).click(timeout=SETTLE_TIMEOUT_MS)
        await settle(page)
    await ctx.close()


def report(out: dict, sessions: int, seconds: float, cooldown: float, ttl: float) -> None:
    """Print the figures."""
    print(f"{sessions} sessions (one Chromium, {sessions} contexts) for {seconds:.0f} s "
          f"(x {out['rounds']} round(s)) on the default demo: {out['actions']} actions in {out['wall']:.0f} s")
    print("time until the page settles (s; includes the 0.25 s readiness pause):")
    every: list[float] = []
    for kind, values in out["times"].items():
        if values:
            every += values if kind != "first load" else []
            print(f"  {kind:13s} n={len(values):4d}  median {statistics.median(values):6.2f}  "
                  f"p95 {pct(values, 0.95):6.2f}  max {max(values):6.2f}")
    if every:
        print(f"  {'all actions':13s} n={len(every):4d}  median {statistics.median(every):6.2f}  "
              f"p95 {pct(every, 0.95):6.2f}")
    errs = out["errors"]
    print(f"errors: {len(errs)} (target 0)" + (f"; warm-up errors: {len(out['warm_errors'])}"
                                               if out["warm_errors"] else ""))
    for text in sorted(set(errs))[:10]:
        print(f"  {errs.count(text)} × {text[:320]}")
    m = out["mem"]
    print(f"server RSS (MB): cold {m['cold']:.0f}, warm (one session visited every page, closed, and "
          f"dropped after its TTL; +{ttl + cooldown:.0f} s) {m['warm']:.0f}, peak under load {m['peak']:.0f}, "
          f"after sessions closed (+{cooldown:.0f} s, kept for a reconnect) {m['after']:.0f}, "
          f"after they were dropped (+{ttl + cooldown:.0f} s) {m['after TTL']:.0f}")
    print(f"after dropped / warm = {m['after TTL'] / m['warm']:.3f} (target <= 1.10); "
          f"after closed / warm = {m['after'] / m['warm']:.3f}")
    cpu = out["cpu"]
    total = cpu["server"] + cpu["browser"]
    if total:
        print(f"CPU under load: server {cpu['server']:.0f} s, Chromium {cpu['browser']:.0f} s "
              f"({cpu['browser'] / total:.0%} of the two) over {out['wall']:.0f} s on {psutil.cpu_count()} CPUs")
    rounds = sorted(k for k in m if k.startswith("after round"))
    if len(rounds) > 1:
        print("after each round (MB): " + ", ".join(f"{m[k]:.0f}" for k in rounds)
              + f"; last / first = {m[rounds[-1]] / m[rounds[0]]:.3f} (a leak grows each round; "
              "filling caches with the values the sessions chose does not)")
    if out.get("probes"):
        report_probes(out["probes"])
    report_caches(out["caches"])
    print(f"load average (1 min) at start {out['load'][0]:.1f}, at end {out['load'][1]:.1f} "
          f"on {psutil.cpu_count()} CPUs")


def report_caches(caches: dict[str, dict[str, int]]) -> None:
    """Print what Streamlit's caches hold, warm and after the TTL, and what grew.

    ``st.cache_data`` and session state are reported in bytes; ``st.cache_resource``
    only as a number of entries (Streamlit does not size shared objects).
    """
    def part(values: dict[str, int], resource: bool) -> dict[str, int]:
        return {k: v for k, v in values.items() if k.startswith("st_cache_resource:") == resource}

    for resource, unit in ((False, "MB"), (True, "entries")):
        warm, after = part(caches["warm"], resource), part(caches["end"], resource)
        scale = 1 if resource else 1e6
        kind = "st.cache_resource" if resource else "st.cache_data + session state"
        print(f"{kind} ({unit}, /_stcore/metrics): warm {sum(warm.values()) / scale:.0f}, "
              f"at the end {sum(after.values()) / scale:.0f}")
        growth = sorted(((after.get(k, 0) - warm.get(k, 0), k) for k in set(warm) | set(after)), reverse=True)
        for delta, key in growth[:8]:
            if delta > 0:
                print(f"  {key.split(':', 1)[1]}: {warm.get(key, 0) / scale:g} -> {after.get(key, 0) / scale:g}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--cooldown", type=float, default=30.0,
                    help="seconds to wait after closing sessions before reading the memory")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the load (same sessions, same seeds) to tell a leak from caches")
    ap.add_argument("--session-ttl", type=int, default=120,
                    help="server.disconnectedSessionTTL, seconds (Streamlit's default: 120)")
    ap.add_argument("--probe", action="store_true",
                    help="run the server with bench/memprobe on its path: at warm and after the TTL it "
                         "collects garbage, trims the C heap and counts live objects by type")
    args = ap.parse_args()
    from geo.demo.build import install_demo

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        root = Path(tmp) / "data"
        print("building the demo…", flush=True)
        install_demo(root)
        ttl = float(args.session_ttl)
        env = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(args.session_ttl)}
        probe_file = Path(tmp) / "memprobe.jsonl" if args.probe else None
        if probe_file is not None:
            env |= {"GEO_MEMPROBE_OUT": str(probe_file),
                    "PYTHONPATH": f"{PROJECT / 'bench' / 'memprobe'}{os.pathsep}{PROJECT}"}
        with streamlit_server(root, extra_env=env) as url:
            load0 = os.getloadavg()[0]
            out = asyncio.run(run(url, server_process(url), args.sessions, args.seconds,
                                  args.cooldown, ttl, args.rounds, probe_file))
            out["load"] = (load0, os.getloadavg()[0])
    report(out, args.sessions, args.seconds, args.cooldown, ttl)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
