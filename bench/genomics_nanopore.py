"""Nanopore real-time benchmark: prints ONE JSON object.

A simulated MinKNOW run (ONT-like reads: log-normal lengths, ~6% indel-heavy errors with homopolymer
run-length errors) writes fastq_pass/barcode01 batches into a watched folder `interval` seconds apart,
then final_summary_*.txt; the platform (watcher -> ingest -> stream -> ont_align / ont_refresh / ont_call
on the local process pool, 2 CPU slots -> Delta lake) runs on embedded defaults. Measured from outside:

- time_to_first_variants_s: first batch landed (mtime) -> first ont.sample.refreshed with variants seen;
- time_to_final_s: first batch landed -> ont.sample.called seen (published after the lake commit);
- after_last_batch_s: last batch landed -> ont.sample.called;
- equal_to_batch: the streamed VCF's records equal `call_nanopore` on the batches concatenated.

And the caller choice, scored against the planted truth over several seeds (`--seeds`): SNV and indel
precision / recall / F1 of the chosen ONT profile (`bcftools-ont`: `mpileup -X ont`, indels skipped) and
of the same profile with indel calling left on (`-B -Q5 --max-BQ 30`), to show why indels are not called.

Usage: python bench/genomics_nanopore.py [--coverage 30] [--batches 8] [--interval 2.0] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"


def streamed(root: Path, sim: Any, batches: int, interval: float) -> dict[str, Any]:
    import pysam

    from labstream.core.events import Event
    from labstream.core.settings import Settings
    from labstream.genomics.nanopore import call_nanopore
    from labstream.genomics.nanopore_stages import nanopore_pipeline
    from labstream.ingest import Ingestor, Watcher
    from labstream.instruments.nanopore import write_minknow_run
    from labstream.runtime import PipelineRunner
    from labstream.stream import open_stream

    settings = Settings(home=root / "platform", executor_url="local?cpu=2&start=fork")
    watch = root / "watch"
    watch.mkdir(parents=True)
    pipe = nanopore_pipeline(sim.reference, threads=2, refresh_growth=0.5)
    runner = PipelineRunner(settings, pipe, "local?cpu=2&start=fork", poll_timeout=0.05)
    ingestor = Ingestor(settings)
    watcher = Watcher(watch, ingestor, settle_seconds=0.1, poll_interval=0.05)
    stop = threading.Event()
    written: dict[str, list[Path]] = {}
    failed: list[BaseException] = []
    per_batch = -(-sim.reads // batches)

    def sequencer() -> None:
        try:
            written.update(
                write_minknow_run(
                    watch / "RUN1", {"barcode01": sim.fastq}, reads_per_batch=per_batch, interval_s=interval
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
    reader = stream.consumer("bench", ["ont.refreshed", "ont.called"])
    seen: list[tuple[float, Event]] = []
    t_start = time.time()
    for t in threads:
        t.start()
    try:
        while not any(e.type == "ont.sample.called" for _, e in seen):
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
    runner.close()
    ingestor.close()
    mt = sorted(p.stat().st_mtime for p in written["barcode01"])
    called_at, called = next((t, e) for t, e in seen if e.type == "ont.sample.called")
    refreshes = [(t, e) for t, e in seen if e.type == "ont.sample.refreshed"]
    with_vars = [(t, e) for t, e in refreshes if e.data["variants"] > 0]
    first_at = with_vars[0][0] if with_vars else called_at
    batch = call_nanopore(sim.reference, written["barcode01"], root / "batch", sample="barcode01")
    vcf = next((settings.home / "objects").rglob("barcode01.vcf.gz"))

    def records(p: Path) -> list[tuple[Any, ...]]:
        with pysam.VariantFile(str(p)) as fh:
            return [(r.pos, r.ref, r.alts, r.qual, r.samples[0]["GT"]) for r in fh]

    return {
        "batches": len(mt),
        "reads_per_batch": per_batch,
        "interval_s": interval,
        "time_to_first_variants_s": round(first_at - mt[0], 2),
        "first_variants_batches_seen": with_vars[0][1].data["batches_seen"] if with_vars else len(mt),
        "first_variants": with_vars[0][1].data["variants"] if with_vars else called.data["variants"],
        "time_to_final_s": round(called_at - mt[0], 2),
        "after_last_batch_s": round(called_at - mt[-1], 2),
        "run_length_s": round(mt[-1] - mt[0], 2),
        "refreshes": [e.data["batches_seen"] for _, e in refreshes],
        "final_variants": called.data["variants"],
        "final_call_wall_s": called.data.get("wall_s"),
        "equal_to_batch": records(vcf) == records(batch.vcf),
        "errors": runner.errors[:3],
    }


def score(root: Path, seed: int, coverage: float) -> dict[str, Any]:
    from labstream.genomics.call import normalize_vcf
    from labstream.genomics.evaluate import evaluate
    from labstream.genomics.nanopore import call_nanopore
    from labstream.genomics.reference import open_reference
    from labstream.instruments.nanopore import NanoporeConfig, simulate_nanopore

    sim = simulate_nanopore(
        LAMBDA, root / f"s{seed}", NanoporeConfig(coverage=coverage, seed=seed, sample="S")
    )
    ref = open_reference(sim.reference)
    res = call_nanopore(sim.reference, [sim.fastq], root / f"s{seed}" / "out", sample="S")
    raw = root / f"s{seed}" / "indels_on.vcf.gz"
    with open(raw, "wb") as fh:
        mp = subprocess.Popen(
            ["bcftools", "mpileup", "-B", "-Q5", "--max-BQ", "30", "-f", str(ref.path), "-Ou", str(res.bam)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            ["bcftools", "call", "-m", "-v", "-P", "0.01", "-Oz"], stdin=mp.stdout, stdout=fh, check=True,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        mp.wait()
    on = normalize_vcf(ref, raw, root / f"s{seed}" / "indels_on.norm.vcf.gz")
    out: dict[str, Any] = {"seed": seed, "reads": sim.reads}
    for name, vcf in (("ont_profile", res.vcf), ("indels_on", on)):
        m = evaluate(ref, sim.truth_vcf, vcf)
        out[name] = {
            t: {
                k: round(float(v), 3) for k, v in m[t].to_dict().items() if k in ("precision", "recall", "f1")
            }
            for t in ("SNP", "INDEL")
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--coverage", type=float, default=30.0)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between batches landing")
    ap.add_argument("--seeds", type=int, default=3, help="seeds scored against the truth")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from labstream.instruments.nanopore import NanoporeConfig, simulate_nanopore

    with tempfile.TemporaryDirectory(prefix="ont-bench-") as tmp:
        root = Path(tmp)
        sim = simulate_nanopore(
            LAMBDA, root / "sim", NanoporeConfig(coverage=args.coverage, seed=5, sample="RT")
        )
        stream = streamed(root / "rt", sim, args.batches, args.interval)
        scores = [score(root / "score", 100 + s, args.coverage) for s in range(args.seeds)]
    print(
        json.dumps(
            {
                "coverage": args.coverage,
                "reads": sim.reads,
                "bases": sim.bases,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "streamed": stream,
                "caller_scores": scores,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
