"""Warm point / 1 Mb region / whole-cohort AF timings on a lake that bench/cohort_scale.py built (median of
--repeat runs each, after one warm-up), for re-measuring query changes without rebuilding the cohort.

Usage: python bench/cohort_requery.py DIR  (DIR as given to cohort_scale.py; prints one JSON object)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402

from labstream.cohort import CohortStore, allele_stats  # noqa: E402
from labstream.lake import open_lake  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--repeat", type=int, default=21)
    a = ap.parse_args()
    pos = np.load(a.dir / "sites.npz")["positions"]
    mid = int(pos[len(pos) // 2])
    store = CohortStore(open_lake(a.dir / "lake"))
    allele_stats(store)
    out: dict = {"samples": len(store.samples()), "sites": len(pos)}
    for name, region in (
        ("af_all_s", None),
        ("region_ms", f"chr1:{mid + 1}-{mid + 1_000_000}"),
        ("point_ms", f"chr1:{mid + 1}"),
    ):
        times = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            allele_stats(store, region)
            times.append(time.perf_counter() - t)
        scale = 1 if name.endswith("_s") else 1000
        out[name] = round(statistics.median(times) * scale, 4 if scale == 1 else 1)
        out[name.rsplit("_", 1)[0] + "_p90"] = round(sorted(times)[int(0.9 * len(times))] * scale, 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
