"""What a genomics chain run is told (ChainOptions, checked when made), which call it is (SampleJob) and
what it gives back (SampleResult): kept apart from chain.py so the batch chain, the live sample and the
stages share them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstream.core.errors import ConfigError
from labstream.genomics.align import ALIGNERS
from labstream.genomics.assay import Assay
from labstream.genomics.call import CALLERS
from labstream.genomics.gates import GateThresholds
from labstream.genomics.learned import LearnedCaller

ProgressFn = Callable[[str, bool], None]  # (step, finished): called when a step starts and when it ends


@dataclass
class SampleResult:
    sample: str
    run: str
    lineage_id: str
    bam: Path
    vcf: Path
    qc_json: Path
    report: Path
    qc: dict[str, Any]
    variants: list[dict[str, Any]]
    coverage: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    lake_versions: dict[str, bool] = field(default_factory=dict)
    qc_status: str = "PASS"  # or "QC FAILED" (only with allow_qc_fail): the report must say so
    failed_gates: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SampleJob:
    """Which call this is: the sample, its run, the lineage id its outputs carry, the options, and who
    sees each step start and end (`progress`, the CLI's bars)."""

    sample: str
    run: str
    lineage_id: str
    opts: ChainOptions
    progress: ProgressFn | None = None


@dataclass
class ChainOptions:
    threads: int = 2
    aligner: str = "minimap2"
    caller: str = "bcftools"
    shards: int | None = None
    annotation: str | Path | None = None
    known: str | Path | None = None
    lake_url: str | None = None
    bin_size: int = 1000
    project: str = "default"
    allow_qc_fail: bool = False  # write outputs of a sample failing a gate, marked QC FAILED
    catalog_url: str | None = None  # record the batch call's lineage there (labstream lineage ID)
    gates: GateThresholds = field(default_factory=GateThresholds)
    assay: Assay | None = None  # its gates, caller, annotation, known variants and targets win
    # caller "learned": the model resolved once at the start (cli/genomics.py resolves NAME@ALIAS)
    learned: LearnedCaller | None = None

    def __post_init__(self) -> None:
        """Refuse an unknown tool name now, not deep inside the pipe after the reads were opened."""
        if self.assay is not None:
            a = self.assay
            self.gates, self.caller = a.gates, a.caller
            self.annotation = a.annotation.path if a.annotation else self.annotation
            self.known = a.known.path if a.known else self.known
        for what, value, known in (("aligner", self.aligner, ALIGNERS), ("caller", self.caller, CALLERS)):
            if value not in known:
                raise ConfigError(f"unknown {what} {value!r}; use one of: {', '.join(known)}")
        if self.caller == "learned" and self.learned is None:
            raise ConfigError(
                "caller 'learned' needs a model: pass --model NAME@ALIAS (variant-caller@champion)"
            )

    @property
    def model_version(self) -> str:
        """`name/version@sha256:...` of the model making the calls, '' for bcftools and freebayes."""
        return str(self.learned.tag) if self.caller == "learned" and self.learned else ""
