"""Alignment: validated, QC-trimmed reads streamed into minimap2 (or bwa mem), out as a sorted BAM.

Why the minimap2 CLI and not mappy: mappy gives hits, not SAM; pairing flags, mate fields, TLEN, read
groups and supplementary records would have to be rebuilt in Python per read, which costs more than it
saves (mappy releases the GIL, so raw mapping speed is the same as `minimap2 -t N`; see bench/genomics.py,
which measures both). The CLI reads interleaved pairs from stdin (adjacent records with the same name),
so our QC pass writes straight into it while it maps: parsing, QC and alignment overlap.

The pipe is `python(QC) | minimap2 -ax sr | samtools fixmate -m | samtools sort`; fixmate adds the mate
score tags markdup needs later. The BAM is written under a temporary name and renamed only when every
process exited 0, so a failed or bad-input run never leaves a BAM that looks complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labstream.core.errors import InputError, StageError
from labstream.genomics.fastq import iter_pairs
from labstream.genomics.qc import QCStats, qc_and_trim
from labstream.genomics.reference import Reference

ALIGNERS = ("minimap2", "bwa")
MINIBATCH = "2M"
# FASTQ records per QC batch: ~1.5 MB per mate keeps the batch buffers in malloc's reused arenas (20000
# records cost ~0.07 CPU s more on the bench data, all page faults) and hands minimap2 its first reads sooner
QC_BATCH = 5000
# genomes from this size map against a saved minimap2 index (minimap2_target): GRCh38 takes minutes to index
MMI_MIN_BASES = 50_000_000
# Deflate level of the sample's final BAM. With htslib's libdeflate, level 1 makes a BAM ~1% larger than
# the default level 6 (bench data: 12.22 vs 12.09 MB) for under half the CPU (markdup 0.23 vs 0.50 CPU s):
# on 2 cores that CPU is wall time, and reading it back (calling, stats, coverage) costs the same.
FINAL_BAM_LEVEL = 1


@dataclass
class AlignResult:
    bam: Path
    qc: QCStats
    seconds: float
    command: list[str] = field(default_factory=list)


def minimap2_target(ref: Reference) -> Path:
    """What minimap2 maps against: the FASTA for a small genome, a saved index beside a large one.

    minimap2 indexes a FASTA at every start: milliseconds for a phage, minutes for a human genome, and
    the streaming mode starts it once per chunk. From MMI_MIN_BASES up, `REF.sr.mmi` (`minimap2 -x sr -d`)
    is built once, under a temporary name, and reused while it is newer than the FASTA; where the
    reference folder is read-only, minimap2 keeps indexing the FASTA.
    """
    if sum(ref.contigs.values()) < MMI_MIN_BASES:
        return ref.path
    mmi = ref.path.with_name(ref.path.name + ".sr.mmi")
    if mmi.exists() and mmi.stat().st_mtime >= ref.path.stat().st_mtime:
        return mmi
    tmp = mmi.with_name(f".{mmi.name}.{os.getpid()}.part")
    try:
        subprocess.run(
            ["minimap2", "-x", "sr", "-d", str(tmp), str(ref.path)], check=True, capture_output=True
        )
        os.replace(tmp, mmi)
    except (OSError, subprocess.CalledProcessError):
        tmp.unlink(missing_ok=True)
        return ref.path
    return mmi


def aligner_command(aligner: str, ref: Reference, sample: str, threads: int) -> list[str]:
    rg = f"@RG\\tID:{sample}\\tSM:{sample}\\tPL:ILLUMINA"
    if aligner == "minimap2":
        # -K: mini-batches of 2 Mbases instead of 500M, so minimap2 holds at most a few MB of reads
        # however large the input (memory flat as input grows); same records (tested), same wall and CPU
        # on the bench's 48k pairs (measured 1.47-1.76 s either way)
        target = str(minimap2_target(ref))
        return ["minimap2", "-ax", "sr", "-K", MINIBATCH, "-t", str(threads), "-R", rg, target, "-"]
    if aligner == "bwa":
        if not Path(str(ref.path) + ".bwt").exists():
            subprocess.run(["bwa", "index", str(ref.path)], check=True, capture_output=True)
        return ["bwa", "mem", "-p", "-t", str(threads), "-R", rg, str(ref.path), "-"]
    raise ValueError(f"unknown aligner {aligner!r}; use one of {ALIGNERS}")


def align_reads(
    ref: Reference,
    r1: str | Path,
    r2: str | Path | None,
    out_bam: str | Path,
    *,
    sample: str,
    threads: int = 2,
    aligner: str = "minimap2",
    batch_size: int = QC_BATCH,
    min_quality: int = 20,
    min_length: int = 30,
    sort_memory: str = "256M",
    compression: int = 1,
    markdup: bool = False,
    follow: Callable[[Path, subprocess.Popen[bytes]], None] | None = None,
) -> AlignResult:
    """QC, trim and align one FASTQ (pair or chunk) into a coordinate-sorted BAM at `out_bam`.

    `compression` is the chunk BAM's deflate level: 1 by default because a chunk BAM is intermediate (merge
    and markdup rewrite it); level 6 costs sort about 2x its CPU on 2 cores.
    `markdup=True` makes `out_bam` the final BAM of a one-chunk sample: sort streams uncompressed into
    `samtools markdup --write-index`, which writes it at FINAL_BAM_LEVEL with its .bai, the same records
    `merge_markdup` writes from a chunk BAM (tested) without writing and re-reading that chunk.
    `follow(path, markdup_process)` (with `markdup=True`) is called once markdup is started, with the
    temporary name it writes the BAM to, so that readers can tail the BAM while it is written
    (`call.StreamCallers`); the file is complete when that process has exited 0.
    """
    if follow is not None and not markdup:
        raise ValueError("follow needs markdup=True (it tails the final, duplicate-marked BAM)")
    t0 = time.perf_counter()
    out = Path(out_bam)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_bam = out.with_name(f".{out.name}.part")
    tmp_bai = out.with_name(f".{out.name}.bai.part")
    scratch = Path(tempfile.mkdtemp(prefix=".align-", dir=out.parent))
    cmd = aligner_command(aligner, ref, sample, threads)
    stats = QCStats()
    err_path = scratch / "stderr.txt"
    with open(err_path, "wb") as err_fh:
        p_al = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_fh)
        p_fix = subprocess.Popen(
            ["samtools", "fixmate", "-m", "-u", "-", "-"],
            stdin=p_al.stdout,
            stdout=subprocess.PIPE,
            stderr=err_fh,
        )
        sort_cmd = ["samtools", "sort", "-m", sort_memory, "-T", str(scratch / "srt")]
        if markdup:
            sort_cmd += ["-u", "-"]
        else:
            sort_cmd += ["-l", str(compression), "-o", str(tmp_bam), "-"]
        p_sort = subprocess.Popen(
            sort_cmd, stdin=p_fix.stdout, stdout=subprocess.PIPE if markdup else None, stderr=err_fh
        )
        assert p_al.stdout is not None and p_fix.stdout is not None and p_al.stdin is not None
        p_al.stdout.close()  # owned by fixmate now
        p_fix.stdout.close()
        procs = [p_al, p_fix, p_sort]
        if markdup:
            assert p_sort.stdout is not None
            if follow is not None:
                tmp_bam.touch()  # followers open it now; markdup truncates and fills this same file
            p_md = subprocess.Popen(
                [
                    "samtools",
                    "markdup",
                    "-@",
                    str(threads),
                    "-T",
                    str(scratch / "md"),
                    "--write-index",
                    "--output-fmt-option",
                    f"level={FINAL_BAM_LEVEL}",
                    "-",
                    f"{tmp_bam}##idx##{tmp_bai}",
                ],
                stdin=p_sort.stdout,
                stderr=err_fh,
            )
            p_sort.stdout.close()
            procs.append(p_md)
            if follow is not None:
                follow(tmp_bam, p_md)
        failure: BaseException | None = None
        try:
            for b1, b2 in iter_pairs(r1, r2, batch_size):
                p_al.stdin.write(qc_and_trim(b1, b2, stats, min_quality=min_quality, min_length=min_length))
        except BaseException as err:  # bad input or interrupt: stop the tools, keep nothing
            failure = err
        try:
            p_al.stdin.close()
        except BrokenPipeError:
            pass
        if failure is not None:
            for p in procs:
                p.kill()
        codes = [p.wait() for p in procs]
    message = err_path.read_text(errors="replace")[-2000:]
    shutil.rmtree(scratch, ignore_errors=True)
    if failure is not None or any(codes):
        tmp_bam.unlink(missing_ok=True)
        tmp_bai.unlink(missing_ok=True)
        if failure is not None and not isinstance(failure, BrokenPipeError):
            raise failure
        raise StageError("align", str(r1), f"{' '.join(cmd[:2])} pipeline exited {codes}: {message}")
    if stats.reads == 0:
        tmp_bam.unlink(missing_ok=True)
        tmp_bai.unlink(missing_ok=True)
        raise InputError(str(r1), "no reads to align")
    if markdup:
        os.replace(tmp_bai, str(out) + ".bai")
    os.replace(tmp_bam, out)
    return AlignResult(out, stats, time.perf_counter() - t0, cmd)


def align_in_thread(*args: object, **kwargs: object) -> tuple[threading.Thread, dict[str, object]]:
    """Run align_reads in a thread (tools do the work, the GIL is mostly free); result in box['result']."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = align_reads(*args, **kwargs)  # type: ignore[arg-type]
        except BaseException as err:  # handed to the caller, who re-raises
            box["error"] = err

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


__all__ = [
    "ALIGNERS",
    "FINAL_BAM_LEVEL",
    "MMI_MIN_BASES",
    "QC_BATCH",
    "AlignResult",
    "align_in_thread",
    "align_reads",
    "aligner_command",
    "minimap2_target",
]
