"""Scores of bench/genomics_learned.py: pooling sets' counts, the verdict against the target, freebayes alone
and another recipe on the same BAMs, why a SNP was missed."""

from __future__ import annotations

import tempfile
from pathlib import Path

CALLABLE_DEPTH = 5  # evaluate.CALLABLE_MIN_DEPTH, fixed a priori (see its docstring)
MAPPABLE_MAPQ = 1  # the mappable_ stratum: reads placed with mapping quality >= 1 count (session 10)
KINDS = ("snp", "indel")


def pool(rows: list[dict[str, float]], prefix: str = "") -> dict[str, float]:
    """Pooled P/R/F1/genotype concordance from the counts of several sets' rows."""
    out: dict[str, float] = {}
    for k in KINDS:
        truth, calls, fp, fn, gm, gk = (
            sum(r[f"{prefix}{k}_{f}"] for r in rows)
            for f in ("truth", "calls", "fp", "fn", "genotype_match", "genotype_known")
        )
        p = (calls - fp) / calls if calls else 0.0
        r = (truth - fn) / truth if truth else 0.0
        out |= {
            f"{prefix}{k}_f1": round(2 * p * r / (p + r) if p + r else 0.0, 5),
            f"{prefix}{k}_precision": round(p, 5),
            f"{prefix}{k}_recall": round(r, 5),
            f"{prefix}{k}_genotype_concordance": round(gm / gk if gk else 0.0, 5),
            f"{prefix}{k}_truth": truth,
            f"{prefix}{k}_calls": calls,
            f"{prefix}{k}_fp": fp,
            f"{prefix}{k}_fn": fn,
            f"{prefix}{k}_genotype_match": gm,
            f"{prefix}{k}_genotype_known": gk,
        }
    return out


def is_indel(error: dict[str, object]) -> bool:
    key = error["key"]
    return len(key[2]) != len(key[3])  # type: ignore[index]


def freebayes_alone(sets) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """freebayes (the haplotype caller the learned caller borrows cluster representations from) on the same
    BAMs, for context: SNP/indel F1 per set, on all sites and (prefix callable_) in the callable regions."""
    from labstream.genomics.call import call_variants
    from labstream.genomics.evaluate import callable_regions, evaluate
    from labstream.models.train import summarize

    out = {}
    keys = ("snp_f1", "indel_f1", "snp_fp", "snp_fn", "indel_fp", "indel_fn")
    with tempfile.TemporaryDirectory(prefix="labstream-bench-fb-") as tmp:
        for name, samples in sets.items():
            per, per_c = [], []
            for i, s in enumerate(samples):
                vcf = call_variants(s.reference, s.bam, Path(tmp) / f"{name}-{i}.vcf.gz", caller="freebayes")
                per.append(evaluate(s.reference, s.truth_vcf, vcf))
                bed = callable_regions(s.bam, Path(tmp) / f"{name}-{i}.bed", CALLABLE_DEPTH)
                per_c.append(evaluate(s.reference, s.truth_vcf, vcf, bed))
            m, mc = summarize(per), summarize(per_c, "callable_")
            out[name] = {k: m[k] for k in keys} | {f"callable_{k}": mc[f"callable_{k}"] for k in keys}
    return out


def miss_cause(e: dict[str, object]) -> str:
    """Why a SNP was missed, from the reads alone: uncovered (depth < 5, outside the callable regions), low
    support (<= 2 ALT reads or ALT fraction < 0.2), else the model / representation; `near end`: within
    wgsim's default fragment length (500) of the contig's end, where wgsim's pairs thin out; `ambiguous
    mapping`: half the reads or more have mapping quality 0 (a segmental duplication: both copies' reads
    pile up on each, so a 1/1 looks like 0/1 and a 0/1 like noise)."""
    depth, alt = int(e["depth"]), int(e["alt_reads"])  # type: ignore[call-overload]
    cause = (
        "uncovered"
        if depth < CALLABLE_DEPTH
        else ("low support" if alt <= 2 or alt < 0.2 * depth else "other")
    )
    if depth and 2 * int(e.get("mapq0_reads", 0)) >= depth:  # type: ignore[call-overload]
        cause += ", ambiguous mapping"
    return cause + (", near end" if int(e["from_end"]) < 500 else "")  # type: ignore[call-overload]


def compare_recipe(model, sets, threads: int, min_qual: float | None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Another recipe's model on the evaluation sets: its F1, FP/FN (all sites and callable) and verdict."""
    from labstream.models.train import evaluate_sets

    per = evaluate_sets(model, sets, model_threads=threads, min_qual=min_qual, callable_depth=CALLABLE_DEPTH)
    keys = [f"{p}{b}{k}_{w}" for p in ("", "callable_") for b in ("", "bcftools_") for k in KINDS
            for w in ("f1", "fp", "fn", "truth")]  # fmt: skip
    return {
        "sets": {n: {k: m[k] for k in keys} for n, m in per.items()},
        "verdict": {n: verdict(m) for n, m in per.items()},
    }


def verdict(r: dict[str, float], p: str = "") -> dict[str, bool | None]:
    return {
        "snp_f1_above_bcftools": r[f"{p}snp_f1"] > r[f"{p}bcftools_snp_f1"],
        "indel_f1_above_bcftools": r[f"{p}indel_f1"] > r[f"{p}bcftools_indel_f1"]
        if r[f"{p}indel_truth"]
        else None,
        "both_f1_at_least_0.998": r[f"{p}snp_f1"] >= 0.998
        and (r[f"{p}indel_f1"] >= 0.998 or not r[f"{p}indel_truth"]),
    }
