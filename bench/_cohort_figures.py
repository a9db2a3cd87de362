"""What both cohort benches (bench/cohort.py, bench/cohort_scale.py) measure the same way: a median
timer, and the warm point / 1 Mb region queries with the store's size per genotype."""

from __future__ import annotations

import statistics
import time
from typing import Any

from labstream.cohort import allele_stats


def timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    """(the last result, the median wall seconds of `repeat` calls)."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def query_and_size(store: Any, contig: str, mid: int, samples: int, sites: int) -> dict[str, float]:
    """region_ms and point_ms (median of 5, warm) at `mid`, store_bytes and bits_per_genotype."""
    out: dict[str, float] = {}
    _, t = timed(lambda: allele_stats(store, f"{contig}:{mid + 1}-{mid + 1_000_000}"), 5)
    out["region_ms"] = round(t * 1000, 1)
    _, t = timed(lambda: allele_stats(store, f"{contig}:{mid + 1}"), 5)
    out["point_ms"] = round(t * 1000, 1)
    files = store._files()
    total = sum(files.filesystem.get_file_info(f).size for f in files.files)
    out["store_bytes"] = total
    out["bits_per_genotype"] = round(total * 8 / (samples * sites), 3)
    return out
