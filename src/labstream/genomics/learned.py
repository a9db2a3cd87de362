"""The learned caller: bcftools proposes candidates, a trained model decides which are variants and their
genotype (`labstream genomics call --caller learned`).

1 candidates: region shards of `bcftools mpileup -a AD,ADF,ADR,DP,SP | bcftools call -m -v -P 0.99` run in
  parallel, concatenated and normalised exactly as the bcftools caller's are (call.py);
2 features per candidate (learned_features.py), then the model's (none, 0/1, 1/1) probabilities;
3 a VCF keeping the candidates the model calls, with its genotype, QUAL = -10 log10 P(not a variant), GQ,
  INFO/MLP (the probabilities) and a `##labstream_model=name/version@sha256` header line naming the model
  that made every call in the file; bgzipped and indexed under a temporary name, renamed when complete;
  before writing, when `min_qual` is set (off by default), clusters of nearby events that bcftools'
  site-by-site alleles cannot represent take freebayes' haplotypes (learned_haplotypes.py: INFO/HAPREP);
  two ALTs at one site become the genotype 1/2 the per-allele model cannot say (learned_sites.py).
Before 1, reads whose base qualities overstate their errors are called from capped qualities
(quality_calibration.py; the VCF header says what was measured and the cap).
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from labstream.core.errors import InputError
from labstream.genomics.call import call_variants
from labstream.genomics.learned_features import Candidate, candidate_from_record, featurize, motif_context
from labstream.genomics.learned_haplotypes import (
    DEFAULT_MIN_QUAL,
    MIN_QUAL,
    HapCall,
    arbitrate,
    read_haplotype_calls,
)
from labstream.genomics.learned_model import VariantModel
from labstream.genomics.learned_realign import (
    REALIGN_VERSION,
    ReadBank,
    extra_candidates,
    realign_features,
)
from labstream.genomics.learned_sites import site_genotypes
from labstream.genomics.pair_hmm import encode
from labstream.genomics.quality_calibration import Calibration, calibrated_reads
from labstream.genomics.reference import Reference

CANDIDATE_PRIOR = "0.99"  # bcftools call -P: at 0.1, 1-2% of true sites at 12x were never proposed
MODEL_HEADER = "labstream_model"
FBCAND = "Learned caller: proposed by freebayes or by reads' CIGARs, not by bcftools (learned_realign.py)"
HAPREP = (
    "Learned caller: this cluster of calls is freebayes' haplotype representation (learned_haplotypes.py)"
)


def candidate_commands(ref: Reference, bam: Path | None, region: str) -> list[list[str]]:
    where = ["-r", region, str(bam)] if bam is not None else ["-t", region, "-"]
    annotations = "FORMAT/AD,FORMAT/ADF,FORMAT/ADR,FORMAT/DP,FORMAT/SP"
    return [
        ["bcftools", "mpileup", "-f", str(ref.path), "-a", annotations, "-Ou", *where],
        ["bcftools", "call", "-m", "-v", "-P", CANDIDATE_PRIOR, "-f", "GQ", "-Ou"],
    ]


def candidate_matrix(
    cands: list[Candidate],
    sequences: dict[str, str],
    bam: str | Path,
    haplotype: list[HapCall],
    realign_version: int = REALIGN_VERSION,
) -> tuple[list[Candidate], np.ndarray]:
    """bcftools' candidates plus freebayes' alleles and the reads' CIGAR indels it lacks
    (learned_realign.extra_candidates), and their FEATURES matrix: learned_features' columns, then the
    realignment evidence, freebayes' QUAL and genotype, where the candidate came from, and its motif
    context (a model of fewer columns reads its first ones: VariantModel.predict_proba)."""
    bank = ReadBank.from_bam(bam)
    fb = {h.key: h for h in haplotype}
    gaps = bank.gap_keys(sequences)
    from_fb, from_cigar = extra_candidates(
        {c.key for c in cands}, [(h.key, h.genotype) for h in haplotype], gaps
    )
    every = cands + from_fb + from_cigar
    keys = [c.key for c in every]
    ra = realign_features(keys, {c: encode(s) for c, s in sequences.items()}, bank, realign_version, gaps)
    gts = {"0/0": 0.0, "0/1": 1.0, "1/1": 2.0}
    n_bc, n_fb = len(cands), len(cands) + len(from_fb)
    source = [
        [fb[k].qual if k in fb else 0.0, gts[fb[k].genotype] if k in fb else 0.0, float(n_bc <= i < n_fb),
         float(i >= n_fb)]
        for i, k in enumerate(keys)
    ]  # fmt: skip
    context = motif_context(keys, sequences)
    return every, np.hstack([featurize(every, sequences), ra, np.array(source).reshape(-1, 4), context])


def read_candidates(vcf: str | Path) -> list[Candidate]:
    with pysam.VariantFile(str(vcf)) as fh:
        return [candidate_from_record(rec) for rec in fh if rec.alts]


def read_reference(ref: Reference) -> dict[str, str]:
    with pysam.FastaFile(str(ref.path)) as fa:
        return {c: fa.fetch(c).upper() for c in ref.contigs}


def call_candidates(ref: Reference, bam: str | Path, out_vcf: str | Path, *, threads: int = 2) -> Path:
    return call_variants(ref, bam, out_vcf, threads=threads, caller="bcftools-candidates")


@dataclass(frozen=True)
class ModelTag:
    """What names a model in outputs: `name/version@sha256`."""

    name: str
    version: str
    sha256: str

    def __str__(self) -> str:
        return f"{self.name}/{self.version}@sha256:{self.sha256}"


@dataclass(frozen=True)
class LearnedCaller:
    """A model resolved once (at the start of a run) and its tag: every call of the run uses this pair."""

    model: VariantModel
    tag: ModelTag


def pinned_caller(weights: str | Path, sha256: str, tag: str) -> LearnedCaller:
    """The learned caller from a pinned weights file (a run's configuration names the file, its sha256 and
    the tag, resolved from the registry when the run was configured: `labstream models pin`). The bytes are
    checked against the sha256 before anything is loaded (IntegrityError otherwise)."""
    name, _, rest = tag.partition("/")
    version, _, digest = rest.partition("@sha256:")
    if not (name and version and digest == sha256):
        raise InputError(
            tag, "not a model tag matching model_sha256", hint="use `labstream models pin` output"
        )
    model = VariantModel.from_bytes(Path(weights).read_bytes(), sha256, source=str(weights))
    return LearnedCaller(model, ModelTag(name, version, sha256))


def _phred(p: float, cap: float = 99.0) -> float:
    return cap if p <= 10 ** (-cap / 10) else min(cap, -10.0 * math.log10(p))


def write_scored(
    candidates_vcf: Path,
    proba: np.ndarray,
    out_vcf: str | Path,
    tag: ModelTag | None,
    haplotype: list[HapCall] | None = None,
    min_qual: float = MIN_QUAL,
    extra: list[Candidate] = (),  # type: ignore[assignment]
    calibration: Calibration | None = None,
) -> Path:
    """Step 3: the called subset of `candidates_vcf` (then of `extra`, candidates not in that file: the rows
    of `proba` after the file's) with the model's genotypes (clusters re-represented from `haplotype`,
    freebayes' calls, when given: learned_haplotypes.py), bgzipped and indexed."""
    out = Path(out_vcf)
    plain = out.with_name(".tmp-" + out.name.removesuffix(".gz"))
    with pysam.VariantFile(str(candidates_vcf)) as src:
        header = src.header.copy()
        header.add_line(f"##{MODEL_HEADER}={tag if tag else 'untracked'}")
        header.add_line(
            '##INFO=<ID=MLP,Number=3,Type=Float,Description="Learned caller: P(no variant), P(0/1), P(1/1)">'
        )
        header.add_line(f'##INFO=<ID=HAPREP,Number=0,Type=Flag,Description="{HAPREP}">')
        header.add_line(f'##INFO=<ID=FBCAND,Number=0,Type=Flag,Description="{FBCAND}">')
        if haplotype is not None:
            header.add_line(f"##labstream_haplotype_representation=freebayes;min_qual={min_qual:g}")
        if calibration is not None:
            header.add_line(f"##labstream_quality_calibration={calibration.header()}")
        kept = []
        records_in = list(src)
        for rec in records_in:
            rec.translate(header)
        for c in extra:
            contig, pos, ref, alt = c.key
            records_in.append(header.new_record(contig=contig, start=pos - 1, alleles=(ref, alt)))
            records_in[-1].info["FBCAND"] = True
        proposed = [
            tuple(r.samples[0]["GT"]) if r.samples and "FBCAND" not in r.info else None for r in records_in
        ]
        genotypes = site_genotypes([(r.chrom, r.pos, r.ref, r.alts[0]) for r in records_in], proba, proposed)
        for rec, p, gt in zip(records_in, proba, genotypes, strict=True):
            if gt is None:
                continue
            rec.qual = round(_phred(float(p[0])), 2)
            rec.info["MLP"] = tuple(round(float(v), 6) for v in p)
            s = rec.samples[0]
            s["GT"] = gt
            if "GQ" in header.formats:
                # a genotype the two-allele rule set (learned_sites.py) has no class of its own: P(variant)
                mine = int(np.argmax(p)) == sum(gt)
                s["GQ"] = int(_phred(1.0 - float(p[sum(gt)]) if mine else float(p[0])))
            kept.append(rec)
        drop, add = set(), []
        if haplotype is not None:
            drop, add = arbitrate(
                {(r.chrom, r.pos, r.ref, r.alts[0]) for r in kept}, haplotype, min_qual=min_qual
            )
        records = [r for r in kept if (r.chrom, r.pos, r.ref, r.alts[0]) not in drop]
        for h in add:
            contig, pos, ref, alt = h.key
            rec = header.new_record(contig=contig, start=pos - 1, alleles=(ref, alt), qual=round(h.qual, 2))
            rec.info["HAPREP"] = True
            rec.samples[0]["GT"] = (1, 1) if h.genotype == "1/1" else (0, 1)
            records.append(rec)
        order = {c: i for i, c in enumerate(header.contigs)}
        records.sort(key=lambda r: (order.get(r.chrom, len(order)), r.pos, r.ref, r.alts[0]))
        with pysam.VariantFile(str(plain), "w", header=header) as dst:
            for rec in records:
                dst.write(rec)
    try:
        gz = pysam.tabix_index(str(plain), preset="vcf", force=True, keep_original=False)
    except BaseException:
        plain.unlink(missing_ok=True)
        raise
    os.replace(gz + ".tbi", str(out) + ".tbi")
    os.replace(gz, out)
    return out


def score_candidates(
    ref: Reference,
    candidates_vcf: Path,
    model: VariantModel,
    *,
    threads: int | None = None,
    bam: str | Path | None = None,
    haplotype: list[HapCall] | None = None,
) -> tuple[np.ndarray, list[Candidate]]:
    """The model's probabilities for the candidates in the file, then for the extra candidates (returned:
    freebayes' alleles bcftools lacks) when the model reads realignment features (`bam` and `haplotype`
    needed then)."""
    cands, sequences = read_candidates(candidates_vcf), read_reference(ref)
    if not model.realigns:
        return model.predict_proba(featurize(cands, sequences), threads=threads), []
    if bam is None:
        raise InputError(str(candidates_vcf), "this model realigns reads", hint="pass the BAM")
    every, x = candidate_matrix(cands, sequences, bam, haplotype or [], model.realign_version)
    return model.predict_proba(x, threads=threads), every[len(cands) :]


def call_learned(
    ref: Reference,
    bam: str | Path,
    out_vcf: str | Path,
    model: VariantModel,
    tag: ModelTag | None,
    *,
    threads: int = 2,
    min_qual: float | None = DEFAULT_MIN_QUAL,
    model_threads: int | None = None,
) -> Path:
    """Candidates, features, model, clusters re-represented by freebayes (`min_qual`: its QUAL threshold;
    None, the default: not), scored
    VCF: `out_vcf` (.vcf.gz) and its .tbi appear when complete. `threads`: bcftools' region shards and
    freebayes' workers, and the model's OpenMP threads unless `model_threads` says otherwise."""
    out = Path(out_vcf)
    if not out.name.endswith(".vcf.gz"):
        raise InputError(str(out), "the learned caller writes bgzipped VCF", hint="name it *.vcf.gz")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".learned-", dir=out.parent) as scratch:
        bam, calibration = calibrated_reads(ref, bam, scratch)  # overstated qualities: capped ones
        cand = call_candidates(ref, bam, Path(scratch) / "candidates.vcf.gz", threads=threads)
        haplotype = None
        if min_qual is not None or model.realigns:
            fb = call_variants(
                ref, bam, Path(scratch) / "freebayes.vcf.gz", threads=threads, caller="freebayes"
            )
            haplotype = read_haplotype_calls(fb, uncalled=True)
        proba, extra = score_candidates(
            ref,
            cand,
            model,
            threads=threads if model_threads is None else model_threads,
            bam=bam,
            haplotype=haplotype,
        )
        return write_scored(
            cand,
            proba,
            out,
            tag,
            haplotype if min_qual is not None else None,
            min_qual if min_qual is not None else MIN_QUAL,
            extra,
            calibration,
        )


__all__ = [
    "CANDIDATE_PRIOR",
    "LearnedCaller",
    "MODEL_HEADER",
    "ModelTag",
    "call_candidates",
    "call_learned",
    "candidate_matrix",
    "candidate_commands",
    "pinned_caller",
    "read_candidates",
    "read_reference",
    "score_candidates",
    "write_scored",
]
