"""Time of locating N postcodes offline (default 10,000) once the country's table is on disk.

Usage: ``python bench/bench_geocode.py [--postcodes 10000] [--codes 40000] [--repeat 5]``.

A synthetic GeoNames-format table for ``DE`` (``--codes`` five-digit postcodes,
a third of them with two places) is written into a temporary folder used as
``PGEOCODE_DATA_DIR``; nothing is downloaded. Prints medians over ``--repeat``
runs of:

- ``table+lookup``: read the table from disk, index it and locate the postcodes
  (what one import does: `geo.data.postcodes`);
- ``lookup``: locate them with the table already in memory;
- ``import``: the whole ``check_file`` of a customers CSV of N rows located by
  postcode (reading, mapping, locating, validating);
- ``pgeocode``: the reference, ``pgeocode.Nominatim("DE").query_postal_code`` on
  the same postcodes from pgeocode's own cache in the same folder (index built
  beforehand, as pgeocode keeps it on disk);

and the ratio of ``table+lookup`` to ``pgeocode``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write_table(folder: Path, codes: int, seed: int = 3) -> list[str]:
    """Write DE.txt (GeoNames tab format) and pgeocode's cache of it; return the postcodes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    postcodes = np.char.zfill(rng.choice(100_000, codes, replace=False).astype(str), 5)
    twice = rng.random(codes) < 1 / 3
    code = np.concatenate([postcodes, postcodes[twice]])
    n = len(code)
    table = pd.DataFrame({
        "country_code": "DE", "postal_code": code, "place_name": "Ort",
        "state_name": "Land", "state_code": "XX", "county_name": "", "county_code": "",
        "community_name": "", "community_code": "",
        "latitude": np.round(47.3 + rng.random(n) * 7.7, 4),
        "longitude": np.round(5.9 + rng.random(n) * 9.1, 4), "accuracy": 4})
    geonames = folder / "geonames"
    geonames.mkdir()
    table.to_csv(geonames / "DE.txt", sep="\t", header=False, index=False)
    pg = folder / "pgeocode"
    pg.mkdir()
    table.to_csv(pg / "DE.txt", index=False)
    return [str(c) for c in postcodes]


def median_s(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postcodes", type=int, default=10_000)
    parser.add_argument("--codes", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import pgeocode

    from geo.data.ingest import check_file
    from geo.data.locate import LocatePlan
    from geo.data.postcodes import PostcodeBook, load_table

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        known = write_table(folder, args.codes)
        rng = np.random.default_rng(11)
        sample = pd.Series(rng.choice(known, args.postcodes))
        sample[: args.postcodes // 50] = "00000X"  # 2 % unknown
        geonames = folder / "geonames"
        os.environ["PGEOCODE_DATA_DIR"] = str(geonames)

        def ours() -> None:
            load_table("DE", geonames, download=False).locate(sample)

        table = load_table("DE", geonames, download=False)
        found = int(table.locate(sample)[2].sum())
        csv = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(args.postcodes)],
                            "first_name": "A", "opted_in": "yes", "postcode": sample,
                            "country": "DE"}).to_csv(index=False).encode()

        def whole_import() -> None:
            plan = LocatePlan(mode="postcode",
                              postcodes=PostcodeBook(geonames, download=False))
            check_file(csv, "customers", name="customers.csv", locate=plan)

        pgeocode.STORAGE_DIR = str(folder / "pgeocode")  # this script's own process only
        pgeocode.Nominatim("DE")  # builds pgeocode's index file once, as its cache does

        def reference() -> None:
            pgeocode.Nominatim("DE").query_postal_code(sample.tolist())

        t_ours = median_s(ours, args.repeat)
        t_lookup = median_s(lambda: table.locate(sample), args.repeat)
        t_import = median_s(whole_import, args.repeat)
        t_ref = median_s(reference, args.repeat)
    print(f"postcodes={args.postcodes:,} table_codes={args.codes:,} found={found:,} "
          f"repeat={args.repeat}")
    print(f"table+lookup median_s={t_ours:.4f}")
    print(f"lookup       median_s={t_lookup:.4f}")
    print(f"import       median_s={t_import:.4f}  (check_file, {args.postcodes:,} rows, postcode mode)")
    print(f"pgeocode     median_s={t_ref:.4f}  (reference: Nominatim('DE').query_postal_code)")
    print(f"ratio table+lookup / pgeocode = {t_ours / t_ref:.2f}")


if __name__ == "__main__":
    main()
