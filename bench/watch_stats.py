"""What a month of `labstream watch` keeps in memory for its stats: RSS growth over N ingest results.

Baseline `keep_all`: what WatchStats did before session 9, every IngestResult appended to a list for
the life of the watch (the end-of-run note read it). `bounded`: WatchStats.record (counts, the last
RECENT results, a per-layout tally). Each runs in its own child process, fed the same results (a
FASTQ-layout event with the data an ingest puts in it), and reports the growth of its resident set
from after the first 1,000 results (imports and the window filled) to the end.

    python bench/watch_stats.py [--results 100000]   # prints one JSON object
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        import os

        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(variant: str, n: int) -> dict[str, float]:
    from labstream.core.events import Event
    from labstream.ingest.files import IngestResult
    from labstream.ingest.watch_stats import WatchStats

    stats = WatchStats()
    kept: list[IngestResult] = []

    def result(i: int) -> IngestResult:
        name = f"S{i}_L001_R1_001.fastq.gz"
        data = {
            "name": name,
            "layout": "fastq",
            "instrument": "illumina",
            "size": 1_000_000 + i,
            "sha256": f"{i:064x}",
            "uri": f"file:///lab/home/objects/raw/{i:064x}",
        }
        return IngestResult(f"/lab/in/{name}", "published", f"{i:064x}", Event("file.landed", f"S{i}", data))

    record = stats.record if variant == "bounded" else kept.append
    for i in range(1000):
        record(result(i))
    gc.collect()
    before, t0 = _rss(), time.perf_counter()
    for i in range(1000, n):
        record(result(i))
    gc.collect()
    return {"rss_growth_mb": (_rss() - before) / 2**20, "record_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=int, default=100_000)
    ap.add_argument("--child", choices=("keep_all", "bounded"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.results)))
        return
    out: dict[str, object] = {"results": args.results, "baseline": "keep_all"}
    for variant in ("keep_all", "bounded"):
        run = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--results", str(args.results)],
            check=True,
            capture_output=True,
            text=True,
        )
        out[variant] = json.loads(run.stdout)
    base, new = out["keep_all"], out["bounded"]
    out["rss_growth_saved_mb"] = round(base["rss_growth_mb"] - new["rss_growth_mb"], 1)  # type: ignore[index]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
