"""Oxford Nanopore MinKNOW output: FASTQ or unaligned-BAM batches per barcode, and the run's summary files.

    RUN/fastq_pass/barcode01/FLO12345_pass_barcode01_a1b2c3d4_0f9e8d7c_0.fastq.gz   (batch 0, 1, ...)
    RUN/bam_pass/barcode01/FLO12345_pass_barcode01_a1b2c3d4_0f9e8d7c_0.bam          (live basecalling to BAM)
    RUN/fastq_pass/unclassified/FLO12345_pass_unclassified_a1b2c3d4_0f9e8d7c_0.fastq.gz
    RUN/fastq_fail/barcode01/...                                   (reads failing MinKNOW's qscore filter)
    RUN/sequencing_summary_FLO12345_a1b2c3d4_0f9e8d7c.txt, RUN/final_summary_FLO12345_a1b2c3d4_0f9e8d7c.txt

MinKNOW writes a batch file every N reads (or minutes) while the flow cell runs and `final_summary_*.txt`
when the run ends: that file is the end marker (`file: run_complete`, like Illumina's CopyComplete.txt), so
a streaming pipeline knows how many batches each barcode has. Older MinKNOW leaves out the acquisition id
and, without barcoding, the barcode (`FLO12345_pass_a1b2c3d4_0.fastq.gz`): its sample is `unbarcoded`.
With basecalling to BAM (MinKNOW's "BAM output"), the same batches are unaligned BAM files under bam_pass/
and bam_fail/ (reads may carry MM/ML base-modification tags): layout `minknow-bam`, the same fields.
`minknow_root(identity)` is the run folder of any of these files, so batches and marker meet on one key.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from labstream.layouts.base import FileIdentity, RegexLayout

UNCLASSIFIED = "unclassified"
UNBARCODED = "unbarcoded"
BATCH_LAYOUTS = ("minknow-fastq", "minknow-bam")  # a batch of reads: FASTQ or unaligned BAM
_READ_DIRS = ("fastq_pass", "fastq_fail", "bam_pass", "bam_fail")
_BATCH = (  # a batch file's name up to its extension
    r"^(?P<flowcell>[A-Za-z0-9-]+)_(?P<status>pass|fail)_(?:(?P<barcode>barcode\d+|unclassified)_)?"
    r"(?P<run>[0-9a-f]{8})(?:_(?P<acq>[0-9a-f]{8}))?_(?P<batch>\d+)"
)


def minknow_root(identity: str) -> str:
    """The run folder of a MinKNOW file, as a path under the watched folder ('' for the folder itself)."""
    parts = PurePosixPath(identity).parts
    for i, part in enumerate(parts):
        if part in _READ_DIRS:
            return "/".join(parts[:i])
    return "/".join(parts[:-1])


class MinknowFastq(RegexLayout):
    name = "minknow-fastq"
    instrument = "sequencer"
    pattern = (
        "fastq_{pass|fail}/{barcodeNN|unclassified}/"
        "{flowcell}_{pass|fail}_{barcode}_{run8}[_{acq8}]_{batch}.fastq.gz"
    )
    regex = re.compile(_BATCH + r"\.f(?:ast)?q(?:\.gz)?$")

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        return {
            "sample": m["barcode"] or UNBARCODED,
            "barcode": m["barcode"] or UNBARCODED,
            "passed": int(m["status"] == "pass"),
            "batch": int(m["batch"]),
            "flowcell": m["flowcell"],
            "run_id": m["run"],
        }

    def key_of(self, fields: object) -> str:  # type: ignore[override]
        f = fields  # a flow cell's run and barcode: one sample of one run
        return f"ont:{f['flowcell']}_{f['run_id']}:{f['barcode']}"  # type: ignore[index]


class MinknowBam(MinknowFastq):
    """Unaligned BAM batches (MinKNOW basecalling to BAM): the fields and key of the FASTQ batches."""

    name = "minknow-bam"
    pattern = (
        "bam_{pass|fail}/{barcodeNN|unclassified}/"
        "{flowcell}_{pass|fail}_{barcode}_{run8}[_{acq8}]_{batch}.bam"
    )
    regex = re.compile(_BATCH + r"\.bam$")


class MinknowRun:
    name = "minknow-run"
    instrument = "sequencer"
    pattern = (
        "final_summary_{flowcell}_{run8}[_{acq8}].txt | sequencing_summary_*.txt | "
        "sample_sheet_{flowcell}_{date}_{time}_{run8}.csv (in the run folder)"
    )
    identifies = False
    _summary = re.compile(
        r"^(?P<kind>final|sequencing)_summary_(?P<flowcell>[A-Za-z0-9-]+)_(?P<run>[0-9a-f]{8})\S*\.txt$"
    )
    _sheet = re.compile(r"^sample_sheet_(?P<flowcell>[A-Za-z0-9-]+)_\d{8}_\d{4}_(?P<run>[0-9a-f]{8})\.csv$")

    def parse(self, path: Path) -> FileIdentity | None:
        m = self._summary.match(path.name)
        sheet = self._sheet.match(path.name)
        if m is None and sheet is None:
            return None
        if m is None:
            kind, m = "sample_sheet", sheet
        else:
            kind = "run_complete" if m["kind"] == "final" else "sequencing_summary"
        run = f"{m['flowcell']}_{m['run']}"  # type: ignore[index]
        return FileIdentity(self.name, self.instrument, f"ont:{run}", {"file": kind, "run": run})


__all__ = [
    "BATCH_LAYOUTS",
    "UNBARCODED",
    "UNCLASSIFIED",
    "MinknowBam",
    "MinknowFastq",
    "MinknowRun",
    "minknow_root",
]
