"""Benchmark the Catchments page's first draw on the default demo (Liechtenstein, drive 5/10/15, 10 stores).

Runs the page under Streamlit's `AppTest` (no browser) against a fresh demo data
root whose processed networks are already on disk (as after `make run`), and
prints the median wall and process CPU seconds of:

* cold: the first run in a new process (road graph from the disk cache, router,
  assignment, polygons, overlaps, radius comparison);
* warm: a new session in the same process (graph and router in memory, results
  cached per selection), as a second visitor of a running server sees it.

Usage: ``python bench/bench_catchments_page.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import os, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest
out = []
for _ in range(2):
    w, c = time.perf_counter(), time.process_time()
    at = AppTest.from_file({app!r}, default_timeout=600)
    at.run()
    at.switch_page("app_pages/catchments.py")
    at.run()
    assert not at.exception, at.exception
    out.append((time.perf_counter() - w, time.process_time() - c))
print(out[0][0], out[0][1], out[1][0], out[1][1])
"""


def load_average() -> str:
    """The 1-minute load average (other processes slow every figure)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from geo.demo.build import install_demo

    with tempfile.TemporaryDirectory() as tmp:
        install_demo(Path(tmp))
        env = {**os.environ, "GEO_DATA_DIR": tmp}
        code = CHILD.format(root=str(ROOT), app=str(ROOT / "app.py"))
        runs = []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                 check=True).stdout.split()
            runs.append([float(v) for v in out[-4:]])
    cold_w, cold_c, warm_w, warm_c = (statistics.median(r[i] for r in runs) for i in range(4))
    print(f"load average {load_average()} on {os.cpu_count()} CPUs; medians of {args.repeats} processes")
    print("(Map page and Catchments page of one session: the app opens on Map first)")
    print(f"  cold (new process, networks on disk):  {cold_w:6.2f} s wall  {cold_c:6.2f} s CPU")
    print(f"  warm (second session, same process):   {warm_w:6.2f} s wall  {warm_c:6.2f} s CPU")


if __name__ == "__main__":
    main()
