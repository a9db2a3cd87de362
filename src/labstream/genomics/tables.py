"""Lake tables of the genomics pipeline and the functions that turn results into their rows.

In the spirit of Glow and BigQuery variant-transforms: one row per (sample, normalised ALT allele), 0-based
half-open `start`/`end` like Glow (`pos = start + 1` in VCF terms), per-sample FORMAT values as columns.

    variants:  contig, start, end, ref, alt, variant_type, qual, filter, gt, dp, ad (list<int32>), gq,
               sample, run, caller, gene, transcript, consequence, protein_change, clnsig, known_id
    reads_qc:  sample, run, chunk, reads, bases, q30_fraction, gc_fraction, n_fraction, mean_length,
               duplication_fraction, pairs_dropped, adapter_trimmed, quality_trimmed, mapped_fraction,
               properly_paired_fraction, insert_size_mean, insert_size_sd, error_rate
    coverage:  sample, run, contig, start, end, mean_depth, min_depth, fraction_10x

Every table also has the platform columns lineage_id, project and _ingested_at (labstream.lake).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pysam

from labstream.genomics.annotate import Annotator
from labstream.genomics.bam import AlignmentStats, CoverageBin
from labstream.genomics.evaluate import variant_type
from labstream.genomics.qc import QCStats
from labstream.lake import TableSchema, register_schema

VARIANTS = register_schema(
    TableSchema(
        "variants",
        pa.schema(
            [
                ("contig", pa.string()),
                ("start", pa.int64()),
                ("end", pa.int64()),
                ("ref", pa.string()),
                ("alt", pa.string()),
                ("variant_type", pa.string()),
                ("qual", pa.float64()),
                ("filter", pa.string()),
                ("gt", pa.string()),
                ("dp", pa.int32()),
                ("ad", pa.list_(pa.int32())),
                ("gq", pa.int32()),
                ("sample", pa.string()),
                ("run", pa.string()),
                ("caller", pa.string()),
                ("gene", pa.string()),
                ("transcript", pa.string()),
                ("consequence", pa.string()),
                ("protein_change", pa.string()),
                ("clnsig", pa.string()),
                ("known_id", pa.string()),
            ]
        ),
        description="Normalised variant calls, one row per sample and ALT allele, annotated.",
    )
)

READS_QC = register_schema(
    TableSchema(
        "reads_qc",
        pa.schema(
            [
                ("sample", pa.string()),
                ("run", pa.string()),
                ("chunk", pa.string()),
                ("reads", pa.int64()),
                ("bases", pa.int64()),
                ("q30_fraction", pa.float64()),
                ("gc_fraction", pa.float64()),
                ("n_fraction", pa.float64()),
                ("mean_length", pa.float64()),
                ("duplication_fraction", pa.float64()),
                ("pairs_dropped", pa.int64()),
                ("adapter_trimmed", pa.int64()),
                ("quality_trimmed", pa.int64()),
                ("mapped_fraction", pa.float64()),
                ("properly_paired_fraction", pa.float64()),
                ("insert_size_mean", pa.float64()),
                ("insert_size_sd", pa.float64()),
                ("error_rate", pa.float64()),
            ]
        ),
        description="Read QC per sample (chunk '' = whole sample) or per FASTQ chunk.",
    )
)

COVERAGE = register_schema(
    TableSchema(
        "coverage",
        pa.schema(
            [
                ("sample", pa.string()),
                ("run", pa.string()),
                ("contig", pa.string()),
                ("start", pa.int64()),
                ("end", pa.int64()),
                ("mean_depth", pa.float64()),
                ("min_depth", pa.int32()),
                ("fraction_10x", pa.float64()),
            ]
        ),
        description="Binned read depth (duplicates excluded) per sample.",
    )
)


def variant_rows(
    vcf: str | Path, *, sample: str, run: str, caller: str = "bcftools", annotator: Annotator | None = None
) -> list[dict[str, Any]]:
    """Rows of the `variants` table from a normalised VCF (one ALT per record)."""
    rows: list[dict[str, Any]] = []
    with pysam.VariantFile(str(vcf)) as fh:
        name = sample if sample in fh.header.samples else (list(fh.header.samples) or [None])[0]
        for rec in fh:
            s = rec.samples[name] if name else None
            for alt in rec.alts or ():
                gt = s.get("GT") if s is not None else None
                ad = s.get("AD") if s is not None and "AD" in rec.format else None
                ann = annotator.annotate(rec.chrom, rec.pos, rec.ref, alt) if annotator else None
                rows.append(
                    {
                        "contig": rec.chrom,
                        "start": rec.start,
                        "end": rec.stop,
                        "ref": rec.ref,
                        "alt": alt,
                        "variant_type": variant_type(rec.ref, alt),
                        "qual": rec.qual,
                        "filter": ";".join(rec.filter.keys()) or "PASS",
                        "gt": "/".join("." if a is None else str(a) for a in gt) if gt else None,
                        "dp": s.get("DP") if s is not None and "DP" in rec.format else None,
                        "ad": [a for a in ad if a is not None] if ad else None,
                        "gq": s.get("GQ") if s is not None and "GQ" in rec.format else None,
                        "sample": sample,
                        "run": run,
                        "caller": caller,
                        "gene": ann.gene if ann else "",
                        "transcript": ann.transcript if ann else "",
                        "consequence": ann.consequence if ann else "",
                        "protein_change": ann.protein_change if ann else "",
                        "clnsig": ann.clnsig if ann else "",
                        "known_id": ann.known_id if ann else "",
                    }
                )
    return rows


def qc_row(
    qc: QCStats, aln: AlignmentStats | None, *, sample: str, run: str, chunk: str = ""
) -> dict[str, Any]:
    s = qc.summary()
    row: dict[str, Any] = {"sample": sample, "run": run, "chunk": chunk}
    for k in ("reads", "bases", "pairs_dropped", "adapter_trimmed", "quality_trimmed"):
        row[k] = int(s[k])
    for k in ("q30_fraction", "gc_fraction", "n_fraction", "mean_length", "duplication_fraction"):
        row[k] = float(s[k])
    if aln is not None:
        row.update(
            mapped_fraction=aln.mapped_fraction,
            properly_paired_fraction=aln.properly_paired / max(aln.reads, 1),
            insert_size_mean=aln.insert_size_mean,
            insert_size_sd=aln.insert_size_sd,
            error_rate=aln.error_rate,
        )
    return row


def coverage_rows(bins: list[CoverageBin], *, sample: str, run: str) -> list[dict[str, Any]]:
    return [
        {
            "sample": sample,
            "run": run,
            "contig": b.contig,
            "start": b.start,
            "end": b.end,
            "mean_depth": b.mean_depth,
            "min_depth": b.min_depth,
            "fraction_10x": b.fraction_10x,
        }
        for b in bins
    ]


__all__ = ["COVERAGE", "READS_QC", "VARIANTS", "coverage_rows", "qc_row", "variant_rows"]
