"""A nanopore sequencer simulator: ONT-like long reads with indel-heavy errors, written as MinKNOW does.

    RUN/fastq_pass/barcode01/FLO12345_pass_barcode01_<run8>_<acq8>_<batch>.fastq.gz   (batches over time)
    RUN/fastq_pass/unclassified/FLO12345_pass_unclassified_<run8>_<acq8>_0.fastq.gz   (no barcode found)
    RUN/fastq_fail/barcode01/FLO12345_fail_barcode01_<run8>_<acq8>_0.fastq.gz         (failed qscore filter)
    RUN/sequencing_summary_FLO12345_<run8>_<acq8>.txt, then RUN/final_summary_FLO12345_<run8>_<acq8>.txt

The final summary is written last: it is the end marker a streaming pipeline waits for. With
`output="bam"` the batches are unaligned BAM as MinKNOW writes with basecalling to BAM (bam_pass/, bam_fail/,
`..._N.bam`): the same reads, bases and qualities, an @RG per barcode, and MM/ML tags marking each CpG's C
with a 5mC probability (as Dorado's modified-base models do), so the tags' path through alignment is tested.

Read model (why these numbers): R9.4.1/R10.4.1 reads from Guppy/Dorado "hac" run at roughly 92-97%
identity per read, with deletions the most common error, then insertions and substitutions, and most
indel errors in homopolymers (the basecaller miscounts run lengths). Here: read lengths log-normal
(median `median_length`), a per-read error scale drawn around `error_rate` (so reads differ in quality as
real reads do), errors split 45% deletion / 25% insertion / 30% substitution, plus a run-length error at
the last base of homopolymers of 3 or more (`homopolymer_error`), Phred qualities lower where errors are.
Truth variants are planted with the Illumina simulator's functions, so both have the same truth format.
"""

from __future__ import annotations

import gzip
import os
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from labstream.instruments.planting import PlantedVariant, PlantSpec
from labstream.instruments.sequencer import (
    BASES,
    plant_truth,
    write_atomic,
    write_truth_vcf,
)
from labstream.layouts.minknow import UNCLASSIFIED

_COMP = bytes.maketrans(b"ACGT", b"TGCA")
FLOWCELL = "FLO12345"


@dataclass(frozen=True)
class NanoporeConfig(PlantSpec):
    """A long-read run: what to plant (PlantSpec; variants stay 158 bases from contig ends, as in the
    short-read simulator's default), then the reads."""

    coverage: float = 30.0
    median_length: int = 4000
    length_sigma: float = 0.6
    min_length: int = 300
    error_rate: float = 0.06  # mean per-base error (deletions + insertions + substitutions)
    homopolymer_error: float = 0.15  # run-length error at the last base of a homopolymer of 3+
    seed: int = 7
    sample: str = "ONT1"


@dataclass
class NanoporeReads:
    reference: Path
    fastq: Path
    truth_vcf: Path
    variants: list[PlantedVariant] = field(default_factory=list)
    reads: int = 0
    bases: int = 0


def _mutate(
    seq: np.ndarray, rate: float, hp_err: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ONT-like errors to one read (uint8 ASCII): returns (bases, Phred qualities)."""
    n = len(seq)
    r = rng.random(n)
    p_del, p_ins, p_sub = 0.45 * rate, 0.25 * rate, 0.30 * rate
    dele = r < p_del
    ins = (r >= p_del) & (r < p_del + p_ins)
    sub = (r >= p_del + p_ins) & (r < p_del + p_ins + p_sub)
    # homopolymer run-length errors: the last base of each run of 3+ identical bases
    change = np.flatnonzero(np.diff(seq) != 0)
    ends = np.append(change, n - 1)
    starts = np.insert(change + 1, 0, 0)
    long_ends = ends[(ends - starts + 1) >= 3]
    hp = long_ends[rng.random(len(long_ends)) < hp_err]
    hp_del = hp[rng.random(len(hp)) < 0.6]
    hp_ins = np.setdiff1d(hp, hp_del)
    dele[hp_del] = True
    out = seq.copy()
    codes = np.searchsorted(BASES, out[sub]) % 4
    out[sub] = BASES[(codes + rng.integers(1, 4, size=int(sub.sum()))) % 4]
    counts = np.ones(n, dtype=np.int64)
    counts[dele] = 0
    counts[ins & ~dele] = 2
    dup = np.zeros(n, dtype=bool)
    dup[hp_ins] = True
    counts[dup & ~dele] = 2
    result = np.repeat(out, counts)
    err = np.repeat(sub | ins, counts)
    last = np.cumsum(counts) - 1
    random_ins = np.flatnonzero(ins & ~dele & ~dup)
    result[last[random_ins]] = BASES[rng.integers(0, 4, size=len(random_ins))]
    q = rng.normal(16.0, 4.0, size=len(result)) - 8.0 * err
    return result, np.clip(np.rint(q), 2, 40).astype(np.uint8) + 33


def simulate_nanopore(
    reference_fa: str | Path, out_dir: str | Path, cfg: NanoporeConfig | None = None
) -> NanoporeReads:
    """Plant variants, sample long reads from both haplotypes and write one FASTQ (gz) + the truth VCF."""
    cfg = cfg or NanoporeConfig()
    out = Path(out_dir)
    reference, variants, haps, rng = plant_truth(reference_fa, out, cfg, cfg.seed)
    ref_copy = out / "reference.fa"
    fastq = out / f"{cfg.sample}.fastq.gz"
    n_reads = n_bases = 0
    with gzip.open(fastq, "wb", compresslevel=3) as fh:
        for name, seq, qual in _reads(haps, cfg, rng):
            fh.write(b"@" + name + b"\n" + seq.tobytes() + b"\n+\n" + qual.tobytes() + b"\n")
            n_reads += 1
            n_bases += len(seq)
    truth = write_truth_vcf(out / f"{cfg.sample}.truth.vcf", reference, variants, cfg.sample)
    return NanoporeReads(ref_copy, fastq, truth, variants, n_reads, n_bases)


def _reads(
    haps: list[dict[str, str]], cfg: NanoporeConfig, rng: np.random.Generator
) -> Iterator[tuple[bytes, np.ndarray, np.ndarray]]:
    for contig in haps[0]:
        genomes = [np.frombuffer(h[contig].encode(), dtype=np.uint8) for h in haps]
        size = len(genomes[0])
        target = cfg.coverage * size
        done = 0
        while done < target:
            g = genomes[int(rng.integers(0, len(genomes)))]
            length = int(
                np.clip(rng.lognormal(np.log(cfg.median_length), cfg.length_sigma), cfg.min_length, len(g))
            )
            start = int(rng.integers(0, len(g) - length + 1))
            frag = g[start : start + length]
            if rng.random() < 0.5:
                frag = np.frombuffer(frag.tobytes().translate(_COMP)[::-1], dtype=np.uint8)
            rate = cfg.error_rate * float(rng.uniform(0.5, 1.5))
            seq, qual = _mutate(frag, rate, cfg.homopolymer_error, rng)
            a, b, c, d, e = (int(rng.integers(0, 2**bits)) for bits in (32, 16, 16, 16, 48))
            read_id = f"{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}"
            done += length
            yield read_id.encode(), seq, qual


def _records(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    return [b"\n".join(lines[i : i + 4]) + b"\n" for i in range(0, len(lines) - 3, 4)]


def write_minknow_run(
    run_dir: str | Path,
    reads: dict[str, Path],
    *,
    reads_per_batch: int = 100,
    interval_s: float = 0.0,
    unclassified: int = 5,
    failed: int = 5,
    run_id: str = "a1b2c3d4e5f6",
    acquisition: str = "0f9e8d7c",
    complete: bool = True,
    on_batch: Callable[[int], None] | None = None,
    output: str = "fastq",
    sheet: dict[str, str] | None = None,
) -> dict[str, list[Path]]:
    """Write a MinKNOW run folder from one FASTQ per barcode (`reads`: barcodeNN -> FASTQ), batch by
    batch, round-robin over barcodes as a flow cell delivers them, `interval_s` apart; the first
    `failed` reads of each barcode go to fastq_fail/ and `unclassified` reads to unclassified/.
    `on_batch(n)` is called after batch round n landed (a test waits there for the pipeline to react).
    `output`: "fastq" (fastq_pass/, .fastq.gz) or "bam" (bam_pass/, unaligned .bam with MM/ML tags).
    `sheet` (barcodeNN -> alias): MinKNOW's sample sheet, written first as MinKNOW copies it into the run
    folder when the run starts (it may list barcodes without reads and leave out barcodes with reads).
    Returns the pass batches written per barcode, in batch order."""
    if output not in ("fastq", "bam"):
        raise ValueError(f"output must be 'fastq' or 'bam', not {output!r}")
    run = Path(run_dir)
    ext = "fastq.gz" if output == "fastq" else "bam"
    if sheet is not None:
        write_atomic(
            run / f"sample_sheet_{FLOWCELL}_20261206_1200_{run_id[:8]}.csv", _sheet_csv(sheet, run.name)
        )

    def write(status: str, bc: str, batch: int, recs: list[bytes]) -> Path:
        path = (
            run
            / f"{output}_{status}"
            / bc
            / f"{FLOWCELL}_{status}_{bc}_{run_id[:8]}_{acquisition}_{batch}.{ext}"
        )
        if output == "fastq":
            return write_atomic(path, b"".join(recs), gz=True)
        return _write_unaligned_bam(path, recs, f"{run_id[:8]}_{bc}", bc)

    stem = f"{FLOWCELL}_{run_id[:8]}_{acquisition}"
    passed: dict[str, list[bytes]] = {}
    summary = [
        f"filename_{output}\tread_id\trun_id\tpasses_filtering\tsequence_length_template\tbarcode_arrangement"
    ]
    for bc, path in reads.items():
        recs = _records(path)
        fail, passed[bc] = recs[:failed], recs[failed:]
        if fail:
            name = write("fail", bc, 0, fail).name
            summary += [_summary_line(name, r, run_id, False, bc) for r in fail]
    if unclassified:
        first = next(iter(passed))
        noise = passed[first][:unclassified]
        name = write("pass", UNCLASSIFIED, 0, noise).name
        summary += [_summary_line(name, r, run_id, True, "unclassified") for r in noise]
    written: dict[str, list[Path]] = {bc: [] for bc in reads}
    batches = {
        bc: [recs[i : i + reads_per_batch] for i in range(0, len(recs), reads_per_batch)]
        for bc, recs in passed.items()
    }
    for b in range(max(len(v) for v in batches.values())):
        for bc, chunks in batches.items():
            if b < len(chunks):
                written[bc].append(write("pass", bc, b, chunks[b]))
                name = written[bc][-1].name
                summary += [_summary_line(name, r, run_id, True, bc) for r in chunks[b]]
        if interval_s:
            time.sleep(interval_s)
        if on_batch is not None:
            on_batch(b)
    if complete:
        write_atomic(run / f"sequencing_summary_{stem}.txt", ("\n".join(summary) + "\n").encode())
        total = sum(len(v) for v in written.values())
        lines = [
            "instrument=MN00000",
            f"flow_cell_id={FLOWCELL}",
            f"protocol_run_id={run_id}",
            f"acquisition_run_id={acquisition}",
            f"sample_id={run.name}",
            f"fastq_files_in_final_dest={total}",
            "basecalling_enabled=1",
            f"sequencing_summary_file=sequencing_summary_{stem}.txt",
        ]
        write_atomic(run / f"final_summary_{stem}.txt", ("\n".join(lines) + "\n").encode())
    return written


def _write_unaligned_bam(path: Path, recs: list[bytes], read_group: str, sample: str) -> Path:
    """FASTQ records -> an unaligned BAM as Dorado writes it (flag 4, RG tag, MM/ML for CpG 5mC), written
    under a hidden `.part` name and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    header = {"HD": {"VN": "1.6", "SO": "unknown"}, "RG": [{"ID": read_group, "SM": sample, "PL": "ONT"}]}
    rng = np.random.default_rng(len(recs))
    with pysam.AlignmentFile(str(tmp), "wb", header=header) as out:
        for rec in recs:
            name, seq, _plus, qual = rec.split(b"\n")[:4]
            read = pysam.AlignedSegment(out.header)
            read.query_name = name[1:].split()[0].decode()
            read.flag = 4
            read.query_sequence = seq.decode()
            read.query_qualities = pysam.qualitystring_to_array(qual.decode())
            read.set_tag("RG", read_group)
            skips = _cpg_skips(np.frombuffer(seq, dtype=np.uint8))
            if len(skips):
                read.set_tag("MM", "C+m?," + ",".join(map(str, skips)) + ";")
                read.set_tag("ML", array("B", rng.integers(0, 256, size=len(skips)).tolist()))
            out.write(read)
    os.replace(tmp, path)
    return path


def _cpg_skips(seq: np.ndarray) -> np.ndarray:
    """MM skip counts that mark every C followed by G (counted among the read's Cs)."""
    cs = np.flatnonzero(seq == ord("C"))
    cpg = np.flatnonzero(seq[np.minimum(cs + 1, len(seq) - 1)] == ord("G"))
    cpg = cpg[cs[cpg] + 1 < len(seq)]
    return np.diff(np.concatenate([[-1], cpg])) - 1


def _sheet_csv(sheet: dict[str, str], experiment: str) -> bytes:
    rows = ["flow_cell_id,kit,sample_id,experiment_id,barcode,alias,type"]
    rows += [
        f"{FLOWCELL},SQK-NBD114-24,lib1,{experiment},{bc},{alias},test_sample" for bc, alias in sheet.items()
    ]
    return ("\n".join(rows) + "\n").encode()


def _summary_line(fastq: str, rec: bytes, run_id: str, passed: bool, barcode: str) -> str:
    read_id = rec[1:].split(b"\n", 1)[0].split()[0].decode()
    length = len(rec.split(b"\n")[1])
    return f"{fastq}\t{read_id}\t{run_id}\t{'TRUE' if passed else 'FALSE'}\t{length}\t{barcode}"


__all__ = ["NanoporeConfig", "NanoporeReads", "simulate_nanopore", "write_minknow_run"]
