"""Train the learned variant caller on samples with a truth set and measure it beside bcftools.

A `Sample` is a reference, an indexed BAM, its truth VCF and a lineage dict (simulator, seed, coverage,
reference sha256) that the registry keeps as the version's training-data lineage. `train` pools candidate
features of the training samples and fits the model; `evaluate_sets` calls every sample of each named
evaluation set with the model and with bcftools (the default caller, same BAM) and pools TP/FP/FN per
type, so each set's metrics carry both callers' numbers.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labstream.genomics.call import call_variants
from labstream.genomics.evaluate import TypeMetrics, evaluate, load_genotypes
from labstream.genomics.haplotype_match import match
from labstream.genomics.learned import (
    call_candidates,
    call_learned,
    candidate_matrix,
    read_candidates,
    read_reference,
)
from labstream.genomics.learned_features import FEATURES, labels
from labstream.genomics.learned_haplotypes import DEFAULT_MIN_QUAL, read_haplotype_calls
from labstream.genomics.learned_model import VariantModel, output_digest
from labstream.genomics.learned_realign import REALIGN_VERSION
from labstream.genomics.quality_calibration import calibrated_reads
from labstream.genomics.reference import Reference
from labstream.models.flavors import array_bytes


@dataclass(frozen=True)
class Sample:
    reference: Reference
    bam: Path
    truth_vcf: Path
    lineage: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trained:
    model: VariantModel
    weights: bytes
    test_input: bytes
    test_output_sha256: str
    training_data: list[dict[str, Any]]
    params: dict[str, Any]
    seconds: float


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sample_features(
    s: Sample, scratch: Path, threads: int = 2, realign_version: int = REALIGN_VERSION
) -> tuple[np.ndarray, np.ndarray]:
    """A training sample's candidates, featurized from the reads the caller would read (calibrated_reads)
    with the realignment evidence of `realign_version` (learned_realign.REALIGN_VERSION)."""
    bam, _calibration = calibrated_reads(s.reference, s.bam, scratch)
    cand = call_candidates(s.reference, bam, scratch / f"cand-{abs(hash(s.bam))}.vcf.gz", threads=threads)
    fb = call_variants(s.reference, bam, scratch / f"fb-{abs(hash(s.bam))}.vcf.gz", threads=threads,
                       caller="freebayes")  # fmt: skip
    sequences = read_reference(s.reference)
    bcftools = read_candidates(cand)
    fb_calls = read_haplotype_calls(fb, uncalled=True)
    cands, x = candidate_matrix(bcftools, sequences, bam, fb_calls, realign_version)
    truth = load_genotypes(s.truth_vcf, s.reference)
    proposed = {c.key: "1/1" if c.called_hom else "0/1" for c in cands}
    # bcftools' candidates are labelled as they always were (another representation of truth events among
    # bcftools' own), the extra candidates by the match over every candidate
    first = dict(list(proposed.items())[: len(bcftools)])
    extra = set(proposed) - set(first)
    equivalent = (match(truth, first, sequences).tp_calls - set(truth)) | (
        (match(truth, proposed, sequences).tp_calls - set(truth)) & extra
    )
    return x, labels(cands, truth, equivalent)


def features_of(
    samples: list[Sample], threads: int = 2, realign_version: int = REALIGN_VERSION
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) per sample: what `train` fits; computed once when several fits share them."""
    with tempfile.TemporaryDirectory(prefix="labstream-train-") as tmp:
        return [sample_features(s, Path(tmp), threads, realign_version) for s in samples]


def train(
    samples: list[Sample],
    *,
    seed: int = 0,
    max_iter: int = 300,
    threads: int = 2,
    parts: list[tuple[np.ndarray, np.ndarray]] | None = None,
    model_threads: int | None = None,
    features: tuple[str, ...] = FEATURES,
    realign_version: int = REALIGN_VERSION,
) -> Trained:
    """Fit on `samples` (their `parts` from `features_of` when already computed, in the same order and of
    the same `realign_version`, which the model keeps and calls with).
    `threads`: bcftools' shards for the features, and the fit's OpenMP threads unless `model_threads`.
    `features`: one of learned_features.FEATURE_SETS; the model reads the first len(features) columns."""
    t0 = time.perf_counter()
    if parts is None:
        parts = features_of(samples, threads, realign_version)
    x = np.vstack([p[0][:, : len(features)] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    model = VariantModel.fit(
        x, y, seed=seed, max_iter=max_iter, threads=threads if model_threads is None else model_threads
    )
    model.realign_version = realign_version
    test = x[np.random.default_rng(seed).choice(len(x), size=min(64, len(x)), replace=False)]
    params = {
        "seed": seed,
        "max_iter": max_iter,
        "realign_version": realign_version,
        "rows": int(len(x)),
        "classes": np.bincount(y, minlength=3).tolist(),
    }
    return Trained(
        model=model,
        weights=model.to_bytes(),
        test_input=array_bytes(test),
        test_output_sha256=output_digest(model.predict_proba(test)),
        training_data=[s.lineage for s in samples],
        params=params,
        seconds=time.perf_counter() - t0,
    )


def pooled(per_sample: list[dict[str, TypeMetrics]], kind: str) -> TypeMetrics:
    m = [d[kind] for d in per_sample]
    fields = ("truth", "calls", "tp", "fp", "fn", "genotype_match")
    total = TypeMetrics(kind, *(sum(getattr(x, f) for x in m) for f in fields))
    total.tp_call = sum(x.tp if x.tp_call is None else x.tp_call for x in m)
    total.genotype_known = sum(x.tp if x.genotype_known is None else x.genotype_known for x in m)
    return total


def summarize(per_sample: list[dict[str, TypeMetrics]], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for kind in ("SNP", "INDEL"):
        t = pooled(per_sample, kind)
        k = kind.lower()
        out |= {
            f"{prefix}{k}_f1": round(t.f1, 5),
            f"{prefix}{k}_precision": round(t.precision, 5),
            f"{prefix}{k}_recall": round(t.recall, 5),
            f"{prefix}{k}_genotype_concordance": round(t.genotype_concordance, 5),
            f"{prefix}{k}_truth": t.truth,
            f"{prefix}{k}_calls": t.calls,
            f"{prefix}{k}_fp": t.fp,
            f"{prefix}{k}_fn": t.fn,
            f"{prefix}{k}_genotype_match": t.genotype_match,
            f"{prefix}{k}_genotype_known": t.genotype_known or 0,
        }
    return out


def _snp_support(s: Sample, key: tuple[str, int, str, str]) -> dict[str, int]:
    from labstream.genomics.evaluate import ambiguous_reads, read_support

    depth, alt = read_support(s.bam, key[0], key[1], key[3])
    return {
        "depth": depth,
        "alt_reads": alt,
        "mapq0_reads": ambiguous_reads(s.bam, key[0], key[1]),
        "from_end": min(key[1] - 1, s.reference.contigs[key[0]] - key[1]),
    }


def evaluate_sets(
    model: VariantModel,
    sets: dict[str, list[Sample]],
    *,
    threads: int = 2,
    tag: Any = None,
    errors: dict[str, list[dict[str, Any]]] | None = None,
    min_qual: float | None = DEFAULT_MIN_QUAL,
    callable_depth: int | None = None,
    model_threads: int | None = None,
    mappable_mapq: int | None = None,
) -> dict[str, dict[str, float]]:
    """Per named set: the learned caller's pooled metrics, bcftools' (prefix `bcftools_`), and each
    caller's seconds per megabase of reference (learned: candidates + features + model; bcftools: its
    call, normalisation and index; `min_qual`: learned.call_learned's), both on the same BAMs in the same
    process, one after the other.
    `errors`, when given, receives per set every FP/FN/genotype error of both callers (`mismatches`; a
    missed SNP also carries its depth, ALT reads and distance to the contig's end). `callable_depth` adds
    the same metrics inside each BAM's callable regions (evaluate.callable_regions; prefix `callable_`), and
    `mappable_mapq` (with it) inside the regions callable from reads of at least that mapping quality (prefix
    `mappable_`: segmental duplications and other ambiguous placements left out)."""
    from labstream.genomics.evaluate import callable_regions, mismatches

    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="labstream-eval-") as tmp:
        for name, samples in sets.items():
            ours, theirs, seconds, base_seconds, bases = [], [], 0.0, 0.0, 0
            ours_c: list[dict[str, TypeMetrics]] = []
            theirs_c: list[dict[str, TypeMetrics]] = []
            ours_m: list[dict[str, TypeMetrics]] = []
            theirs_m: list[dict[str, TypeMetrics]] = []
            for i, s in enumerate(samples):
                d = Path(tmp) / f"{name}-{i}"
                d.mkdir(parents=True)
                t = time.perf_counter()
                vcf = call_learned(
                    s.reference,
                    s.bam,
                    d / "learned.vcf.gz",
                    model,
                    tag,
                    threads=threads,
                    min_qual=min_qual,
                    model_threads=model_threads,
                )
                seconds += time.perf_counter() - t
                bases += sum(s.reference.contigs.values())
                t = time.perf_counter()
                base = call_variants(s.reference, s.bam, d / "bcftools.vcf.gz", threads=threads)
                base_seconds += time.perf_counter() - t
                ours.append(evaluate(s.reference, s.truth_vcf, vcf))
                theirs.append(evaluate(s.reference, s.truth_vcf, base))
                if callable_depth is not None:
                    bed = callable_regions(s.bam, d / "callable.bed", callable_depth)
                    ours_c.append(evaluate(s.reference, s.truth_vcf, vcf, bed))
                    theirs_c.append(evaluate(s.reference, s.truth_vcf, base, bed))
                if callable_depth is not None and mappable_mapq:
                    bed = callable_regions(s.bam, d / "mappable.bed", callable_depth, mappable_mapq)
                    ours_m.append(evaluate(s.reference, s.truth_vcf, vcf, bed))
                    theirs_m.append(evaluate(s.reference, s.truth_vcf, base, bed))
                if errors is not None:
                    for caller, calls in (("learned", vcf), ("bcftools", base)):
                        for what, items in mismatches(s.reference, s.truth_vcf, calls).items():
                            errors.setdefault(name, []).extend(
                                {"sample": i, "seed": s.lineage.get("seed"), "caller": caller}
                                | {"error": what, "key": list(k), "gt": gt}
                                | (_snp_support(s, k) if what == "FN" and len(k[2]) == len(k[3]) == 1 else {})
                                for k, gt in items
                            )
            out[name] = (
                summarize(ours)
                | summarize(theirs, "bcftools_")
                | {
                    "samples": len(samples),
                    "seconds_per_mb": round(seconds / max(bases, 1) * 1e6, 3),
                    "bcftools_seconds_per_mb": round(base_seconds / max(bases, 1) * 1e6, 3),
                }
            )
            if callable_depth is not None:
                out[name] |= summarize(ours_c, "callable_") | summarize(theirs_c, "callable_bcftools_")
            if ours_m:
                out[name] |= summarize(ours_m, "mappable_") | summarize(theirs_m, "mappable_bcftools_")
    return out


__all__ = [
    "Sample",
    "Trained",
    "evaluate_sets",
    "features_of",
    "file_sha256",
    "pooled",
    "summarize",
    "train",
]
