"""Time of building hashed ad audiences (Google and Meta) for N target rows (default 100,000).

Usage: ``python bench/bench_audience.py [--rows 100000] [--repeat 3]``.
Prints the median seconds per platform (consent rule, normalisation, phone
parsing, SHA-256 of every field) and, as the reference in the same run, the
median seconds of hashing the trimmed, lower-cased e-mails alone with
hashlib, with the ratio between them.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def targets(rows: int, seed: int = 3):
    """A target list with every ad identifier filled (phones national, Finnish)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ids = np.arange(rows).astype(str)
    return pd.DataFrame({
        "customer_id": np.char.add("C", ids),
        "email": np.char.add(np.char.add(" First.Last", ids), "+tag@GMail.com "),
        "first_name": rng.choice(["Mrs. Anna", "Jussi", "Élodie"], rows),
        "last_name": rng.choice(["Virtanen", "O'Brien", "Korhonen Jr."], rows),
        "phone": np.char.add("040 ", rng.integers(1_000_000, 9_999_999, rows).astype(str)),
        "postcode": rng.choice(["00100", "00120", "00130"], rows), "city": "Helsinki",
        "country": "FI", "store_id": "S1", "group": "treatment", "ads_consent": "yes"})


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from geo.ads import build_audience

    t = targets(args.rows)
    ref = median_seconds(lambda: [hashlib.sha256(e.strip().lower().encode()).hexdigest()
                                  for e in t["email"]], args.repeat)
    print(f"rows {args.rows:,}; reference (sha256 of trimmed lower-case e-mails only): "
          f"{ref:.3f} s")
    for platform in ("google", "meta"):
        secs = median_seconds(lambda p=platform: build_audience(t, p), args.repeat)
        print(f"{platform}: {secs:.3f} s median, {args.rows / secs:,.0f} rows/s, "
              f"{secs / ref:.1f} x the reference")


if __name__ == "__main__":
    main()
