"""Genomics benchmark: prints ONE JSON object. Same data, same threads for labstream and the baselines.

(1) alignment throughput: labstream's align stage (validate + QC/trim + minimap2 + fixmate + sort) vs the
    minimap2 CLI piped into samtools sort (best of --repeat each, and the ratio within each round),
    mappy (threads) vs the CLI for raw mapping, and the batch chain's align step (+ markdup + index);
(2) FASTQ -> VCF wall time: labstream chain (align with in-pipe markdup; calling sharded by region, each
    shard tailing the BAM while it is written; normalise, index)
    vs the sequential baseline `minimap2 -ax sr | samtools sort` then `bcftools mpileup | bcftools call -mv`,
    in `--repeat` rounds, rotating which run goes first (ratios per round, median and best-vs-best);
(3) SNP and indel F1 of both against the simulator's truth;
(4) peak RSS (whole process tree) of the labstream chain at two input sizes;
(5) the learned caller beside bcftools on held-out genomes and simulators (bench/genomics_learned.py;
    `--learned-only` runs just this part, `--skip-learned` leaves it out).

Usage: python bench/genomics.py [--coverage 300] [--threads 2] [--repeat 3]   (about a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"


def cpu_s() -> float:
    """CPU seconds (user + system) of this process and its waited-for children, whole trees included.

    On a shared 2-core machine wall time swings 2x between runs; CPU time is the steadier measure of
    how much work each side does, so the bench reports both."""
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def run_measured(cmd: list[str] | str, shell: bool = False) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes of the whole process tree (sampled every 20 ms), and stdout.

    (wait4's ru_maxrss is useless here: a forked child inherits the parent's high-water mark.)
    """
    import threading

    import psutil

    t = time.perf_counter()
    p = subprocess.Popen(cmd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(p.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for q in procs:
                    try:
                        total += q.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
            except psutil.Error:
                pass
            done.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out = p.stdout.read().decode() if p.stdout else ""
    code = p.wait()
    done.set()
    th.join()
    if code:
        raise RuntimeError(f"{cmd} exited {code}")
    return time.perf_counter() - t, peak, out


def child(args: argparse.Namespace) -> None:
    """Run inside a fresh process so its peak RSS is its own: labstream FASTQ -> VCF."""
    t_start = time.perf_counter()
    from labstream.genomics.align import align_reads
    from labstream.genomics.call import call_variants, shard_regions
    from labstream.genomics.reference import open_reference
    from labstream.genomics.tailing_caller import StreamCallers

    t0 = time.perf_counter()
    c0 = cpu_s()
    ref = open_reference(args.ref)
    out = Path(args.out)
    if args.align_only:  # (1): what the streaming align stage does per chunk (no markdup, no index)
        res = align_reads(ref, args.r1, args.r2, out / "chunk.bam", sample="S", threads=args.threads)
        print(json.dumps({"align_s": time.perf_counter() - t0, "align_cpu": cpu_s() - c0}))
        return
    # what call_sample does for one FASTQ pair: QC/trim | minimap2 | fixmate | sort | markdup (+ .bai),
    # with one bcftools mpileup | call per region shard tailing the BAM while markdup writes it
    # (--call-after-bam: the previous way, calling the indexed BAM once complete, for comparison)
    callers = None if args.call_after_bam else StreamCallers(ref, shard_regions(ref, args.threads), out)
    res = align_reads(
        ref,
        args.r1,
        args.r2,
        out / "S.bam",
        sample="S",
        threads=args.threads,
        markdup=True,
        follow=callers.follow if callers else None,
    )
    t1 = time.perf_counter()
    c1 = cpu_s()
    if callers:
        callers.finish(out / "S.vcf.gz")
    else:
        call_variants(ref, res.bam, out / "S.vcf.gz", threads=args.threads)
    t2 = time.perf_counter()
    steps = {"import_s": t0 - t_start, "align_markdup_s": t1 - t0, "call_s": t2 - t1}
    steps |= {"align_cpu": c1 - c0, "total_cpu": cpu_s() - c0, "process_cpu": cpu_s()}
    print(json.dumps({**steps, "pairs": res.qc.reads // 2}))


def mappy_rate(ref: str, r1: Path, r2: Path, threads: int, limit: int) -> float:
    """Pairs per second mapped by mappy from `threads` Python threads (hits only, no SAM)."""
    from concurrent.futures import ThreadPoolExecutor

    import mappy
    import pysam

    aligner = mappy.Aligner(ref, preset="sr")
    pairs = []
    with pysam.FastxFile(str(r1)) as f1, pysam.FastxFile(str(r2)) as f2:
        for a, b in zip(f1, f2, strict=True):
            pairs.append((a.sequence, b.sequence))
            if len(pairs) >= limit:
                break

    def work(chunk: list[tuple[str, str]]) -> int:
        buf = mappy.ThreadBuffer()
        return sum(1 for s1, s2 in chunk for _ in aligner.map(s1, s2, buf=buf))

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, [pairs[i::threads] for i in range(threads)]))
    return len(pairs) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--coverage", type=float, default=300.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--align-only", action="store_true")
    ap.add_argument("--call-after-bam", action="store_true")
    ap.add_argument("--ref")
    ap.add_argument("--r1")
    ap.add_argument("--r2")
    ap.add_argument("--out")
    ap.add_argument("--learned-only", action="store_true")
    ap.add_argument("--skip-learned", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from genomics_learned import learned_vs_bcftools

    if args.learned_only:
        print(json.dumps({"learned_vs_bcftools": learned_vs_bcftools()}, indent=2))
        return

    from labstream.genomics.evaluate import evaluate
    from labstream.genomics.reference import open_reference
    from labstream.instruments.sequencer import SimConfig, simulate_run

    th = str(args.threads)
    result: dict[str, object] = {"threads": args.threads, "coverage": args.coverage, "genome": "lambda phage"}
    with tempfile.TemporaryDirectory(prefix="labstream-bench-") as tmp:
        base = Path(tmp)
        sizes = {"small": args.coverage / 2, "large": args.coverage}
        runs = {}
        for name, cov in sizes.items():
            cfg = SimConfig(coverage=cov, q_end=24.0, seed=13, sample="S")
            runs[name] = simulate_run(LAMBDA, base / name, cfg)
        sim = runs["large"]
        ref, r1, r2 = str(sim.reference), str(sim.r1), str(sim.r2)
        result["pairs"] = sim.pairs
        result["read_length"] = cfg.read_length  # per-base rates (labstream capacity) need it

        def baseline(bdir: Path) -> dict[str, float]:
            """(2) baseline, sequential; also gives the CLI alignment time for (1)."""
            bdir.mkdir()
            c = cpu_s()
            t_align, rss1, _ = run_measured(
                f"minimap2 -ax sr -t {th} {ref} {r1} {r2} | samtools sort -o {bdir}/b.bam -", shell=True
            )
            c_align = cpu_s() - c
            c = cpu_s()
            t_call, rss2, _ = run_measured(
                f"bcftools mpileup -f {ref} {bdir}/b.bam | bcftools call -mv -Oz -o {bdir}/b.vcf.gz",
                shell=True,
            )
            c_call = cpu_s() - c
            return {
                "align_sort_s": t_align,
                "mpileup_call_s": t_call,
                "wall_s": t_align + t_call,
                "align_cpu": c_align,
                "total_cpu": c_align + c_call,
                "peak_rss_bytes": max(rss1, rss2),
            }

        def labstream(run: object, out: Path, *extra: str) -> dict[str, float]:
            """labstream, in a child process (peak RSS of its whole tree, interpreter start included)."""
            out.mkdir()
            cmd = [sys.executable, __file__, "--child", *extra, "--threads", th, "--out", str(out)]
            cmd += ["--ref", str(run.reference), "--r1", str(run.r1), "--r2", str(run.r2)]  # type: ignore[attr-defined]
            wall, rss, text = run_measured(cmd)
            return {"wall_s": wall, "peak_rss_bytes": rss, **json.loads(text.strip().splitlines()[-1])}

        # repeated rounds, rotating which of the three runs goes first: wall time on a shared machine drifts
        # between runs, so every ratio is taken within one round (neighbouring runs) and reported per round
        reps: list[tuple[dict[str, float], dict[str, float]]] = []
        align_only: list[dict[str, float]] = []
        load = [round(x, 2) for x in os.getloadavg()]
        for i in range(args.repeat):
            runs_i: dict[str, dict[str, float]] = {}
            order = ["baseline", "ours", "align"]
            for name in order[i % 3 :] + order[: i % 3]:
                if name == "baseline":
                    runs_i[name] = baseline(base / f"baseline{i}")
                elif name == "ours":
                    runs_i[name] = labstream(sim, base / f"ours-large{i}")
                else:
                    runs_i[name] = labstream(sim, base / f"align-only{i}", "--align-only")
            reps.append((runs_i["baseline"], runs_i["ours"]))
            align_only.append(runs_i["align"])
        load.extend(round(x, 2) for x in os.getloadavg())
        result["load_average_before_after"] = load
        last = args.repeat - 1
        bdir = base / f"baseline{last}"
        ours_dir = base / f"ours-large{last}"
        t_map_only, _, _ = run_measured(f"minimap2 -ax sr -t {th} {ref} {r1} {r2} > /dev/null", shell=True)
        ours = {"large": reps[-1][1], "small": labstream(runs["small"], base / "ours-small")}
        best_a = min(align_only, key=lambda d: d["align_s"])
        best_b = min((b for b, _ in reps), key=lambda d: d["wall_s"])
        best_o = min((o for _, o in reps), key=lambda d: d["wall_s"])
        t_align, c_align = best_b["align_sort_s"], best_b["align_cpu"]
        rss_b = max(b["peak_rss_bytes"] for b, _ in reps)
        align_ratios = sorted(
            b["align_sort_s"] / a["align_s"] for (b, _), a in zip(reps, align_only, strict=True)
        )

        mp_rate = mappy_rate(ref, sim.r1, sim.r2, args.threads, limit=20000)
        cli_rate = sim.pairs / t_map_only
        ours_rate = sim.pairs / best_a["align_s"]
        cli_sort_rate = sim.pairs / t_align
        result["alignment"] = {
            "labstream_align_stage_pairs_per_s": round(ours_rate),
            "minimap2_cli_sort_pairs_per_s": round(cli_sort_rate),
            "ratio_vs_cli_with_sort": round(ours_rate / cli_sort_rate, 3),
            "ratio_vs_cli_with_sort_per_repeat": [round(r, 3) for r in align_ratios],
            "ratio_vs_cli_with_sort_median": round(align_ratios[len(align_ratios) // 2], 3),
            "minimap2_cli_map_only_pairs_per_s": round(cli_rate),
            "ratio_vs_cli_map_only": round(ours_rate / cli_rate, 3),
            "mappy_threads_pairs_per_s": round(mp_rate),
            "mappy_vs_cli_map_only": round(mp_rate / cli_rate, 3),
            "mappy_note": "mappy: first 20k pairs already in memory, hits only (no SAM, no gzip, no I/O)",
            "labstream_align_stage_does": "validate, QC/trim, minimap2, fixmate, sort (level-1 chunk BAM)",
            "cpu_s_labstream_align": round(best_a["align_cpu"], 3),
            "cpu_s_minimap2_cli_sort": round(c_align, 3),
            "cpu_ratio_cli_over_labstream": round(c_align / best_a["align_cpu"], 3),
            "labstream_align_markdup_index_pairs_per_s": round(sim.pairs / best_o["align_markdup_s"]),
            "note": "ratio_vs_cli_with_sort: best of the repeats on each side; per_repeat: within one round",
            "target": ">= 0.95x",
        }
        ratios = sorted(o["wall_s"] / b["wall_s"] for b, o in reps)
        cpu_ratios = sorted(o["total_cpu"] / b["total_cpu"] for b, o in reps)
        floors = sorted(o["process_cpu"] / args.threads / b["wall_s"] for b, o in reps)
        result["fastq_to_vcf"] = {
            "repeats": args.repeat,
            "ratio_per_repeat": [round(r, 3) for r in ratios],
            "ratio_median": round(ratios[len(ratios) // 2], 3),
            "ratio_best_vs_best": round(best_o["wall_s"] / best_b["wall_s"], 3),
            "labstream_s": [round(o["wall_s"], 3) for _, o in reps],
            "baseline_s": [round(b["wall_s"], 3) for b, _ in reps],
            "labstream_steps_s_best": {
                k: round(v, 3) for k, v in best_o.items() if k.endswith("_s") and k != "wall_s"
            },
            "baseline_steps_s_best": {k: round(best_b[k], 3) for k in ("align_sort_s", "mpileup_call_s")},
            "cpu_s_labstream": [round(o["total_cpu"], 3) for _, o in reps],
            "cpu_s_baseline": [round(b["total_cpu"], 3) for b, _ in reps],
            "cpu_ratio_median": round(cpu_ratios[len(cpu_ratios) // 2], 3),
            "two_core_floor_ratio_per_repeat": [round(r, 3) for r in floors],
            "floor_note": "labstream's whole CPU (interpreter start and imports included) / threads / the "
            "baseline's wall in the same round: no scheduling of the same work on this many cores can "
            "go under it",
            "cpu_steps_s_labstream": [
                {"align_markdup": round(o["align_cpu"], 3), "call": round(o["total_cpu"] - o["align_cpu"], 3)}
                for _, o in reps
            ],
            "cpu_steps_s_baseline": [
                {
                    "align_sort": round(b["align_cpu"], 3),
                    "mpileup_call": round(b["total_cpu"] - b["align_cpu"], 3),
                }
                for b, _ in reps
            ],
            "target": "<= 0.6x",
            "labstream_does": "python start + imports, FASTQ validation, QC/trim, minimap2 -ax sr -K 2M, "
            "fixmate -m, sort, markdup + .bai (BAM level 1), bcftools mpileup -a AD,DP | call -mv -f GQ in "
            f"{args.threads} region shards in parallel, each tailing the BAM while markdup writes it; "
            "concat, norm -m-any, MQ header fix, bgzip, tabix",
            "step_note": "align_markdup_s: until the BAM + .bai are complete (shards already calling); "
            "call_s: the rest of calling after that",
            "baseline_does": f"minimap2 -ax sr -t {th} | samtools sort; then bcftools mpileup | "
            "bcftools call -mv -Oz (no markdup, no norm, no index)",
            "cpu_note": "CPU counts the labstream child's whole tree and the baseline's shells",
        }
        reference = open_reference(ref)
        f1 = {}
        for who, vcf in (("labstream", ours_dir / "S.vcf.gz"), ("baseline", bdir / "b.vcf.gz")):
            m = evaluate(reference, sim.truth_vcf, vcf)
            f1[who] = {
                "snp_f1": round(m["SNP"].f1, 4),
                "indel_f1": round(m["INDEL"].f1, 4),
                "snp_precision": round(m["SNP"].precision, 4),
                "snp_recall": round(m["SNP"].recall, 4),
                "indel_precision": round(m["INDEL"].precision, 4),
                "indel_recall": round(m["INDEL"].recall, 4),
                "genotype_concordance": round(m["ALL"].genotype_concordance, 4),
            }
        result["f1"] = f1
        result["peak_rss"] = {
            "labstream_small_input_mb": round(ours["small"]["peak_rss_bytes"] / 2**20, 1),
            "labstream_large_input_mb": round(ours["large"]["peak_rss_bytes"] / 2**20, 1),
            "pairs_small": runs["small"].pairs,
            "pairs_large": runs["large"].pairs,
            "baseline_mb": round(rss_b / 2**20, 1),
            "target": "flat as input grows, <= 2048 MB",
        }
    if not args.skip_learned:
        result["learned_vs_bcftools"] = learned_vs_bcftools()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
