"""The clinical report of a nanopore sample under an assay: the short-read report (report.py) with what
differs for long reads said on the page.

    write_nanopore_report(out.report.html, sample=..., run=..., ref=ref, bam=..., vcf=..., assay=assay)

Same page, same rules (report_content.py): the assay's build, reference checksum and files, calls limited
to its targets, genes and HGVS from its annotation, classification from its known variants, QC against
its thresholds. What differs:
- Method: MinKNOW basecalling and qscore filter, `minimap2 -ax map-ont`, no duplicate marking, SNVs by
  bcftools' ONT profile.
- Limitations: the SNV-only limitation (nanopore.LIMITATIONS) comes first and replaces the short-read
  "SNVs and small indels" line; a negative result says nothing about indels.
- QC: only the thresholds that measure long reads are applied (depth, breadth, mapped fraction). Q30,
  duplicates, mismatch rate and pairing are short-read measures: ONT qualities and a ~5% error rate would
  fail them for every run. The page names the ones left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labstream.genomics.annotate import Annotator
from labstream.genomics.assay import Assay, report_fields, reportable, target_depth
from labstream.genomics.bam import alignment_stats, coverage_bins
from labstream.genomics.nanopore import CALLER, LIMITATIONS
from labstream.genomics.reference import Reference
from labstream.genomics.report import build_model, tool_versions, write_html
from labstream.genomics.report_content import LIMITATIONS as SHORT_READ_LIMITATIONS
from labstream.genomics.report_content import method_text
from labstream.genomics.tables import variant_rows

LONG_READ_METRICS = ("mean_depth", "fraction_10x", "mapped_fraction")
TOOLS = ("minimap2", "samtools", "bcftools")


def nanopore_method(versions: dict[str, str], annotated: bool) -> list[str]:
    """The method, step by step, for the nanopore chain (the annotation step worded as the short-read one)."""
    v = {t: f"{t} {versions[t]}" if versions.get(t) else t for t in TOOLS}
    return [
        "Reads basecalled and demultiplexed by MinKNOW; only reads that passed its qscore filter are used, "
        "untrimmed.",
        f"Reads aligned with {v['minimap2']} (long-read preset -ax map-ont) and sorted with {v['samtools']}; "
        "no duplicate marking (PCR-free single-end long reads).",
        f"Single-nucleotide variants called with {v['bcftools']} mpileup -X ont and call -m; indels are not "
        "called; calls split to one ALT allele and left-normalised with bcftools norm.",
        method_text("minimap2", "bcftools", versions, annotated)[-1],
    ]


def write_nanopore_report(
    path: str | Path,
    *,
    sample: str,
    run: str,
    ref: Reference,
    bam: Path,
    vcf: Path,
    assay: Assay,
    timings: dict[str, float],
    lineage_id: str = "",
    project: str = "",
) -> tuple[Path, list[dict[str, Any]]]:
    """The report page and the calls it reports (annotated, inside the assay's targets)."""
    annotation = assay.annotation.path if assay.annotation else None
    known = assay.known.path if assay.known else None
    annotator = Annotator(ref, annotation, known) if (annotation or known) else None
    rows = variant_rows(vcf, sample=sample, run=run, caller=CALLER, annotator=annotator)
    regions = assay.regions()
    reported, outside = reportable(rows, regions)
    fields = report_fields(assay, outside)
    kept = tuple(t for t in assay.thresholds if t.metric in LONG_READ_METRICS)
    left_out = ", ".join(t.label for t in assay.thresholds if t.metric not in LONG_READ_METRICS)
    fields["thresholds"] = kept
    fields["extra_limitations"] = (
        *fields["extra_limitations"],
        f"Short-read QC measures of the assay are not applied to nanopore reads: {left_out}.",
    )
    versions = tool_versions(TOOLS)
    aln = alignment_stats(bam)
    model = build_model(
        sample=sample,
        run=run,
        reference=str(ref.path),
        qc={"qc_status": "PASS", "mapped_fraction": aln.mapped_fraction},
        bins=coverage_bins(bam, ref),
        variants=reported,
        timings=timings,
        versions=versions,
        lineage={"lineage_id": lineage_id, "run": run, "bam": str(bam), "vcf": str(vcf)},
        project=project,
        paired=False,
        depth=target_depth(bam, regions) if regions else None,
        method=nanopore_method(versions, annotated=any(r.get("transcript") for r in reported)),
        base_limitations=(LIMITATIONS, *SHORT_READ_LIMITATIONS[1:]),
        **fields,
    )
    model["scope"] = "single-nucleotide variants only (nanopore long reads)"  # the page's subtitle
    return write_html(path, model), reported


__all__ = ["LONG_READ_METRICS", "nanopore_method", "write_nanopore_report"]
