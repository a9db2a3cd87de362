"""The learned caller beside bcftools on the same BAMs: prints ONE JSON object (imported by genomics.py).

Training: labstream's simulator on lambda phage, seeds 101-116, coverages 8-40x and several base-quality
profiles (instruments/training_sets.py TRAIN_MIX). Evaluation, none of it seen in training: (a) the same
simulator on human mitochondria (another genome), (b) samtools' wgsim (another read and mutation model)
on orangutan mitochondria, each at 12x, 20x and 30x with three seeds, and (c) real reads: NA12878 (Illumina
HiSeq X) on a 12.4 kb chr22 segment with its GIAB truth (14 SNPs, no indels listed), as Debian's freebayes
ships them. Both callers call the same BAM;
numbers are pooled per set and per coverage, with the learned caller's difference to bcftools.
Matching is haplotype-aware for both callers (genomics/haplotype_match.py): an event written as other
variants (an insertion + deletion aligned as a run of SNPs) counts once, not as FP + FN.
Deletions simulated by wgsim have no known zygosity (wgsim_run.py): they are left out of genotype
concordance.

Usage: python bench/genomics_learned.py [--eval-seeds 3]   (a few minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"
SETS = {
    "sequencer_mt_human": ("sequencer", "/usr/share/doc/minimap2/test/MT-human.fa.gz"),
    "wgsim_mt_orang": ("wgsim", "/usr/share/doc/minimap2/test/MT-orang.fa.gz"),
}
COVERAGES = (12.0, 20.0, 30.0)


def learned_vs_bcftools(train_seeds: int = 16, eval_seeds: int = 3) -> dict[str, object]:
    from labstream.instruments.training_sets import evaluation_set, real_reads_sample, training_samples
    from labstream.models.train import evaluate_sets, train

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="labstream-bench-learned-") as tmp:
        base = Path(tmp)
        t = time.perf_counter()
        samples = training_samples([LAMBDA], list(range(101, 101 + train_seeds)), base / "train")
        trained = train(samples, seed=0)
        out["training"] = {
            "samples": len(samples),
            "simulate_align_and_fit_s": round(time.perf_counter() - t, 1),
            "fit_s": round(trained.seconds, 1),
            **trained.params,
        }
        sets = {}
        for name, (simulator, ref) in SETS.items():
            for cov in COVERAGES:
                seeds = list(range(900, 900 + eval_seeds))
                sets[f"{name}_{int(cov)}x"] = evaluation_set(
                    simulator, ref, seeds, [cov], base / f"{name}{cov}"
                )
        sets["real_na12878_chr22_segment"] = [real_reads_sample(base / "real")]
        metrics = evaluate_sets(trained.model, sets)
    table = {}
    for name, m in metrics.items():
        row = {k: m[k] for k in sorted(m)}
        for kind in ("snp", "indel"):
            for what in ("f1", "precision", "recall", "genotype_concordance"):
                row[f"diff_{kind}_{what}"] = round(m[f"{kind}_{what}"] - m[f"bcftools_{kind}_{what}"], 5)
        table[name] = row
    out["sets"] = table
    wins = {
        name: {
            "snp_f1_above_bcftools": r["snp_f1"] > r["bcftools_snp_f1"],
            "indel_f1_above_bcftools": r["indel_f1"] > r["bcftools_indel_f1"] if r["indel_truth"] else None,
            "both_f1_at_least_0.998": r["snp_f1"] >= 0.998
            and (r["indel_f1"] >= 0.998 or not r["indel_truth"]),
        }
        for name, r in table.items()
    }
    out["target"] = "SNP and indel F1 >= 0.998 and strictly above bcftools on both"
    out["verdict"] = wins
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-seeds", type=int, default=16)
    ap.add_argument("--eval-seeds", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(learned_vs_bcftools(args.train_seeds, args.eval_seeds), indent=2))


if __name__ == "__main__":
    main()
