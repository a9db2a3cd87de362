"""What one Prometheus scrape of `/metrics` costs as the lineage grows: 1k / 10k / 30k records.

Each measurement, in its own process: a fresh home whose catalog holds `history` synthetic lineage
records (bench/ops.py's samples: an ingest and three stages each, 1 in 20 retried, 1 in 50 failed);
a first scrape (includes importing the pipeline contracts, and for the new code folding in the whole
history once per process); then `--scrapes` scrapes, each after one new sample's 4 tasks were written
(median: `scrape_s`), and one with nothing new (`idle_scrape_s`). `decoded` = lineage records
JSON-decoded by the timed scrapes together. `rss_mb`: the process's resident memory at the end (the
new code keeps a small memo per record). A scrape is `PlatformCollector.collect` rendered to the text
exposition, with a fixed clock; `series_digest` hashes the series (values to 9 significant digits) so
the parent checks that old and new report the same thing.

Baseline `old`, in the same run: the same measurement with the code of `--baseline REF` (default
`main`: the collector that read every record on each scrape), from `git archive`, in its own process.

    python bench/metrics_scrape.py [--history 1000 10000 30000] [--scrapes 5] [--baseline main]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(history: int, scrapes: int) -> dict[str, object]:
    sys.path.insert(0, str(HERE))
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from labstream.catalog import lineage_store, open_catalog
    from labstream.core.settings import Settings
    from labstream.ops.metrics import PlatformCollector
    from ops import synthetic  # type: ignore[import-not-found]

    decoded = 0
    real = lineage_store._to_lineage

    def counting(m: object) -> object:
        nonlocal decoded
        decoded += 1
        return real(m)

    lineage_store._to_lineage = counting  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        records = synthetic(history + 4 * scrapes, seed=7)
        old, new = records[:history], records[history:]
        now = max(r.ended_at for r in records) + 60.0

        def scrape() -> bytes:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(PlatformCollector(settings, clock=lambda: now))
            return generate_latest(registry)

        cat = open_catalog(settings.catalog_url).upgrade()
        for i in range(0, len(old), 2000):
            cat.record_lineage_many(old[i : i + 2000])
        t0 = time.perf_counter()
        scrape()
        first = time.perf_counter() - t0
        decoded = 0
        times = []
        for k in range(scrapes):
            cat.record_lineage_many(new[4 * k : 4 * k + 4])
            t0 = time.perf_counter()
            text = scrape()
            times.append(time.perf_counter() - t0)
        read = decoded
        t0 = time.perf_counter()
        scrape()
        idle = time.perf_counter() - t0
        cat.close()
    series = sorted(
        f"{s.name}{sorted(s.labels.items())}={s.value:.9g}"
        for fam in text_string_to_metric_families(text.decode())
        for s in fam.samples
    )
    rss_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return {
        "first_scrape_s": round(first, 3),
        "scrape_s": round(statistics.median(times), 4),
        "idle_scrape_s": round(idle, 4),
        "decoded": read,
        "rss_mb": round(rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1),
        "series": len(series),
        "series_digest": hashlib.sha256("\n".join(series).encode()).hexdigest()[:16],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", type=int, nargs="+", default=[1000, 10000, 30000])
    ap.add_argument("--scrapes", type=int, default=5)
    ap.add_argument("--baseline", default="main")
    ap.add_argument("--child", type=int)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.scrapes)), flush=True)
        os._exit(0)
    sys.path.insert(0, str(HERE))
    from _old_vs_new import old_and_new  # type: ignore[import-not-found]

    out: dict[str, object] = {"baseline": f"old ({args.baseline})", "scrapes": args.scrapes}
    out.update(old_and_new(__file__, args.history, args.baseline, "--scrapes", str(args.scrapes)))
    lo, hi = (str(n) for n in (min(args.history), max(args.history)))
    old, new = out["old"], out["new"]
    for name, per in (("old", old), ("new", new)):
        out[f"{name}_growth_{lo}_to_{hi}"] = round(per[hi]["scrape_s"] / per[lo]["scrape_s"], 2)  # type: ignore[index]
    out[f"speedup_at_{hi}"] = round(old[hi]["scrape_s"] / new[hi]["scrape_s"], 1)  # type: ignore[index]
    for n in old:  # type: ignore[union-attr]
        same = old[n]["series_digest"] == new[n]["series_digest"]  # type: ignore[index]
        out[f"same_series_at_{n}"] = same
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
