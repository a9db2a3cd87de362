"""Benchmark a call set against a truth set: what hap.py reports at its simplest.

Both VCFs are normalised against the reference first (`bcftools norm -f REF -m-any`: left-aligned, split
to one ALT per record), so the same variant written two ways matches. A call is a true positive when the
same (contig, pos, ref, alt) is in the truth with a non-reference genotype; genotype concordance is the
share of true positives whose unphased genotype also agrees. Records with a FILTER other than PASS/'.' and
genotypes without the ALT (0/0, ./.) are ignored. `regions` (BED) restricts both sets.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pysam

from labstream.core.errors import InputError
from labstream.genomics.call import normalize_vcf
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

    @property
    def precision(self) -> float:
        return self.tp / self.calls if self.calls else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def genotype_concordance(self) -> float:
        return self.genotype_match / self.tp if self.tp else 0.0

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


def _in_regions(regions: dict[str, list[tuple[int, int]]] | None, contig: str, pos: int) -> bool:
    if regions is None:
        return True
    return any(s <= pos - 1 < e for s, e in regions.get(contig, ()))


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
    except (OSError, ValueError) as err:
        raise InputError(str(src), f"not a readable VCF: {err}") from err
    out: dict[Key, str] = {}
    with tempfile.TemporaryDirectory(prefix="labstream-eval-") as tmp:
        norm = normalize_vcf(ref, src, Path(tmp) / "norm.vcf.gz")
        with pysam.VariantFile(str(norm)) as fh:
            samples = list(fh.header.samples)
            name = sample if sample in samples else (samples[0] if samples else None)
            for rec in fh:
                if set(rec.filter.keys()) - {"PASS"}:
                    continue
                if not rec.alts or not _in_regions(regions, rec.chrom, rec.pos):
                    continue
                gt: tuple[int | None, ...] = rec.samples[name]["GT"] if name else (1, 1)
                if not gt or 1 not in gt:
                    continue
                alleles = sorted(a if a is not None else -1 for a in gt)
                out[(rec.chrom, rec.pos, rec.ref, rec.alts[0])] = "/".join(
                    "." if a < 0 else str(a) for a in alleles
                )
    return out


def evaluate(
    ref: Reference, truth_vcf: str | Path, calls_vcf: str | Path, regions_bed: str | Path | None = None
) -> dict[str, TypeMetrics]:
    """Per-type metrics (SNP, INDEL, and MNP when present) plus 'ALL'."""
    regions = read_bed(regions_bed) if regions_bed else None
    truth = load_genotypes(truth_vcf, ref, regions)
    calls = load_genotypes(calls_vcf, ref, regions)
    result: dict[str, TypeMetrics] = {}
    types = ["SNP", "INDEL"] + sorted({variant_type(k[2], k[3]) for k in (*truth, *calls)} - {"SNP", "INDEL"})
    for t in [*types, "ALL"]:
        tk = {k for k in truth if t == "ALL" or variant_type(k[2], k[3]) == t}
        ck = {k for k in calls if t == "ALL" or variant_type(k[2], k[3]) == t}
        tp = tk & ck
        result[t] = TypeMetrics(
            t,
            len(tk),
            len(ck),
            len(tp),
            len(ck - tk),
            len(tk - ck),
            sum(1 for k in tp if truth[k] == calls[k]),
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


__all__ = ["TypeMetrics", "evaluate", "format_table", "load_genotypes", "read_bed", "variant_type"]
