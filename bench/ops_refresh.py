"""What one tick of the ops refresher costs as a watch's history grows: 1k vs 10k (vs more) lineage rows.

`labstream watch` runs `ops.ledger.refresh` every 5 s beside the pipeline. Each measurement: a fresh
home whose catalog holds `history` synthetic lineage records (bench/ops.py's samples: an ingest and
three stages each, retries and failures), all already priced by one refresh; then `--ticks` ticks,
each adding one new sample's 4 tasks and timing `refresh` (its median is `refresh_s`). A refresh whose
work grows with history grows with the first column; one that reads only what is new does not.
`alert_tables_read_s`: what refresh_forever reads after each refresh for the budget and burn-rate
alerts: the current `turnaround` table whole (not made incremental yet) and the costs (old: every
row; new: this month's, and here all the history is one month, so no saving is measured).
`first_refresh_s` includes the first import of the pipeline contracts (seconds, once per process).

Baseline `old`, in the same run: the same measurement with the code of `--baseline REF` (default
`main`: what the refresher was before session 9's watermark), from `git archive`, in its own process.
Every run must price each task once (all synthetic tasks are finished): `costs rows == tasks`, checked.

    python bench/ops_refresh.py [--history 1000 10000] [--ticks 5] [--baseline main]   # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(history: int, ticks: int) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from labstream.catalog import open_catalog
    from labstream.core.settings import Settings
    from labstream.lake import open_lake
    from labstream.ops.ledger import costs_table, refresh, turnaround_table
    from ops import synthetic  # type: ignore[import-not-found]

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        records = synthetic(history + 4 * ticks, seed=7)
        old, new = records[:history], records[history:]
        cat = open_catalog(settings.catalog_url).upgrade()
        for i in range(0, len(old), 2000):
            cat.record_lineage_many(old[i : i + 2000])
        t0 = time.perf_counter()
        refresh(settings, catalog=cat)
        first = time.perf_counter() - t0
        times = []
        for k in range(ticks):
            cat.record_lineage_many(new[4 * k : 4 * k + 4])
            t0 = time.perf_counter()
            refresh(settings, catalog=cat)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        refresh(settings, catalog=cat)  # nothing new
        idle = time.perf_counter() - t0
        rows = costs_table(settings).num_rows
        # what refresh_forever reads after each refresh for the alerts (budgets set): the old tick read
        # every cost row; the new one this month's (here the whole history is one month: no saving)
        end = max(r.ended_at for r in records)
        lake = open_lake(settings.lake_url)
        budgets = Path(tmp) / "budgets.toml"
        budgets.write_text("[projects.p0]\nmonthly_usd = 100.0\n")
        with_budgets = Settings(home=settings.home, budgets=str(budgets))
        t0 = time.perf_counter()
        try:
            from labstream.ops.ledger import alert_costs

            alert_costs(with_budgets, lake, end)
        except ImportError:
            costs_table(settings, lake=lake)
        turnaround_table(settings, lake=lake)
        alert_tables = time.perf_counter() - t0
        cat.close()
    return {
        "first_refresh_s": round(first, 3),
        "refresh_s": round(statistics.median(times), 4),
        "idle_refresh_s": round(idle, 4),
        "alert_tables_read_s": round(alert_tables, 4),
        "costs_rows": rows,
        "tasks": len(records),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--ticks", type=int, default=5)
    ap.add_argument("--baseline", default="main")
    ap.add_argument("--child", type=int)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.ticks)), flush=True)
        os._exit(0)  # skip interpreter teardown: delta-rs' runtime threads can abort it (SIGABRT)
    sys.path.insert(0, str(HERE))
    from _old_vs_new import old_and_new  # type: ignore[import-not-found]

    out: dict[str, object] = {"baseline": f"old ({args.baseline})", "ticks": args.ticks}
    out.update(old_and_new(__file__, args.history, args.baseline, "--ticks", str(args.ticks)))
    lo, hi = (str(n) for n in (min(args.history), max(args.history)))
    for name in ("old", "new"):
        per = out[name]  # type: ignore[assignment]
        out[f"{name}_growth_{lo}_to_{hi}"] = round(per[hi]["refresh_s"] / per[lo]["refresh_s"], 2)  # type: ignore[index]
    out[f"speedup_at_{hi}"] = round(out["old"][hi]["refresh_s"] / out["new"][hi]["refresh_s"], 1)  # type: ignore[index]
    for name in ("old", "new"):
        for n, r in out[name].items():  # type: ignore[attr-defined]
            assert r["costs_rows"] == r["tasks"], f"{name} at {n}: a task priced twice or never: {r}"
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
