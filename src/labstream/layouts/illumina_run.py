"""The files of an Illumina run folder that are not reads: `SampleSheet.csv` (which samples the run must
hold) and the end markers `RTAComplete.txt` / `CopyComplete.txt` (the instrument finished and the copy
is whole). Why a layout: the marker is how a streaming pipeline knows a sample has all its lanes, which
the bcl-convert FASTQ names (unlike the simulator's `c0003of0010`) never say.

`run_root(identity)` gives the run folder of any file of the run from its path under the watched folder,
so a FASTQ in `Data/Intensities/BaseCalls/<Project>/` and the marker at the top meet on one key.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from labstream.layouts.base import FileIdentity

RUN_COMPLETE = ("CopyComplete.txt", "RTAComplete.txt")
SHEET = "SampleSheet.csv"
# bcl2fastq writes under Data/Intensities/BaseCalls/; bcl-convert under the output folder it is given
_READS_UNDER = re.compile(r"(^|/)(Data/Intensities/BaseCalls|Analysis/[^/]+/Data/fastq|fastq|Fastq)(/|$)")


def run_root(identity: str) -> str:
    """The run folder of a file, as a path under the watched folder ('' when it is the watched folder)."""
    path = PurePosixPath(identity)
    text = str(path.parent) if str(path.parent) != "." else ""
    m = _READS_UNDER.search(text)
    if m is not None:
        return text[: m.start()].rstrip("/")
    return text


class IlluminaRun:
    name = "illumina-run"
    instrument = "sequencer"
    pattern = "SampleSheet.csv | CopyComplete.txt | RTAComplete.txt (in the run folder)"
    identifies = False  # every run has these names: the run folder says which run

    def parse(self, path: Path) -> FileIdentity | None:
        if path.name == SHEET:
            kind = "sample_sheet"
        elif path.name in RUN_COMPLETE:
            kind = "run_complete"
        else:
            return None
        run = path.parent.name
        return FileIdentity(self.name, self.instrument, f"run:{run}", {"file": kind, "run": run})


__all__ = ["RUN_COMPLETE", "SHEET", "IlluminaRun", "run_root"]
