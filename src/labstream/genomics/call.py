"""Variant calling sharded by region and run in parallel, then normalised into one indexed VCF.

Default caller: `bcftools mpileup -a AD,DP | bcftools call -m -v -f GQ` per region (the CLI, because each
shard is a pair of processes that runs on its own core; pysam.bcftools runs in-process and holds the GIL
while it writes). Shards are contiguous, non-overlapping windows: mpileup fetches every read overlapping a
window but reports only positions inside it, so the union equals the unsharded call set (tested).
`freebayes` is the alternative caller. `bcftools-ont` is the long-read setting for nanopore reads
(`mpileup -X ont`: no BAQ, base qualities from 5 and capped at 30, indels not called; `call -P 0.01`, as
bcftools' own help advises for ONT): nanopore indel errors cluster in homopolymers and bcftools' indel
model is tuned for short reads, so indel calls from it would be mostly false (measured in
bench/genomics_nanopore.py); SNVs only, said with every result (summary JSON, CLI).
Normalisation is `bcftools norm -f REF -m-any` (left-align, split multi-allelic), and the result is
bgzipped and tabix-indexed under a temporary name, renamed at the end.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pysam

from labstream.core.errors import InputError, StageError
from labstream.genomics.reference import Reference

# learned: learned.py (candidates from bcftools); bcftools-ont: the ONT profile of nanopore runs
CALLERS = ("bcftools", "freebayes", "bcftools-ont", "learned")
MQ_INTEGER = "##INFO=<ID=MQ,Number=1,Type=Integer,"


def shard_regions(ref: Reference, shards: int, contigs: list[str] | None = None) -> list[str]:
    """Split the genome into about `shards` windows of similar length: `contig:start-end`, 1-based."""
    names = contigs or list(ref.contigs)
    total = sum(ref.contigs[c] for c in names)
    size = max(1, -(-total // max(1, shards)))
    out: list[str] = []
    for c in names:
        length = ref.contigs[c]
        for s in range(0, length, size):
            out.append(f"{c}:{s + 1}-{min(length, s + size)}")
    return out


def start_pipe(
    cmds: list[list[str]], out_path: Path, err: IO[bytes], stdin: int | None = None
) -> list[subprocess.Popen[bytes]]:
    """Start `cmds` as one pipe writing `out_path`; `stdin=subprocess.PIPE` leaves the first one's open."""
    procs: list[subprocess.Popen[bytes]] = []
    with open(out_path, "wb") as out:
        prev: IO[bytes] | int | None = stdin
        for i, cmd in enumerate(cmds):
            last = i == len(cmds) - 1
            p = subprocess.Popen(cmd, stdin=prev, stdout=out if last else subprocess.PIPE, stderr=err)
            if i > 0 and prev is not None and not isinstance(prev, int):
                prev.close()
            prev = p.stdout
            procs.append(p)
    return procs


def wait_pipe(procs: list[subprocess.Popen[bytes]], err: IO[bytes], what: str) -> None:
    codes = [p.wait() for p in procs]
    if any(codes):
        err.seek(0)
        raise StageError(
            "call", what, f"{procs[0].args[0]} exited {codes}: {err.read().decode(errors='replace')[-1500:]}"
        )


def _run_pipe(cmds: list[list[str]], out_path: Path) -> None:
    with tempfile.TemporaryFile() as err:
        wait_pipe(start_pipe(cmds, out_path, err), err, str(out_path.name))


def declare_mq_float(vcf: Path) -> None:
    """Declare INFO/MQ as Float in a bgzipped VCF's header (VCF 4.2 and htslib's sanity check want it).

    bcftools 1.16 writes `Type=Integer`, and every newer htslib reading the file (pysam, IGV, GATK)
    warns "[W::bcf_hdr_check_sanity] MQ should be declared as Type=Float". The values are integers
    written as text, which parse as Float unchanged; only the header is rewritten.
    """
    hdr = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True, check=True).stdout
    text = hdr.decode()
    if MQ_INTEGER not in text:
        return
    hfile = vcf.with_name(vcf.name + ".hdr")
    fixed = vcf.with_name(vcf.name + ".rh")
    hfile.write_text(text.replace(MQ_INTEGER, "##INFO=<ID=MQ,Number=1,Type=Float,"))
    try:
        subprocess.run(
            ["bcftools", "reheader", "-h", str(hfile), "-o", str(fixed), str(vcf)],
            capture_output=True,
            check=True,
        )
        os.replace(fixed, vcf)
    finally:
        hfile.unlink(missing_ok=True)
        fixed.unlink(missing_ok=True)


def caller_commands(caller: str, ref: Reference, bam: Path | None, region: str) -> list[list[str]]:
    """The per-shard pipe. `bam=None`: bcftools reading a BAM stream on stdin and keeping `region` by
    targets (`-t`), since a stream has no index to fetch a region (`-r`) from."""
    if caller == "bcftools":
        where = ["-r", region, str(bam)] if bam is not None else ["-t", region, "-"]
        return [
            ["bcftools", "mpileup", "-f", str(ref.path), "-a", "FORMAT/AD,FORMAT/DP", "-Ou", *where],
            ["bcftools", "call", "-m", "-v", "-f", "GQ", "-Ou"],
        ]
    if caller == "bcftools-ont":
        where = ["-r", region, str(bam)] if bam is not None else ["-t", region, "-"]
        return [
            ["bcftools", "mpileup", "-X", "ont", "-f", str(ref.path), "-a", "FORMAT/AD,FORMAT/DP", "-Ou"]
            + where,
            ["bcftools", "call", "-m", "-v", "-P", "0.01", "-f", "GQ", "-Ou"],
        ]
    if caller == "bcftools-candidates":  # the learned caller's permissive candidates (learned.py)
        from labstream.genomics.learned import candidate_commands

        return candidate_commands(ref, bam, region)
    if caller == "freebayes" and bam is not None:
        return [["freebayes", "-f", str(ref.path), "-r", region, str(bam)], ["bcftools", "view", "-Ou"]]
    raise ValueError(f"unknown caller {caller!r} (or one that cannot read a stream); use one of {CALLERS}")


@contextmanager
def publish_vcf(out: Path) -> Iterator[Path]:
    """Write a bgzipped VCF under a temporary name (the caller fills it), then declare MQ, index it
    and rename both into place: `out` exists only complete and indexed; a failure leaves nothing."""
    tmp = out.with_name(".tmp-" + out.name)
    try:
        yield tmp
        declare_mq_float(tmp)
        pysam.tabix_index(str(tmp), preset="vcf", force=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".tbi").unlink(missing_ok=True)
        raise
    os.replace(str(tmp) + ".tbi", str(out) + ".tbi")
    os.replace(tmp, out)


def merge_shards(ref: Reference, parts: list[Path], out_vcf: str | Path, scratch: Path) -> Path:
    """Concatenate shard calls in region order, normalise, bgzip and index under a temporary name."""
    out = Path(out_vcf)
    list_file = scratch / "parts.txt"
    list_file.write_text("".join(f"{p}\n" for p in parts))
    with publish_vcf(out) as tmp:
        _run_pipe(
            [
                ["bcftools", "concat", "-f", str(list_file), "-Ou"],
                ["bcftools", "norm", "-f", str(ref.path), "-m-any", "-Oz"],
            ],
            tmp,
        )
    return out


def call_variants(
    ref: Reference,
    bam: str | Path,
    out_vcf: str | Path,
    *,
    threads: int = 2,
    shards: int | None = None,
    caller: str = "bcftools",
    regions: list[str] | None = None,
) -> Path:
    """Call, normalise, bgzip and index: `out_vcf` (.vcf.gz) and its .tbi appear only when complete."""
    bam = Path(bam)
    out = Path(out_vcf)
    if not Path(str(bam) + ".bai").exists() and not Path(str(bam.with_suffix(".bai"))).exists():
        raise InputError(str(bam), "BAM is not indexed", hint="run samtools index on it")
    regions = regions or shard_regions(ref, shards or max(1, threads))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".call-", dir=out.parent) as scratch:
        parts = [Path(scratch) / f"shard{i:05d}.bcf" for i in range(len(regions))]
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            futures = [
                pool.submit(_run_pipe, caller_commands(caller, ref, bam, r), p)
                for r, p in zip(regions, parts, strict=True)
            ]
            for f in futures:
                f.result()
        return merge_shards(ref, parts, out, Path(scratch))


def normalize_vcf(ref: Reference, vcf: str | Path, out_vcf: str | Path) -> Path:
    """`bcftools norm -f REF -m-any` into a bgzipped, indexed VCF (used on truth sets too)."""
    out = Path(out_vcf)
    tmp = out.with_name(".tmp-" + out.name)
    try:
        _run_pipe([["bcftools", "norm", "-f", str(ref.path), "-m-any", "-Oz", str(vcf)]], tmp)
    except StageError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(
            str(vcf),
            f"cannot normalise against {ref.path.name}: {err.cause.strip()[-300:]}",
            hint="check that the VCF was made against this reference",
        ) from err
    pysam.tabix_index(str(tmp), preset="vcf", force=True)
    os.replace(str(tmp) + ".tbi", str(out) + ".tbi")
    os.replace(tmp, out)
    return out


__all__ = [
    "CALLERS",
    "call_variants",
    "caller_commands",
    "declare_mq_float",
    "merge_shards",
    "normalize_vcf",
    "shard_regions",
    "start_pipe",
    "wait_pipe",
]
