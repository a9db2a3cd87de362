"""An Illumina run folder as the instrument and bcl2fastq / bcl-convert leave it, from simulated reads.

    RUN/SampleSheet.csv                                           (v2 [BCLConvert_Data] or v1 [Data])
    RUN/Data/Intensities/BaseCalls/<Project>/<Sample>_S<n>_L00<lane>_{R1,R2,I1,I2}_001.fastq.gz
    RUN/RTAComplete.txt, then RUN/CopyComplete.txt                (written last: the run is complete)

Why: intake must be tested on the layout labs really have, not on the simulator's chunk names. Each
sample's pairs are split into contiguous lane blocks, so L001 + L002 concatenated is the sample's
original FASTQ (the batch chain's input in the tests); index reads carry the sample's index from the
sheet. Every file is written under a dot-name and renamed, as a watcher must only see whole files.
"""

from __future__ import annotations

from pathlib import Path

from labstream.instruments.sequencer import iter_fastq_records, write_atomic
from labstream.layouts.sample_sheet import SheetSample, write_sample_sheet

BASECALLS = Path("Data/Intensities/BaseCalls")


def _index_read(rec: bytes, index: str) -> bytes:
    name = rec.split(b"\n", 1)[0]
    return name + b"\n" + index.encode() + b"\n+\n" + b"F" * len(index) + b"\n"


def write_illumina_run(
    run_dir: str | Path,
    reads: dict[str, tuple[Path, Path]],
    *,
    sheet: list[str] | None = None,
    project: str = "PROJ",
    lanes: int = 2,
    sheet_version: int = 2,
    index_reads: bool = True,
    complete: bool = True,
    assays: dict[str, str] | None = None,
) -> dict[str, list[Path]]:
    """Write a run folder; `reads`: sample -> (R1, R2) gzip FASTQ; `sheet`: the samples the sheet lists
    (default: those with reads; a listed sample without reads is a missing one, a sample with reads not
    listed is an unexpected one). Returns the FASTQ written per sample (R1/R2 only, lane order)."""
    run = Path(run_dir)
    listed = list(reads) if sheet is None else list(sheet)
    text = write_sample_sheet(
        [SheetSample(s, project, assay=(assays or {}).get(s, "")) for s in listed],
        version=sheet_version,
        run_name=run.name,
    )
    write_atomic(run / "SampleSheet.csv", text.encode())
    numbers = {s: i + 1 for i, s in enumerate(listed + [s for s in reads if s not in listed])}
    written: dict[str, list[Path]] = {}
    for sample, (r1, r2) in reads.items():
        recs = [list(iter_fastq_records(Path(r))) for r in (r1, r2)]
        per_lane = -(-len(recs[0]) // lanes)
        folder = run / BASECALLS / project
        index = f"{'ACGTACGT'[numbers[sample] % 4 :]}{'TTGCA' * 2}"[:8]
        for lane in range(1, lanes + 1):
            block = slice((lane - 1) * per_lane, lane * per_lane)
            stem = f"{sample}_S{numbers[sample]}_L{lane:03d}"
            for read, mate in (("R1", recs[0]), ("R2", recs[1])):
                path = write_atomic(folder / f"{stem}_{read}_001.fastq.gz", b"".join(mate[block]), gz=True)
                written.setdefault(sample, []).append(path)
            if index_reads:
                for read in ("I1", "I2"):
                    data = b"".join(_index_read(r, index) for r in recs[0][block])
                    write_atomic(folder / f"{stem}_{read}_001.fastq.gz", data, gz=True)
    if complete:
        write_atomic(run / "RTAComplete.txt", b"RTA 3.4.4\n")
        write_atomic(run / "CopyComplete.txt", b"")
    return written


__all__ = ["BASECALLS", "write_illumina_run"]
