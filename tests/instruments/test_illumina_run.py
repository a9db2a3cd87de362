"""The simulator writes an Illumina run folder exactly: sheet, lanes, index reads, end markers last."""

from __future__ import annotations

import gzip
from pathlib import Path

from labstream.instruments.illumina_run import BASECALLS, write_illumina_run
from labstream.layouts import detect
from labstream.layouts.sample_sheet import parse_sample_sheet


def _fq(path: Path, n: int, mate: int) -> Path:
    with gzip.open(path, "wt") as fh:
        for i in range(n):
            fh.write(f"@r{i}\n{'ACGT' * (5 + mate)}\n+\n{'I' * 4 * (5 + mate)}\n")
    return path


def test_run_folder_layout(tmp_path: Path) -> None:
    reads = {"A": (_fq(tmp_path / "a1.fq.gz", 5, 1), _fq(tmp_path / "a2.fq.gz", 5, 2))}
    run = tmp_path / "RUN7"
    written = write_illumina_run(run, reads, sheet=["A", "B"], project="P", sheet_version=1)
    sheet = parse_sample_sheet((run / "SampleSheet.csv").read_text())
    assert sheet.version == 1 and list(sheet.samples) == ["A", "B"]
    names = sorted(p.name for p in (run / BASECALLS / "P").iterdir())
    assert names == [f"A_S1_L00{lane}_{r}_001.fastq.gz" for lane in (1, 2) for r in ("I1", "I2", "R1", "R2")]
    assert [detect(p)["lane"] for p in written["A"]] == [1, 1, 2, 2]
    # lanes are contiguous blocks: L001 + L002 is the sample's FASTQ
    r1 = b"".join(gzip.open(p).read() for p in written["A"] if detect(p)["read"] == 1)
    assert r1 == gzip.open(reads["A"][0]).read()
    index = gzip.open(run / BASECALLS / "P" / "A_S1_L001_I1_001.fastq.gz").read().splitlines()
    assert len(index) == 4 * 3 and len(index[1]) == 8
    assert (run / "RTAComplete.txt").exists() and (run / "CopyComplete.txt").stat().st_size == 0
    assert not [p for p in run.rglob(".*")]  # no temporary file left behind
