"""Warm point / 1 Mb region / whole-cohort / 50% sub-cohort AF timings on a lake that bench/cohort_scale.py
built (median of --repeat runs each, a sub-cohort --repeat / 7, after one warm-up), for re-measuring query
changes without rebuilding the cohort.

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
    names = store.samples()
    half = names[: (len(names) + 1) // 2]
    rand = sorted(np.random.default_rng(7).choice(names, len(names) // 2, replace=False).tolist())
    for name, region, samples in (
        ("af_all_s", None, None),
        ("region_ms", f"chr1:{mid + 1}-{mid + 1_000_000}", None),
        ("point_ms", f"chr1:{mid + 1}", None),
        ("subcohort_af_s", None, half),
        ("subcohort_random_half_s", None, rand),
    ):
        allele_stats(store, region, samples=samples)
        times = []
        for _ in range(a.repeat if samples is None else max(1, a.repeat // 7)):
            t = time.perf_counter()
            allele_stats(store, region, samples=samples)
            times.append(time.perf_counter() - t)
        scale = 1 if name.endswith("_s") else 1000
        out[name] = round(statistics.median(times) * scale, 4 if scale == 1 else 1)
        out[name.rsplit("_", 1)[0] + "_p90"] = round(sorted(times)[int(0.9 * len(times))] * scale, 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
