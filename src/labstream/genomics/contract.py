"""The genomics pipeline's contract: its settings, layouts, stages, tables and faces, declared once.

labstream watch RUN_DIR --pipeline genomics --config genomics.toml    # reference = "ref.fa"

RUN_DIR holds the sequencer simulator's chunks or an Illumina run folder (SampleSheet.csv, FASTQ by
lane, RTAComplete.txt / CopyComplete.txt): see genomics/run_intake.py.
"""

from __future__ import annotations

from pydantic import DirectoryPath, Field, FilePath

from labstream.genomics.gates import GateThresholds
from labstream.genomics.interim_calls import REFRESH_GROWTH, VARIANTS_INTERIM
from labstream.genomics.stages import genomics_pipeline
from labstream.genomics.tables import COVERAGE, READS_QC, VARIANTS
from labstream.runtime.contract import Faces, PipelineContract, PipelineSettings, Summary
from labstream.runtime.stage import Pipeline

__all__ = ["CONTRACT", "GenomicsSettings"]


class GenomicsSettings(PipelineSettings):
    """The reference bundle and how hard to work. Paths are checked to exist before anything starts."""

    reference: FilePath = Field(description="reference FASTA (indexed or indexable)", examples=["ref.fa"])
    annotation: FilePath | None = Field(None, description="GFF3 of genes for consequences")
    known: FilePath | None = Field(None, description="VCF of known variants (IDs, clinical significance)")
    threads: int = Field(2, ge=1, le=256, description="threads per alignment / calling task")
    run: str = Field("", max_length=128, description="sequencing run name recorded with every row")
    min_depth: float = Field(
        GateThresholds.min_mean_depth, ge=0, description="mean depth a sample needs, or it fails QC (x)"
    )
    assay_dir: DirectoryPath | None = Field(
        None, description="folder of assay definitions (TOML) that sample sheets name per sample"
    )
    cram: bool = Field(False, description="also store each sample's CRAM (+.crai), reference by MD5/sha256")
    refresh_growth: float = Field(
        REFRESH_GROWTH, ge=0, description="interim calls when a sample's chunks grew by this fraction"
    )
    # the learned caller for final calls, pinned for the whole run (`labstream models pin NAME@ALIAS`
    # prints these three lines): a promotion during the run changes nothing; interim calls stay bcftools
    model_weights: FilePath | None = Field(None, description="pinned learned-caller weights (models pin)")
    model_sha256: str = Field("", max_length=64, description="sha256 of model_weights")
    model_tag: str = Field("", max_length=300, description="name/version@sha256:digest of the model")
    cohort: bool = Field(
        True, description="each called sample joins the cohort variant lake (gVCF, AC/AN/AF)"
    )
    cohort_lake: str | None = Field(
        None, max_length=1000, description="lake of the cohort (default: the platform's)"
    )


def build(settings: GenomicsSettings, input_topic: str) -> Pipeline:
    return genomics_pipeline(
        settings.reference,
        annotation=settings.annotation,
        known=settings.known,
        threads=settings.threads,
        run=settings.run,
        input_topic=input_topic,
        refresh_growth=settings.refresh_growth,
        min_depth=settings.min_depth,
        assays=settings.assay_dir,
        cram=settings.cram,
        cohort=settings.cohort,
        cohort_lake=settings.cohort_lake,
        model={
            "weights": str(settings.model_weights),
            "sha256": settings.model_sha256,
            "tag": settings.model_tag,
        }
        if settings.model_weights
        else None,
    )


CONTRACT = PipelineContract(
    name="genomics",
    summary="paired FASTQ chunks or Illumina run folders -> QC, sanity gates, alignment, variant calls "
    "(interim and final), annotation, report",
    settings=GenomicsSettings,
    layouts=("fastq-chunk", "illumina-fastq", "illumina-run"),
    tables=(VARIANTS, VARIANTS_INTERIM, READS_QC, COVERAGE),
    build=build,
    slos=("received->signed p95 <= 48h",),  # clinical TAT: sample received to report signed (labstream.ops)
    faces=Faces(
        summaries=(
            Summary(
                "variants per sample",
                "SELECT sample, count(*) AS variants, count(*) FILTER (WHERE variant_type = 'snp') AS snps "
                "FROM variants GROUP BY sample ORDER BY sample",
            ),
            Summary(
                "read QC per sample",
                "SELECT sample, reads, round(q30_fraction, 3) AS q30, round(mapped_fraction, 3) AS mapped "
                "FROM reads_qc WHERE chunk = '' ORDER BY sample",
            ),
        ),
        dashboard=("samples",),
    ),
)
