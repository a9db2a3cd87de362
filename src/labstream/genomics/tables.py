"""Lake tables of the genomics pipeline and the functions that turn results into their rows.

In the spirit of Glow and BigQuery variant-transforms: one row per (sample, normalised ALT allele), 0-based
half-open `start`/`end` like Glow (`pos = start + 1` in VCF terms), per-sample FORMAT values as columns.

    variants:  contig, start, end, ref, alt, variant_type, qual, filter, gt, dp, ad (list<int32>), gq,
               sample, run, caller, gene, transcript, consequence, protein_change, clnsig, known_id,
               hgvs_c, hgvs_p
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
                ("hgvs_c", pa.string()),
                ("hgvs_p", pa.string()),
                ("model_version", pa.string()),
            ]
        ),
        description="Normalised variant calls, one row per sample and ALT allele, annotated.",
        docs={
            "contig": "reference sequence name, as in the reference FASTA",
            "start": "0-based start of REF on the contig (VCF POS - 1); half-open with `end`",
            "end": "0-based exclusive end of REF (start + len(ref))",
            "ref": "reference allele, left-normalised (bcftools norm)",
            "alt": "the one ALT allele of this row (multi-allelic sites are split)",
            "variant_type": "snp, mnp, indel or other, from ref/alt lengths",
            "qual": "VCF QUAL: phred-scaled probability the site is not variant",
            "filter": "VCF FILTER (PASS or the failed filters)",
            "gt": "genotype as in the VCF (0/1, 1/1, ...)",
            "dp": "read depth at the site (reads), duplicates excluded",
            "ad": "reads supporting REF and each ALT, in VCF order",
            "gq": "genotype quality (phred)",
            "sample": "sample name as given to the pipeline",
            "run": "sequencing run the sample came from ('' when not given)",
            "caller": "the variant caller that made the call",
            "gene": "gene overlapping the variant, from the annotation file ('' when none)",
            "transcript": "transcript used for the consequence",
            "consequence": "predicted consequence (Sequence Ontology term)",
            "protein_change": "protein change in one-letter form (p.K12N) when coding, else ''",
            "clnsig": "clinical significance of the matching known variant (ClinVar-style)",
            "known_id": "identifier of the matching known variant (rsID or similar)",
            "hgvs_c": "HGVS coding change on `transcript` (c.123A>G), from the annotation's CDS; '' outside",
            "hgvs_p": "predicted HGVS protein change, three-letter (p.(Lys41Asn)); '' when not coding",
            "model_version": "the model that made the call, name/version@sha256:digest ('' for bcftools)",
        },
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
        docs={
            "sample": "sample name",
            "run": "sequencing run ('' when not given)",
            "chunk": "FASTQ chunk number, zero-padded; '' for the whole-sample row",
            "reads": "reads after QC and trimming (count)",
            "bases": "bases after trimming (count)",
            "q30_fraction": "fraction of bases with quality >= 30 (0-1)",
            "gc_fraction": "fraction of G+C bases (0-1)",
            "n_fraction": "fraction of N bases (0-1)",
            "mean_length": "mean read length after trimming (bases)",
            "duplication_fraction": (
                "primary reads marked duplicate by samtools markdup / primary reads of the sample's BAM "
                "(= samtools flagstat on it; 0-1); null on chunk rows (no markdup yet)"
            ),
            "pairs_dropped": "read pairs removed by QC (count)",
            "adapter_trimmed": "reads with adapter trimmed (count)",
            "quality_trimmed": "reads with low-quality tails trimmed (count)",
            "mapped_fraction": "fraction of reads aligned to the reference (0-1)",
            "properly_paired_fraction": "fraction of pairs aligned as proper pairs (0-1)",
            "insert_size_mean": "mean insert size of proper pairs (bases)",
            "insert_size_sd": "standard deviation of the insert size (bases)",
            "error_rate": "samtools stats error rate: mismatches per mapped base (cigar)",
        },
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
        docs={
            "sample": "sample name",
            "run": "sequencing run ('' when not given)",
            "contig": "reference sequence name",
            "start": "0-based start of the bin",
            "end": "0-based exclusive end of the bin",
            "mean_depth": "mean depth over the bin (reads)",
            "min_depth": "lowest depth in the bin (reads)",
            "fraction_10x": "fraction of the bin's bases covered by >= 10 reads (0-1)",
        },
    )
)


def variant_rows(
    vcf: str | Path,
    *,
    sample: str,
    run: str,
    caller: str = "bcftools",
    annotator: Annotator | None = None,
    model_version: str = "",
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
                        "hgvs_c": ann.hgvs_c if ann else "",
                        "hgvs_p": ann.hgvs_p if ann else "",
                        "model_version": model_version,
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
    for k in ("q30_fraction", "gc_fraction", "n_fraction", "mean_length"):
        row[k] = float(s[k])
    # duplicates are what markdup marked in the sample's BAM, never a FASTQ estimate: a chunk row (no
    # markdup yet) has none, and a streamed sample's merged counters carry no read digests at all
    row["duplication_fraction"] = None
    if aln is not None:
        row.update(
            duplication_fraction=aln.duplication_fraction,
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


def write_lake(
    lake_url: str,
    tables: dict[str, list[dict[str, Any]]],
    *,
    run: str,
    sample: str,
    lineage_id: str,
    project: str,
) -> dict[str, bool]:
    """Append the sample's tables once: a re-run of the same run and sample writes nothing (txn)."""
    from labstream.lake import open_lake

    lake = open_lake(lake_url)
    app = f"genomics/{run}/{sample}"  # idempotent: a re-run of the same run and sample writes nothing
    return {
        t: lake.append(t, rows, txn=(app, 0), lineage_id=lineage_id, project=project)
        for t, rows in tables.items()
        if rows
    }


__all__ = ["COVERAGE", "READS_QC", "VARIANTS", "coverage_rows", "qc_row", "variant_rows", "write_lake"]
