"""Nanopore (ONT) long reads: batches -> minimap2 map-ont -> sorted BAM -> SNV calls for long reads.

    align_batches(ref, [batch.fastq.gz, ...], out.bam, sample=...)   one or more batches, in order
                                                 (FASTQ, gzip or plain, or unaligned BAM: bam_pass/)
    merge_batches([b0.bam, b1.bam, ...], out.bam)                     batch BAMs -> the sample's BAM
    call_nanopore(reference, [fastq, ...], out_dir, sample=...)       batch chain (`genomics call-nanopore`)

Choices, and why:
- `minimap2 -ax map-ont`: the long-read preset (k=15 minimizers, long-gap chaining) for reads of ~90-97%
  identity. Reads are not quality-trimmed: the Illumina QC pass (trim to Q20) would cut most of an ONT
  read, and MinKNOW already split reads into fastq_pass / fastq_fail by mean qscore.
- Unaligned BAM batches (MinKNOW basecalling to BAM) go to minimap2 as `samtools cat | samtools fastq -T
  MM,ML,MN`: the same reads, bases and qualities as the FASTQ batches, so the same alignments and calls;
  the base-modification tags ride along in the read comment and `minimap2 -y` copies them into the BAM
  (RG and the other Dorado tags are not copied: minimap2 writes its own RG from the sample).
- No duplicate marking: ONT libraries are PCR-free and single-end, so reads sharing a start are not PCR
  copies; position-based marking would discard real coverage.
- Calling with `bcftools-ont` (call.py): SNVs with bcftools' ONT profile. Indels are not called: with
  ONT's homopolymer indel errors bcftools' short-read indel model gives mostly false indels. Measured F1
  per seed in bench/genomics_nanopore.py; the limitation is stated with each result.
- Streaming equals batch: minimap2 maps each single-end read independently of the others, so mapping batch
  by batch and merging the sorted batch BAMs in batch order (ties kept in that order, `merge -c -p`) gives
  the records of mapping the concatenated batches in one go (tested through `watch`).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pysam

from labstream.core.errors import InputError, QCFailed, StageError
from labstream.genomics.bam import index_bam
from labstream.genomics.call import call_variants
from labstream.genomics.reference import Reference, open_reference

CALLER = "bcftools-ont"
LIMITATIONS = (
    "Nanopore reads: SNVs only (bcftools ONT profile); indels are not called, and a negative result says "
    "nothing about indels. No duplicate marking (PCR-free long reads)."
)
MOD_TAGS = "MM,ML,MN"  # base-modification tags of unaligned BAM reads, kept through alignment
MIN_MEAN_DEPTH = 10.0  # below this, heterozygous SNVs at ONT error rates are missed too often to report


@dataclass
class NanoporeResult:
    sample: str
    bam: Path
    vcf: Path
    summary: Path
    reads: int
    mean_depth: float
    variants: int
    timings: dict[str, float] = field(default_factory=dict)


def aligner_command(ref: Reference, sample: str, threads: int, *, copy_tags: bool = False) -> list[str]:
    rg = f"@RG\\tID:{sample}\\tSM:{sample}\\tPL:ONT"
    tags = ["-y"] if copy_tags else []
    return ["minimap2", "-ax", "map-ont", *tags, "-t", str(threads), "-R", rg, str(ref.path), "-"]


def is_unaligned_bam(path: Path) -> bool:
    """Whether `path` is a BAM file (BGZF whose first bytes are `BAM\\1`), whatever its name says."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(4) == b"BAM\1"
    except (OSError, EOFError):  # plain FASTQ, or not gzip at all
        return False


def reads_commands(batches: list[Path]) -> tuple[list[list[str]], bool]:
    """The commands that write the batches' reads as FASTQ on stdout, in order, and whether the batches
    are BAM: `cat` for FASTQ (minimap2 reads gzip), `samtools cat | samtools fastq -T MM,ML,MN` for BAM."""
    bam = [is_unaligned_bam(p) for p in batches]
    if any(bam) and not all(bam):
        raise InputError(
            str(batches[bam.index(False)]),
            "a barcode's batches mix FASTQ and BAM files",
            hint="give the batches of one output kind (fastq_pass/ or bam_pass/)",
        )
    if not all(bam):
        return [["cat", *map(str, batches)]], False
    return [["samtools", "cat", *map(str, batches)], ["samtools", "fastq", "-T", MOD_TAGS, "-"]], True


def _pipeline(commands: list[list[str]], err: IO[bytes]) -> list[int]:
    """Run `commands` as one shell-free pipe (each one's stdout to the next one's stdin); exit codes."""
    procs: list[subprocess.Popen[bytes]] = []
    for i, cmd in enumerate(commands):
        last = i == len(commands) - 1
        stdin = procs[-1].stdout if procs else None
        procs.append(subprocess.Popen(cmd, stdin=stdin, stdout=None if last else subprocess.PIPE, stderr=err))
        if stdin is not None:
            stdin.close()  # the next process holds it now
    return [p.wait() for p in procs]


def align_batches(
    ref: Reference, fastqs: list[Path], out_bam: str | Path, *, sample: str, threads: int = 2
) -> tuple[Path, int]:
    """Map read batches (FASTQ, gzip or plain, or unaligned BAM; read in the order given) into a sorted,
    indexed BAM; returns (BAM, mapped-or-not primary read count). Written under a temporary name,
    renamed when every tool exited 0."""
    if not fastqs:
        raise InputError(str(out_bam), "no read batches to align")
    out = Path(out_bam)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    readers, bam = reads_commands(fastqs)
    with (
        tempfile.TemporaryDirectory(prefix=".ont-", dir=out.parent) as scratch,
        tempfile.TemporaryFile() as err,
    ):
        sort = ["samtools", "sort", "-l", "1", "-T", f"{scratch}/s", "-o", str(tmp), "-"]
        commands = [*readers, aligner_command(ref, sample, threads, copy_tags=bam), sort]
        codes = _pipeline(commands, err)
        if any(codes):
            tmp.unlink(missing_ok=True)
            err.seek(0)
            tools = " | ".join(" ".join(c[:2]) if c[0] == "samtools" else c[0] for c in commands)
            raise StageError(
                "align",
                str(fastqs[0]),
                f"{tools} exited {codes}: " + err.read().decode(errors="replace")[-1500:],
            )
    os.replace(tmp, out)
    index_bam(out)
    reads = int(pysam.view("-c", "-F", "0x900", str(out)).strip())
    if reads == 0:
        raise InputError(str(fastqs[0]), "no reads in the batches", hint="check the MinKNOW output")
    return out, reads


def merge_batches(bams: list[Path], out_bam: str | Path, *, threads: int = 2) -> Path:
    """Sorted batch BAMs (in batch order) -> one sorted, indexed BAM; one batch is copied as it is."""
    out = Path(out_bam)
    tmp = out.with_name(f".{out.name}.part")
    pysam.merge("-f", "-c", "-p", "-l", "1", "-@", str(threads), "-o", str(tmp), *map(str, bams))
    os.replace(tmp, out)
    index_bam(out)
    return out


def mean_depth(bam: Path, ref: Reference) -> float:
    """Mean depth over the reference (every base, zero-depth ones included), from samtools depth -a."""
    total = 0
    for line in pysam.depth("-a", str(bam)).splitlines():
        total += int(line.rsplit("\t", 1)[1])
    return total / max(1, sum(ref.contigs.values()))


def call_bam(
    ref: Reference,
    bam: Path,
    out_vcf: Path,
    *,
    sample: str,
    threads: int = 2,
    min_depth: float = MIN_MEAN_DEPTH,
) -> tuple[Path, float]:
    """Depth gate, then SNV calls: (VCF, mean depth). Below `min_depth` no VCF is written (an empty one
    would read as a negative result): QCFailed names the depth and the threshold."""
    depth = mean_depth(bam, ref)
    if depth < min_depth:
        raise QCFailed(
            sample,
            ["coverage"],
            f"mean depth {depth:.1f}x is below the minimum {min_depth:g}x for nanopore SNV calling",
        )
    return call_variants(ref, bam, out_vcf, threads=threads, caller=CALLER), depth


def rename_sample(vcf: Path, name: str, out_vcf: Path) -> Path:
    """`vcf` with its one sample column renamed `name` (a barcode's alias), bgzipped and indexed."""
    names = out_vcf.with_name(f".{out_vcf.name}.samples")
    names.write_text(f"{name}\n")
    try:
        subprocess.run(
            ["bcftools", "reheader", "-s", str(names), "-o", str(out_vcf), str(vcf)],
            check=True,
            capture_output=True,
        )
        subprocess.run(["bcftools", "index", "-f", "-t", str(out_vcf)], check=True, capture_output=True)
    except subprocess.CalledProcessError as err:
        raise StageError(
            "call", str(vcf), f"bcftools reheader/index failed: {err.stderr.decode()[-500:]}"
        ) from err
    finally:
        names.unlink(missing_ok=True)
    return out_vcf


def call_nanopore(
    reference: str | Path,
    fastqs: list[Path],
    out_dir: str | Path,
    *,
    sample: str,
    threads: int = 2,
    min_depth: float = MIN_MEAN_DEPTH,
) -> NanoporeResult:
    """The batch chain for one barcode: all its batches mapped in one go, then called."""
    ref = open_reference(reference)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bam, reads = align_batches(ref, fastqs, out / f"{sample}.bam", sample=sample, threads=threads)
    t1 = time.perf_counter()
    vcf, depth = call_bam(
        ref, bam, out / f"{sample}.vcf.gz", sample=sample, threads=threads, min_depth=min_depth
    )
    t2 = time.perf_counter()
    with pysam.VariantFile(str(vcf)) as fh:
        n = sum(1 for _ in fh)
    timings = {"align_s": t1 - t0, "call_s": t2 - t1}
    summary = out / f"{sample}.summary.json"
    body = {
        "sample": sample,
        "platform": "ONT",
        "reads": reads,
        "mean_depth": depth,
        "variants": n,
        "caller": CALLER,
        "aligner": "minimap2 -ax map-ont",
        "limitations": LIMITATIONS,
        "timings_s": timings,
    }
    summary.write_text(json.dumps(body, indent=2))
    return NanoporeResult(sample, bam, vcf, summary, reads, depth, n, timings)


__all__ = [
    "CALLER",
    "LIMITATIONS",
    "MIN_MEAN_DEPTH",
    "NanoporeResult",
    "align_batches",
    "aligner_command",
    "call_bam",
    "call_nanopore",
    "is_unaligned_bam",
    "mean_depth",
    "merge_batches",
    "rename_sample",
]
