"""Benchmark a call set against a truth set: what hap.py reports at its simplest.

Both VCFs are normalised against the reference first (`bcftools norm -f REF -m-any`: left-aligned, split
to one ALT per record), so the same variant written two ways matches. A call is a true positive when the
same (contig, pos, ref, alt) is in the truth with a non-reference genotype, or (`match="haplotype"`, the
default) when it lies in a cluster of nearby variants whose call haplotypes equal the truth haplotypes
(haplotype_match.py: an event written as other variants, e.g. an insertion + deletion aligned as a run of
SNPs, is one event on each side, not FP + FN). TPs are counted on each side (truth TPs for recall, call
TPs for precision, as vcfeval does). Genotype concordance is the share of truth TPs whose unphased genotype
also agrees, over those whose truth genotype is known (a truth `./1`, as wgsim writes deletions, has no
zygosity to agree with). Records with a FILTER other than PASS/'.' and genotypes without the ALT (0/0,
./.) are ignored. `regions` (BED) restricts both sets to the records whose REF span overlaps it.
`match="allele"` is plain key matching.

Callable regions, GIAB-style: established benchmarks score calls only inside confident regions. Ours are
defined from the reads alone, before any call is looked at: positions where `samtools depth -a` (its
default filters: unmapped, secondary, QC-fail and duplicate reads left out) counts at least `min_depth`
reads. The default 5 was fixed a priori: below it a heterozygous variant has under 81 % chance of 2 ALT
reads (binomial, p = 0.5) and no caller can be expected to find it; GATK's CallableLoci calls < 4 reads
LOW_COVERAGE. The same BED applies to truth and calls, and every caller of the same BAM gets the same one.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pysam

from labstream.core.errors import InputError
from labstream.genomics.call import normalize_vcf
from labstream.genomics.haplotype_match import Matching
from labstream.genomics.haplotype_match import match as match_sets
from labstream.genomics.reference import Reference, check_contigs

Key = tuple[str, int, str, str]


@dataclass
class TypeMetrics:
    type: str
    truth: int
    calls: int
    tp: int
    fp: int
    fn: int
    genotype_match: int
    tp_call: int | None = None  # call-side TPs (None: the same as tp)
    genotype_known: int | None = None  # truth TPs with a known truth genotype (None: tp)

    @property
    def precision(self) -> float:
        tp = self.tp if self.tp_call is None else self.tp_call
        return tp / self.calls if self.calls else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def genotype_concordance(self) -> float:
        known = self.tp if self.genotype_known is None else self.genotype_known
        return self.genotype_match / known if known else 0.0

    def to_dict(self) -> dict[str, float | int | str]:
        d: dict[str, float | int | str] = dict(asdict(self))
        d.update(
            precision=self.precision,
            recall=self.recall,
            f1=self.f1,
            genotype_concordance=self.genotype_concordance,
        )
        return d


def variant_type(ref: str, alt: str) -> str:
    if len(ref) == len(alt):
        return "SNP" if len(ref) == 1 else "MNP"
    return "INDEL"


def read_bed(path: str | Path) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        f = line.split("\t")
        try:
            out.setdefault(f[0], []).append((int(f[1]), int(f[2])))
        except (IndexError, ValueError) as err:
            raise InputError(str(path), f"bad BED line: {line[:60]!r}", record=str(n)) from err
    return out


CALLABLE_MIN_DEPTH = 5
_BAM_HINT = "pass the BAM the calls were made from"


def callable_regions(
    bam: str | Path, out_bed: str | Path, min_depth: int = CALLABLE_MIN_DEPTH, min_mapq: int = 0
) -> Path:
    """BED of the positions with `samtools depth -a` >= `min_depth` (merged runs); written to `out_bed`.
    `min_mapq` > 0 counts only reads placed with at least that mapping quality (`samtools depth -Q`), as
    GATK's CallableLoci does: a segmental duplication, whose reads map with quality 0 to either copy, drops
    out, the way GIAB's stratifications set such regions apart."""
    if not Path(bam).exists():
        raise InputError(str(bam), "BAM does not exist", hint=_BAM_HINT)
    try:
        with pysam.AlignmentFile(str(bam)) as fh:
            aligned_to = fh.references
    except (OSError, ValueError) as err:
        raise InputError(str(bam), f"not a readable BAM ({err})", hint=_BAM_HINT) from err
    if not aligned_to:
        raise InputError(str(bam), "BAM names no reference contig", hint=_BAM_HINT)
    runs: list[tuple[str, int, int]] = []
    for line in pysam.depth("-a", *(["-Q", str(min_mapq)] if min_mapq else []), str(bam)).splitlines():
        contig, pos, depth = line.split("\t")[:3]
        if int(depth) < min_depth:
            continue
        p = int(pos) - 1
        if runs and runs[-1][0] == contig and runs[-1][2] == p:
            runs[-1] = (contig, runs[-1][1], p + 1)
        else:
            runs.append((contig, p, p + 1))
    out = Path(out_bed)
    out.write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in runs))
    return out


def read_support(bam: str | Path, contig: str, pos: int, alt: str) -> tuple[int, int]:
    """(depth, reads showing `alt`) at 1-based `pos` of a SNP, base quality not filtered: to say why it
    was missed."""
    with pysam.AlignmentFile(str(bam)) as fh:
        counts = fh.count_coverage(contig, pos - 1, pos, quality_threshold=0)
    per_base = dict(zip("ACGT", (int(c[0]) for c in counts), strict=True))
    return sum(per_base.values()), per_base.get(alt.upper(), 0)


def ambiguous_reads(bam: str | Path, contig: str, pos: int) -> int:
    """Reads over 1-based `pos` with mapping quality 0 (placed as well elsewhere: a segmental duplication or
    repeat), secondary and supplementary alignments not counted: to say why a variant was missed."""
    with pysam.AlignmentFile(str(bam)) as fh:
        return sum(
            1
            for r in fh.fetch(contig, pos - 1, pos)
            if r.mapping_quality == 0 and not (r.is_secondary or r.is_supplementary or r.is_unmapped)
        )


def _in_regions(
    regions: dict[str, list[tuple[int, int]]] | None, contig: str, pos: int, length: int = 1
) -> bool:
    """Whether the record's REF span (1-based `pos`, `length` bases) overlaps a region, as rtg vcfeval's
    --bed-regions reads records: a call written from a base outside (a deleted base, which samtools depth
    does not count, so callable regions leave it out) that reaches into the region is scored with it."""
    if regions is None:
        return True
    return any(s < pos - 1 + length and pos - 1 < e for s, e in regions.get(contig, ()))


def load_genotypes(
    vcf: str | Path,
    ref: Reference,
    regions: dict[str, list[tuple[int, int]]] | None = None,
    sample: str | None = None,
) -> dict[Key, str]:
    """Normalise then read `{(contig, pos, ref, alt): 'a/b'}` for records carrying the ALT."""
    src = Path(vcf)
    if not src.exists():
        raise InputError(str(src), "VCF does not exist")
    try:
        with pysam.VariantFile(str(src)) as fh:
            check_contigs(
                ref, src, {c: fh.header.contigs[c].length or ref.contigs.get(c, 0) for c in fh.header.contigs}
            )
            genotyped = "GT" in fh.header.formats or not list(fh.header.samples)
    except (OSError, ValueError) as err:
        hint = "pass a VCF or BCF (.vcf, .vcf.gz, .bcf)"
        raise InputError(str(src), f"not a readable VCF: {err}", hint=hint) from err
    if not genotyped:  # e.g. mason_variator's VCF: FORMAT '.' before each genotype, which htslib drops
        raise InputError(
            str(src),
            "has sample columns but no GT in its FORMAT, so no genotype can be read",
            hint="declare ##FORMAT=<ID=GT,...> and write GT in the FORMAT column, or drop the sample columns",
        )
    out: dict[Key, str] = {}
    with tempfile.TemporaryDirectory(prefix="labstream-eval-") as tmp:
        norm = normalize_vcf(ref, src, Path(tmp) / "norm.vcf.gz")
        with pysam.VariantFile(str(norm)) as fh:
            samples = list(fh.header.samples)
            name = sample if sample in samples else (samples[0] if samples else None)
            for rec in fh:
                if set(rec.filter.keys()) - {"PASS"}:
                    continue
                if not rec.alts or not _in_regions(regions, rec.chrom, rec.pos, len(rec.ref)):
                    continue
                gt: tuple[int | None, ...] = rec.samples[name]["GT"] if name else (1, 1)
                if not gt or 1 not in gt:
                    continue
                alleles = sorted(a if a is not None else -1 for a in gt)
                out[(rec.chrom, rec.pos, rec.ref, rec.alts[0])] = "/".join(
                    "." if a < 0 else str(a) for a in alleles
                )
    return out


def _matched(
    ref: Reference, truth_vcf: str | Path, calls_vcf: str | Path, regions_bed: str | Path | None, match: str
) -> tuple[dict[Key, str], dict[Key, str], Matching]:
    if match not in ("haplotype", "allele"):
        raise InputError(match, "unknown matching", hint="use 'haplotype' or 'allele'")
    regions = read_bed(regions_bed) if regions_bed else None
    truth = load_genotypes(truth_vcf, ref, regions)
    calls = load_genotypes(calls_vcf, ref, regions)
    sequences: dict[str, str] = {}
    if match == "haplotype":
        with pysam.FastaFile(str(ref.path)) as fa:
            sequences = {c: fa.fetch(c).upper() for c in {k[0] for k in (*truth, *calls)}}
    return truth, calls, match_sets(truth, calls, sequences)


def mismatches(
    ref: Reference, truth_vcf: str | Path, calls_vcf: str | Path, *, match: str = "haplotype"
) -> dict[str, list[tuple[Key, str]]]:
    """The errors behind `evaluate`'s counts, to look at one by one: {"FP": [(key, called genotype)],
    "FN": [(key, truth genotype)], "GT": [(key, "truth->call")] for matched keys whose genotype differs}."""
    truth, calls, m = _matched(ref, truth_vcf, calls_vcf, None, match)
    return {
        "FP": sorted((k, calls[k]) for k in set(calls) - m.tp_calls),
        "FN": sorted((k, truth[k]) for k in set(truth) - m.tp_truth),
        "GT": sorted(
            (k, f"{truth[k]}->{calls.get(k, '?')}") for k in (m.genotype_known & m.tp_truth) - m.genotype_ok
        ),
    }


def evaluate(
    ref: Reference,
    truth_vcf: str | Path,
    calls_vcf: str | Path,
    regions_bed: str | Path | None = None,
    *,
    match: str = "haplotype",
) -> dict[str, TypeMetrics]:
    """Per-type metrics (SNP, INDEL, and MNP when present) plus 'ALL'."""
    truth, calls, m = _matched(ref, truth_vcf, calls_vcf, regions_bed, match)
    result: dict[str, TypeMetrics] = {}
    types = ["SNP", "INDEL"] + sorted({variant_type(k[2], k[3]) for k in (*truth, *calls)} - {"SNP", "INDEL"})
    for t in [*types, "ALL"]:
        tk = {k for k in truth if t == "ALL" or variant_type(k[2], k[3]) == t}
        ck = {k for k in calls if t == "ALL" or variant_type(k[2], k[3]) == t}
        tp, tp_call = len(tk & m.tp_truth), len(ck & m.tp_calls)
        result[t] = TypeMetrics(
            t,
            len(tk),
            len(ck),
            tp,
            len(ck) - tp_call,
            len(tk) - tp,
            len(tk & m.genotype_ok),
            tp_call,
            len(tk & m.genotype_known),
        )
    return result


def format_table(metrics: dict[str, TypeMetrics]) -> str:
    head = (
        f"{'type':<6} {'truth':>6} {'calls':>6} {'TP':>6} {'FP':>5} {'FN':>5} {'prec':>7} {'recall':>7} "
        f"{'F1':>7} {'GT conc':>7}"
    )
    rows = [head]
    for m in metrics.values():
        rows.append(
            f"{m.type:<6} {m.truth:>6} {m.calls:>6} {m.tp:>6} {m.fp:>5} {m.fn:>5} {m.precision:>7.4f} "
            f"{m.recall:>7.4f} {m.f1:>7.4f} {m.genotype_concordance:>7.4f}"
        )
    return "\n".join(rows)


__all__ = [
    "CALLABLE_MIN_DEPTH",
    "TypeMetrics",
    "ambiguous_reads",
    "callable_regions",
    "evaluate",
    "format_table",
    "load_genotypes",
    "mismatches",
    "read_bed",
    "read_support",
    "variant_type",
]
