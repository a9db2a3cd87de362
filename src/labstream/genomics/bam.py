"""BAM steps through pysam's samtools bindings: merge sorted chunks, mark duplicates, index, measure.

Every output is written under a temporary name and renamed at the end. `alignment_stats` reads
`samtools stats` (mapped fraction, insert size, error rate) and `coverage_bins` computes binned depth with
pysam's pileup-free `count_coverage`, the rows of the `coverage` lake table and the report's plot.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from labstream.core.errors import InputError, StageError
from labstream.genomics.align import FINAL_BAM_LEVEL
from labstream.genomics.reference import Reference, check_contigs


def _tmp(out: Path) -> Path:
    return out.with_name(f".{out.name}.part")


def merge_markdup(
    chunks: list[Path],
    out_bam: str | Path,
    *,
    threads: int = 2,
    follow: Callable[[Path, subprocess.Popen[bytes]], None] | None = None,
) -> Path:
    """Merge coordinate-sorted chunk BAMs, mark duplicates, index; returns the final BAM path.

    `follow(path, markdup_process)`: as in `align_reads`, called once markdup is started with the
    temporary name it writes, so readers (`tailing_caller.StreamCallers`) can tail the BAM while it is
    written; the merge then runs as `samtools merge -u | samtools markdup --write-index` (the CLI, which
    the follower needs as a process to watch), the same records the in-process path writes (tested).
    """
    if not chunks:
        raise InputError(str(out_bam), "no chunk BAMs to merge")
    out = Path(out_bam)
    tmp = _tmp(out)
    if follow is not None:
        _merge_markdup_piped(chunks, out, threads, follow)
        return out
    with tempfile.TemporaryDirectory(prefix=".merge-", dir=out.parent) as scratch:
        merged = Path(scratch) / "merged.bam"
        if len(chunks) == 1:
            merged = Path(chunks[0])
        else:
            pysam.merge("-f", "-c", "-p", "-u", "-@", str(threads), "-o", str(merged), *map(str, chunks))
        pysam.markdup(
            "-@",
            str(threads),
            "--output-fmt-option",
            f"level={FINAL_BAM_LEVEL}",
            "-T",
            str(Path(scratch) / "md"),
            str(merged),
            str(tmp),
            catch_stdout=False,
        )
    os.replace(tmp, out)
    index_bam(out)
    return out


def _merge_markdup_piped(
    chunks: list[Path], out: Path, threads: int, follow: Callable[[Path, subprocess.Popen[bytes]], None]
) -> None:
    """`samtools merge -u | samtools markdup --write-index`, markdup's output followed while written."""
    tmp, tmp_bai = _tmp(out), out.with_name(f".{out.name}.bai.part")
    with (
        tempfile.TemporaryDirectory(prefix=".merge-", dir=out.parent) as scratch,
        tempfile.TemporaryFile() as err,
    ):
        procs: list[subprocess.Popen[bytes]] = []
        try:
            if len(chunks) == 1:
                source: str = str(chunks[0])
            else:
                merge = ["samtools", "merge", "-f", "-c", "-p", "-u", "-o", "-", *map(str, chunks)]
                procs.append(subprocess.Popen(merge, stdout=subprocess.PIPE, stderr=err))
                source = "-"
            tmp.touch()  # followers open it now; markdup truncates and fills this same file
            md = [
                "samtools", "markdup", "-@", str(threads), "-T", str(Path(scratch) / "md"), "--write-index",
                "--output-fmt-option", f"level={FINAL_BAM_LEVEL}", source, f"{tmp}##idx##{tmp_bai}",
            ]  # fmt: skip
            stdin = procs[0].stdout if procs else subprocess.DEVNULL
            procs.append(subprocess.Popen(md, stdin=stdin, stderr=err))
            if len(procs) == 2 and procs[0].stdout is not None:
                procs[0].stdout.close()  # owned by markdup now
            follow(tmp, procs[-1])
            codes = [p.wait() for p in procs]
        except BaseException:
            for p in procs:
                p.kill()
                p.wait()
            tmp.unlink(missing_ok=True)
            tmp_bai.unlink(missing_ok=True)
            raise
        if any(codes):
            err.seek(0)
            tmp.unlink(missing_ok=True)
            tmp_bai.unlink(missing_ok=True)
            message = err.read().decode(errors="replace")[-1500:]
            raise StageError("merge_markdup", str(out), f"samtools merge | markdup exited {codes}: {message}")
    os.replace(tmp_bai, str(out) + ".bai")
    os.replace(tmp, out)


def index_bam(bam: str | Path) -> Path:
    bai = Path(str(bam) + ".bai")
    tmp = _tmp(bai)
    pysam.index(str(bam), str(tmp))
    os.replace(tmp, bai)
    return bai


def check_bam_contigs(ref: Reference, bam: str | Path) -> None:
    with pysam.AlignmentFile(str(bam)) as fh:
        check_contigs(ref, bam, dict(zip(fh.references, fh.lengths, strict=True)))


@dataclass
class AlignmentStats:
    reads: int
    mapped: int
    duplicates: int
    properly_paired: int
    insert_size_mean: float
    insert_size_sd: float
    error_rate: float
    mean_depth: float = 0.0
    primary: int = 0  # primary alignments (flagstat), the denominator of the duplication fraction

    @property
    def mapped_fraction(self) -> float:
        return self.mapped / max(self.reads, 1)

    @property
    def duplication_fraction(self) -> float:
        """flagstat's primary duplicates / primary reads of the duplicate-marked BAM: what `samtools
        markdup` marked, so a report and `samtools flagstat` on the same BAM never disagree."""
        return self.duplicates / max(self.primary, 1)


_FLAGSTAT = re.compile(r"^(\d+) \+ (\d+) (primary duplicates|primary)$", re.M)


def alignment_stats(bam: str | Path) -> AlignmentStats:
    """Summary numbers from `samtools stats` (SN section); duplicates from `samtools flagstat`
    (primary duplicates, QC-passed and failed together, as flagstat counts them)."""
    flags = {m[3]: int(m[1]) + int(m[2]) for m in _FLAGSTAT.finditer(pysam.flagstat(str(bam)))}
    text = pysam.stats(str(bam))
    sn: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("SN\t"):
            _, key, value = line.split("\t")[:3]
            sn[key.rstrip(":")] = float(value)
    return AlignmentStats(
        reads=int(sn.get("raw total sequences", 0)),
        mapped=int(sn.get("reads mapped", 0)),
        duplicates=flags.get("primary duplicates", 0),
        properly_paired=int(sn.get("reads properly paired", 0)),
        insert_size_mean=sn.get("insert size average", 0.0),
        insert_size_sd=sn.get("insert size standard deviation", 0.0),
        error_rate=sn.get("error rate", 0.0),
        primary=flags.get("primary", 0),
    )


@dataclass(frozen=True)
class CoverageBin:
    contig: str
    start: int  # 0-based, half-open
    end: int
    mean_depth: float
    min_depth: int
    fraction_10x: float  # share of bases with depth >= 10


SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x400  # unmapped, secondary, QC-fail, duplicate: pysam's "all" filter
NOT_ACGT = re.compile("[^ACGT]")


def window_depth(fh: pysam.AlignmentFile, contig: str, start: int, end: int) -> np.ndarray:
    """Per-base depth on [start, end): what `count_coverage(quality_threshold=0, read_callback="all")`
    summed over A, C, G, T gives (aligned M/=/X bases that are A, C, G or T; tested equal).

    Why not count_coverage itself: it walks every base of every read (~0.45 s for 6 M bases) and holds
    the GIL throughout, which starved the threads feeding the shard callers while metrics ran beside
    them. Here a read adds its aligned blocks to a difference array (two bincounts); only reads with a
    base other than ACGT (rare) are walked base by base, to take those bases off again.
    """
    width = end - start
    starts: list[int] = []
    ends: list[int] = []
    minus: list[int] = []
    for read in fh.fetch(contig, start, end):
        if read.flag & SKIP_FLAGS:
            continue
        for s, e in read.get_blocks():
            s, e = max(s, start), min(e, end)
            if s < e:
                starts.append(s - start)
                ends.append(e - start)
        seq = read.query_sequence
        if seq and NOT_ACGT.search(seq):
            minus += [
                r - start
                for q, r in read.get_aligned_pairs(matches_only=True)
                if start <= r < end and seq[q] not in "ACGT"
            ]
    diff = np.bincount(np.asarray(starts, dtype=np.int64), minlength=width + 1)
    diff -= np.bincount(np.asarray(ends, dtype=np.int64), minlength=width + 1)
    depth = np.cumsum(diff[:width])
    if minus:
        depth -= np.bincount(np.asarray(minus, dtype=np.int64), minlength=width)
    return depth


def coverage_bins(bam: str | Path, ref: Reference, bin_size: int = 1000) -> list[CoverageBin]:
    """Binned depth over every contig (duplicates and secondary reads excluded, as callers see it)."""
    out: list[CoverageBin] = []
    with pysam.AlignmentFile(str(bam)) as fh:
        for contig, length in ref.contigs.items():
            if contig not in fh.references:
                continue
            for start in range(0, length, 500_000):  # bounded memory on long contigs
                end = min(length, start + 500_000)
                depth = window_depth(fh, contig, start, end)
                for b0 in range(0, end - start, bin_size):
                    seg = depth[b0 : b0 + bin_size]
                    out.append(
                        CoverageBin(
                            contig,
                            start + b0,
                            start + b0 + len(seg),
                            float(seg.mean()),
                            int(seg.min()),
                            float(np.mean(seg >= 10)),
                        )
                    )
    return out


__all__ = [
    "AlignmentStats",
    "CoverageBin",
    "alignment_stats",
    "check_bam_contigs",
    "coverage_bins",
    "index_bam",
    "merge_markdup",
    "window_depth",
]
