"""The nanopore pipeline's contract.

    labstream watch RUNS_DIR --pipeline nanopore --config nanopore.toml      # reference = "ref.fa"

RUNS_DIR holds MinKNOW run folders (fastq_pass/barcodeNN/ or bam_pass/barcodeNN/ batches, final_summary_*.txt
at the end, optionally MinKNOW's sample_sheet_*.csv naming barcodes by alias): see
genomics/nanopore_stages.py and genomics/nanopore_run.py.
"""

from __future__ import annotations

from pydantic import Field, FilePath

from labstream.genomics.interim_calls import REFRESH_GROWTH, VARIANTS_INTERIM
from labstream.genomics.nanopore import MIN_MEAN_DEPTH
from labstream.genomics.nanopore_run import ONT_RUNS
from labstream.genomics.nanopore_stages import nanopore_pipeline
from labstream.genomics.tables import VARIANTS
from labstream.runtime.contract import Faces, PipelineContract, PipelineSettings, Summary
from labstream.runtime.stage import Pipeline

__all__ = ["CONTRACT", "NanoporeSettings"]


class NanoporeSettings(PipelineSettings):
    reference: FilePath = Field(description="reference FASTA (indexed or indexable)", examples=["ref.fa"])
    threads: int = Field(2, ge=1, le=256, description="threads per alignment / calling task")
    min_depth: float = Field(
        MIN_MEAN_DEPTH, ge=0, description="mean depth a barcode needs, or it fails QC (x)"
    )
    refresh_growth: float = Field(
        REFRESH_GROWTH, ge=0, description="interim calls when a barcode's batches grew by this fraction"
    )


def build(settings: NanoporeSettings, input_topic: str) -> Pipeline:
    return nanopore_pipeline(
        settings.reference,
        threads=settings.threads,
        input_topic=input_topic,
        refresh_growth=settings.refresh_growth,
        min_depth=settings.min_depth,
    )


CONTRACT = PipelineContract(
    name="nanopore",
    summary="MinKNOW runs (FASTQ or unaligned BAM batches per barcode) -> minimap2 map-ont, interim and "
    "final SNV calls",
    settings=NanoporeSettings,
    layouts=("minknow-fastq", "minknow-bam", "minknow-run"),
    tables=(VARIANTS, VARIANTS_INTERIM, ONT_RUNS),
    build=build,
    faces=Faces(
        summaries=(
            Summary(
                "variants per sample",
                "SELECT sample, count(*) AS variants FROM variants GROUP BY sample ORDER BY sample",
            ),
            Summary(
                "MinKNOW runs (unclassified and failed reads are ignored, not errors)",
                "SELECT run, samples, not_in_sheet, missing, unclassified_files_ignored AS unclassified, "
                "fail_files_ignored AS failed FROM ont_runs ORDER BY run",
            ),
        ),
    ),
)
