"""Time and peak memory of importing N customer rows from CSV (default one million).

Usage: ``python bench/bench_import.py [--rows 1000000] [--chunksize 200000]``.
The CSV is generated (in a child process, so that its memory is not counted)
into a temporary folder; the import stores the good rows in a throw-away
workspace. Prints rows, valid rows, errors, seconds and peak resident memory
(MiB, from getrusage) before and during the import.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` customers around Paris (semicolon CSV, decimal commas, 0.1% bad rows)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1).astype(str)
    lat = np.round(48.85 + rng.normal(0, 0.05, rows), 6)
    lon = np.round(2.35 + rng.normal(0, 0.08, rows), 6)
    df = pd.DataFrame({
        "Customer ID": ids,
        "Email Address": np.char.add(np.char.add("user", ids), "@example.com"),
        "First Name": rng.choice(["Anne", "Bruno", "Chloé", "Daniel", "Élodie"], rows),
        "Latitude": lat.astype(str), "Longitude": lon.astype(str),
        "Opt-in": rng.choice(["yes", "no"], rows),
        "Segment": rng.choice(["gold", "silver", "bronze"], rows),
        "Orders": rng.integers(0, 20, rows).astype(str),
    })
    bad = rng.choice(rows, max(rows // 1000, 1), replace=False)
    df.loc[bad, "Latitude"] = "n/a"
    df["Latitude"] = df["Latitude"].str.replace(".", ",", regex=False)
    df["Longitude"] = df["Longitude"].str.replace(".", ",", regex=False)
    df.to_csv(path, sep=";", index=False)


def rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunksize", type=int, default=200_000)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.rows)
        return
    from geo.data.ingest import import_file
    from geo.workspace import create_workspace

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "customers.csv"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--generate",
                        str(csv_path)], check=True)
        gen_s = time.perf_counter() - t0
        ws = create_workspace("bench", Path(tmp))
        base = rss_mib()
        marks: list[float] = []
        t0 = time.perf_counter()
        report = import_file(csv_path, "customers", ws, chunksize=args.chunksize,
                             progress=marks.append)
        secs = time.perf_counter() - t0
        peak = rss_mib()
        size_mib = csv_path.stat().st_size / 2**20
        stored_mib = ws.table_path("customers").stat().st_size / 2**20
        print(f"rows={report.rows} valid={len(report.valid)} errors={len(report.errors)} "
              f"progress_calls={len(marks)}")
        print(f"csv={size_mib:.0f} MiB parquet={stored_mib:.0f} MiB generate={gen_s:.1f} s")
        print(f"import={secs:.1f} s  rows/s={report.rows / secs:,.0f}")
        print(f"peak_rss={peak:.0f} MiB (before import {base:.0f} MiB, "
              f"increase {peak - base:.0f} MiB)")


if __name__ == "__main__":
    main()
