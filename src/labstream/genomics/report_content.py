"""What the clinical report says, as plain data: QC against thresholds, zygosity, allele fraction, which
calls are variants of interest and by which rule, and the method in words.

Kept apart from the rendering (report.py) so the rules a geneticist reads on the page are the rules the
code applied, testable without HTML, and so a sign-off or an amendment re-renders the same content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labstream.genomics.bam import CoverageBin


@dataclass(frozen=True)
class Threshold:
    """One QC metric's acceptance limit: `op` is '>=' or '<='."""

    metric: str
    label: str
    op: str
    limit: float
    unit: str = ""


# Defaults for a germline small-variant test; an assay passes its own (report.write_report(thresholds=)).
DEFAULT_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold("mean_depth", "Mean depth (duplicates excluded)", ">=", 20, "x"),
    Threshold("fraction_10x", "Bases covered >= 10x", ">=", 0.95, "fraction"),
    Threshold("q30_fraction", "Bases with quality >= Q30", ">=", 0.75, "fraction"),
    Threshold("mapped_fraction", "Reads mapped", ">=", 0.95, "fraction"),
    Threshold("properly_paired_fraction", "Reads properly paired", ">=", 0.90, "fraction"),
    Threshold("duplication_fraction", "Duplicate reads", "<=", 0.30, "fraction"),
    Threshold("error_rate", "Mismatch rate", "<=", 0.02, "per base"),
)

LOSS_OF_FUNCTION = {"frameshift_variant", "stop_gained", "start_lost", "stop_lost"}
PROTEIN_ALTERING = {"missense_variant", "inframe_insertion", "inframe_deletion"}
SIG_WORDS = {
    "pathogenic": "Pathogenic",
    "likely_pathogenic": "Likely pathogenic",
    "uncertain_significance": "Uncertain significance",
    "conflicting_interpretations_of_pathogenicity": "Conflicting interpretations",
    "likely_benign": "Likely benign",
    "benign": "Benign",
}


def depth_summary(bins: list[CoverageBin]) -> dict[str, float]:
    """Length-weighted mean depth and fraction of bases >= 10x over every bin."""
    total = sum(b.end - b.start for b in bins) or 1
    return {
        "mean_depth": sum(b.mean_depth * (b.end - b.start) for b in bins) / total,
        "fraction_10x": sum(b.fraction_10x * (b.end - b.start) for b in bins) / total,
    }


def _fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "fraction":
        return f"{100 * value:.1f} %"
    return f"{value:.4f}"


def qc_against(
    metrics: Mapping[str, Any], thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS, *, paired: bool = True
) -> list[dict[str, str]]:
    """One row per threshold: the value, the limit and PASS / FAIL (or 'not measured', 'n/a')."""
    rows = []
    for t in thresholds:
        value = metrics.get(t.metric)
        limit = f"{t.op} {_fmt(t.limit, t.unit)}"
        if t.metric == "properly_paired_fraction" and not paired:
            rows.append({"label": t.label, "value": "single-end", "limit": limit, "result": "n/a"})
            continue
        if value is None:
            rows.append({"label": t.label, "value": "not measured", "limit": limit, "result": "FAIL"})
            continue
        ok = value >= t.limit if t.op == ">=" else value <= t.limit
        rows.append(
            {
                "label": t.label,
                "value": _fmt(float(value), t.unit),
                "limit": limit,
                "result": "PASS" if ok else "FAIL",
            }
        )
    return rows


def zygosity(gt: str | None) -> str:
    """Genotype in words; a single allele (haploid call) is hemizygous."""
    alleles = [a for a in (gt or "").replace("|", "/").split("/") if a]
    if not alleles or "." in alleles:
        return "not determined"
    if len(alleles) == 1:
        return "hemizygous" if alleles[0] != "0" else "reference"
    if len(set(alleles)) == 1:
        return "homozygous" if alleles[0] != "0" else "reference"
    return "heterozygous"


def allele_fraction(ad: list[int] | None) -> tuple[float | None, str]:
    """(ALT reads / all reads, 'alt/total') from the row's AD [ref, alt] after splitting multi-allelics."""
    if not ad or len(ad) < 2 or sum(ad) == 0:
        return None, "n/a"
    total = sum(ad)
    return ad[1] / total, f"{ad[1]}/{total}"


def classify(v: Mapping[str, Any]) -> tuple[bool, str, str]:
    """(variant of interest?, classification, the rule that decided): a known classification wins; a
    benign known variant is never of interest; an unknown call is of interest only if protein-altering,
    and then it is unclassified, for the reviewer to classify."""
    sig = str(v.get("clnsig") or "").strip().lower().replace(" ", "_")
    kid = str(v.get("known_id") or "").strip(".")
    known = f"known variant {kid}" if kid else "a known-variants file entry"
    csq = str(v.get("consequence") or "")
    if sig:
        words = " / ".join(SIG_WORDS.get(s, s.replace("_", " ")) for s in sig.replace("|", ",").split(","))
        if "benign" in sig and "pathogenic" not in sig:
            return False, words, f"matches {known}, classified {words}"
        return True, words, f"matches {known}, classified {words}"
    if csq in LOSS_OF_FUNCTION:
        return True, "Unclassified (for review)", f"predicted loss of function ({csq}); not a known variant"
    if csq in PROTEIN_ALTERING:
        return True, "Unclassified (for review)", f"protein-altering ({csq}); not a known variant"
    why = csq.replace("_", " ") or "not annotated"
    return False, "Not classified", f"{why}: not protein-altering, not a known variant"


def variant_entry(v: Mapping[str, Any]) -> dict[str, Any]:
    """One call as the report shows it."""
    selected, cls, rule = classify(v)
    af, af_reads = allele_fraction(v.get("ad"))
    return {
        "selected": selected,
        "gene": v.get("gene") or "—",
        "transcript": v.get("transcript") or "",
        "hgvs_c": v.get("hgvs_c") or "",
        "hgvs_p": v.get("hgvs_p") or "",
        "genomic": f"{v['contig']}:{int(v['start']) + 1} {v['ref']}>{v['alt']}",  # VCF position and alleles
        "consequence": str(v.get("consequence") or "").replace("_", " "),
        "zygosity": zygosity(v.get("gt")),
        "af": "n/a" if af is None else f"{af:.2f}",
        "af_reads": af_reads,
        "depth": v.get("dp") if v.get("dp") is not None else "n/a",
        "qual": f"{v['qual']:.0f}" if v.get("qual") is not None else "n/a",
        "filter": v.get("filter") or "PASS",
        "classification": cls,
        "rule": rule,
    }


def method_text(aligner: str, caller: str, versions: Mapping[str, str], annotated: bool) -> list[str]:
    """The method, step by step, naming only the tools this run used, with their versions."""

    def ver(tool: str) -> str:
        return f"{tool} {versions[tool]}" if versions.get(tool) else tool

    align = {
        "minimap2": f"Reads aligned with {ver('minimap2')} (short-read preset -ax sr)",
        "bwa": f"Reads aligned with {ver('bwa')} mem",
    }[aligner]
    call = {
        "bcftools": f"Small variants (SNVs, indels) called with {ver('bcftools')} mpileup and call "
        "(multiallelic caller), region-sharded",
        "freebayes": f"Small variants (SNVs, indels) called with {ver('freebayes')}",
        "learned": f"Candidate variants proposed by {ver('bcftools')} mpileup and call; genotypes decided by "
        f"the learned caller, model {versions.get('model', '(unnamed)')}",
    }[caller]
    steps = [
        "Read QC and adapter/quality trimming (labstream FASTQ QC).",
        f"{align}; sorted, mate information fixed and duplicates marked with {ver('samtools')} "
        "(fixmate, sort, markdup).",
        f"{call}; calls split to one ALT allele and left-normalised with bcftools norm.",
    ]
    steps.append(
        "Annotation by labstream: gene and consequence by codon translation of the annotation's CDS; HGVS "
        "c./p. computed from the same CDS; significance from the known-variants file."
        if annotated
        else "No gene annotation was supplied: variants carry no gene, HGVS or consequence."
    )
    return steps


LIMITATIONS = (
    "Detects single-nucleotide variants and small insertions/deletions only; copy-number changes, "
    "structural variants, repeat expansions and mosaicism below ~20 % allele fraction are not assessed.",
    "Regions below the depth threshold are not reliably assessed; a negative result there is not a "
    "negative result.",
    "HGVS descriptions are computed from the annotation's CDS (no UTR, no transcript database); indels "
    "are shifted 3' within their exon (HGVS 3' rule), not across exon boundaries.",
    "Classifications come only from the known-variants file supplied; other protein-altering calls are "
    "listed unclassified for the reviewer.",
    "Results must be interpreted by a qualified clinical scientist together with the clinical findings.",
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "LIMITATIONS",
    "Threshold",
    "allele_fraction",
    "classify",
    "depth_summary",
    "method_text",
    "qc_against",
    "variant_entry",
    "zygosity",
]
