"""Real-time genomics benchmark: prints ONE JSON object.

A simulated sequencer writes FASTQ chunk pairs into a watched folder, `interval` seconds apart; the
platform (folder watcher -> ingest -> sqlite stream -> gx_align / gx_refresh / gx_call on the local
process pool, 2 CPU slots -> Delta lake) runs on embedded defaults, as `labstream demo` does. Measured
from the outside:

- after_last_chunk_s: last chunk pair landed (file mtime) -> gx.sample.called seen (published after the
  lake commit, so the final variants are queryable);
- time_to_first_variants_s: first chunk landed -> first gx.sample.refreshed with variants seen;
- per refresh and for the final call: wall and CPU seconds inside the stage (its own process and
  tool subprocesses), from the events' `wall_s` / `cpu_s`;
- equal_to_batch: the lake's final variants equal `call_sample` on the same reads.

Usage: python bench/genomics_realtime.py [--coverage 120] [--chunks 8] [--interval 2.0] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE = "RT1"
LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"


def one_run(root: Path, run: Any, chunks: int, interval: float) -> dict[str, Any]:
    from labstream.core.events import Event
    from labstream.core.settings import Settings
    from labstream.genomics.stages import genomics_pipeline
    from labstream.ingest import Ingestor, Watcher
    from labstream.instruments.sequencer import stream_chunks
    from labstream.runtime import PipelineRunner
    from labstream.stream import open_stream

    settings = Settings(home=root / "platform", executor_url="local?cpu=2&start=fork")
    watch = root / "watch"
    watch.mkdir(parents=True)
    pipe = genomics_pipeline(run.reference, annotation=run.gff3, known=run.known_vcf, threads=2, run="rt")
    runner = PipelineRunner(settings, pipe, "local?cpu=2&start=fork", poll_timeout=0.05)
    ingestor = Ingestor(settings)
    watcher = Watcher(watch, ingestor, settle_seconds=0.1, poll_interval=0.05)
    stop = threading.Event()
    landed: list[Path] = []
    failed: list[BaseException] = []

    def sequencer() -> None:
        pairs = int(run.pairs)
        try:
            landed.extend(
                stream_chunks(
                    run.r1,
                    run.r2,
                    watch,
                    sample=SAMPLE,
                    pairs_per_chunk=-(-pairs // chunks),
                    interval_s=interval,
                    total_pairs=pairs,
                )
            )
        except BaseException as err:  # reported by the main loop
            failed.append(err)

    threads = [
        threading.Thread(target=watcher.run, args=(stop,), daemon=True),
        threading.Thread(target=runner.run_forever, args=(stop,), daemon=True),
        threading.Thread(target=sequencer, daemon=True),
    ]
    stream = open_stream(settings.stream_url)
    reader = stream.consumer("bench", ["gx.refreshed", "gx.called", "gx.aligned"])
    seen: list[tuple[float, Event]] = []
    t_start = time.time()
    for t in threads:
        t.start()
    try:
        while not any(e.type == "gx.sample.called" for _, e in seen):
            if failed:
                raise failed[0]
            if time.time() - t_start > 600:
                raise TimeoutError(f"no final call after 600 s: {runner.status()} {runner.errors[:3]}")
            for rec in reader.poll(max_records=100, timeout=0.05):
                seen.append((time.time(), Event.from_json(rec.value)))
    finally:
        stop.set()
        threads[0].join(timeout=30)
        threads[1].join(timeout=60)
        reader.close()
        stream.close()
    threads[2].join()
    final = runner.lake.read("variants").to_pylist()
    runner.close()
    ingestor.close()
    mt = sorted(p.stat().st_mtime for p in landed)
    first_landed, last_landed = mt[0], mt[-1]
    called_at, called = next((t, e) for t, e in seen if e.type == "gx.sample.called")
    refreshes = [(t, e) for t, e in seen if e.type == "gx.sample.refreshed"]
    aligned = [e for _, e in seen if e.type == "gx.chunk.aligned"]
    with_vars = [t for t, e in refreshes if e.data["variants"] > 0]
    first_vars_at = with_vars[0] if with_vars else called_at
    return {
        "after_last_chunk_s": round(called_at - last_landed, 2),
        "time_to_first_variants_s": round(first_vars_at - first_landed, 2),
        "turnaround_s": round(called_at - first_landed, 2),
        "refreshes": len(refreshes),
        "refresh_chunks_seen": [e.data["chunks_seen"] for _, e in refreshes],
        "refresh_wall_s": [e.data.get("wall_s") for _, e in refreshes],
        "refresh_cpu_s": [e.data.get("cpu_s") for _, e in refreshes],
        "refresh_cpu_total_s": round(sum(e.data.get("cpu_s", 0) for _, e in refreshes), 2),
        "align_cpu_total_s": round(sum(e.data.get("cpu_s", 0) for e in aligned), 2),
        "final_call_wall_s": called.data.get("wall_s"),
        "final_call_cpu_s": called.data.get("cpu_s"),
        "final_variants": sorted((r["start"], r["ref"], r["alt"], r["gt"], r["dp"]) for r in final),
        "errors": runner.errors[:3],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--coverage", type=float, default=120.0)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between chunk pairs landing")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from labstream.genomics.chain import ChainOptions, call_sample
    from labstream.instruments.sequencer import SimConfig, simulate_run

    with tempfile.TemporaryDirectory(prefix="gx-rt-bench-") as tmp:
        root = Path(tmp)
        run = simulate_run(LAMBDA, root / "sim", SimConfig(coverage=args.coverage, seed=5, sample="RT1"))
        t = time.perf_counter()
        batch = call_sample(
            run.reference,
            run.r1,
            run.r2,
            sample="RT1",
            out_dir=root / "batch",
            run="batch",
            opts=ChainOptions(threads=2, annotation=run.gff3, known=run.known_vcf),
        )
        batch_s = time.perf_counter() - t
        want = sorted((r["start"], r["ref"], r["alt"], r["gt"], r["dp"]) for r in batch.variants)
        rounds = [one_run(root / f"r{i}", run, args.chunks, args.interval) for i in range(args.repeat)]
    for r in rounds:
        r["equal_to_batch"] = r.pop("final_variants") == want
    key = ("after_last_chunk_s", "time_to_first_variants_s", "refresh_cpu_total_s")
    print(
        json.dumps(
            {
                "pairs": int(run.pairs),
                "chunks": args.chunks,
                "interval_s": args.interval,
                "batch_chain_s": round(batch_s, 2),
                "batch_variants": len(want),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "median": {k: statistics.median(r[k] for r in rounds) for k in key},
                "rounds": rounds,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
