"""A sequencer simulator: plants known variants in a reference and emits paired Illumina-like reads.

Why our own simulator (numpy) rather than dwgsim: we need the truth VCF in exactly the representation the
pipeline normalises to, control of het/hom genotypes, and chunked streaming into a watched folder like a
running instrument; the read model (position-dependent Phred qualities, errors drawn from them, normal
insert sizes, both haplotypes sampled equally) is a few vectorised lines.

Outputs of `simulate_run`: `<sample>_R1.fastq.gz`, `<sample>_R2.fastq.gz`, `<sample>.truth.vcf.gz` (+ .tbi),
the reference copy with its `.fai`, a GFF3 of the longest open reading frames (genes for annotation tests)
and a known-variants VCF with ClinVar-like `CLNSIG`. `stream_chunks` then drops FASTQ chunks into a folder
over time, each written under a temporary name and renamed into place (a watcher never sees half a file).
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from labstream.core.errors import InputError
from labstream.instruments.indel_errors import add_indel_errors
from labstream.instruments.planting import PlantedVariant, PlantSpec, haplotypes, plant_variants
from labstream.instruments.systematic_errors import motif_sites, strand_errors

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_COMP = bytes.maketrans(b"ACGTN", b"TGCAN")


@dataclass(frozen=True)
class SimConfig(PlantSpec):
    """A short-read run: what to plant (PlantSpec: snps, indels, het_fraction, max_indel, spacing), then
    the reads."""

    coverage: float = 30.0
    read_length: int = 150
    insert_mean: int = 350
    insert_sd: int = 35
    q_start: float = 37.0  # mean Phred at the first cycle ...
    q_end: float = 28.0  # ... falling linearly to this at the last cycle
    seed: int = 7
    sample: str = "SIM1"
    systematic_rate: float = 0.0  # > 0: strand-specific errors after GGC (systematic_errors.py)
    # allelic imbalance: the share of the pairs drawn from haplotype 0 (hets there show about this ALT
    # fraction, those on haplotype 1 the rest); None: both haplotypes equally, as before
    haplotype_share: float | None = None
    # reported qualities this many Phred points above the error rate the errors are drawn at (0: calibrated):
    # instruments and simulators that overstate (Mason's defaults report mismatches at Q30-40 for 0.2-1.2 %
    # errors) make two matching errors look like a het's evidence
    quality_overstatement: float = 0.0
    indel_error_rate: float = 0.0  # per base: 1-base insertion/deletion errors (indel_errors.py); 0: none

    def end_margin(self) -> int:
        return self.read_length + self.max_indel  # a read never hangs off a contig over a variant


@dataclass
class SimulatedRun:
    reference: Path
    r1: Path
    r2: Path
    truth_vcf: Path
    gff3: Path
    known_vcf: Path
    variants: list[PlantedVariant] = field(default_factory=list)
    pairs: int = 0


def read_fasta(path: str | Path) -> dict[str, str]:
    """Contig name -> upper-case sequence; raises InputError for a missing or empty FASTA."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), "reference FASTA does not exist", hint="pass an existing FASTA file")
    with pysam.FastxFile(str(p)) as fh:
        seqs = {rec.name: rec.sequence.upper() for rec in fh}
    if not seqs:
        raise InputError(str(p), "reference FASTA has no sequences", hint="check the file")
    return seqs


def _complement(a: np.ndarray) -> np.ndarray:
    return np.frombuffer(a.tobytes().translate(_COMP), dtype=np.uint8).reshape(a.shape)


def _revcomp(a: np.ndarray) -> np.ndarray:
    return _complement(a)[:, ::-1]


def simulate_pairs(
    haps: list[dict[str, str]], cfg: SimConfig, rng: np.random.Generator, batch: int = 20000
) -> Iterator[tuple[list[bytes], np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield batches of (names, seq1, qual1, seq2, qual2) as uint8 arrays (ASCII), fragment by fragment."""
    length = cfg.read_length
    idx = 0
    cycle = np.linspace(cfg.q_start, cfg.q_end, length)
    for h, hap in enumerate(haps):
        for contig, seq in hap.items():
            genome = np.frombuffer(seq.encode(), dtype=np.uint8)
            sites = motif_sites(genome, rng, cfg.systematic_rate) if cfg.systematic_rate > 0 else None
            if cfg.haplotype_share is None:
                n_pairs = int(round(len(seq) * cfg.coverage / (2 * length) / len(haps)))
            else:
                share = cfg.haplotype_share if h == 0 else 1.0 - cfg.haplotype_share
                n_pairs = int(round(len(seq) * cfg.coverage / (2 * length) * share))
            for b0 in range(0, n_pairs, batch):
                n = min(batch, n_pairs - b0)
                inserts = np.clip(
                    rng.normal(cfg.insert_mean, cfg.insert_sd, n).astype(int), length, len(seq) - 1
                )
                starts = rng.integers(0, len(seq) - inserts)
                ar = np.arange(length)
                s1 = genome[starts[:, None] + ar]
                s2 = _revcomp(genome[(starts + inserts - length)[:, None] + ar])
                reads = []
                for m, s in enumerate((s1, s2)):
                    q = np.clip(np.rint(cycle + rng.normal(0, 3, size=(n, length))), 2, 41).astype(np.uint8)
                    err = rng.random((n, length)) < 10.0 ** (-q.astype(np.float64) / 10.0)
                    s = s.copy()
                    shift = rng.integers(1, 4, size=int(err.sum()))
                    codes = np.searchsorted(BASES, s[err]) % 4
                    s[err] = BASES[(codes + shift) % 4]
                    if cfg.quality_overstatement:
                        q = np.clip(q + round(cfg.quality_overstatement), 2, 41).astype(np.uint8)
                    if sites is not None:  # read base j of mate 2 lies at genome position end - j
                        at = (starts if m == 0 else starts + inserts - length)[:, None] + ar
                        s, q = strand_errors(s, q, sites[m], at if m == 0 else at[:, ::-1], rng)
                    if cfg.indel_error_rate > 0:
                        s = add_indel_errors(
                            s, _following(genome, starts, inserts, length, m), cfg.indel_error_rate, rng
                        )
                    reads.append((s, q + 33))
                names = [f"{cfg.sample}:{h}:{contig}:{idx + i}".encode() for i in range(n)]
                idx += n
                yield names, reads[0][0], reads[0][1], reads[1][0], reads[1][1]


def _following(
    genome: np.ndarray, starts: np.ndarray, inserts: np.ndarray, length: int, mate: int
) -> np.ndarray:
    """The genome base after each read's end in read orientation (mate 2 reads the reverse strand)."""
    if mate == 0:
        return genome[np.minimum(starts + length, len(genome) - 1)]
    return _complement(genome[np.maximum(starts + inserts - length - 1, 0)])


def _fastq_block(names: list[bytes], seqs: np.ndarray, quals: np.ndarray, order: np.ndarray) -> bytes:
    parts = []
    for i in order.tolist():
        parts.append(b"@" + names[i] + b"\n" + seqs[i].tobytes() + b"\n+\n" + quals[i].tobytes() + b"\n")
    return b"".join(parts)


def write_truth_vcf(
    path: Path,
    reference: dict[str, str],
    variants: list[PlantedVariant],
    sample: str,
    info: dict[tuple[str, int, str, str], str] | None = None,
) -> Path:
    """Write a sorted VCF 4.2, bgzip it and index it with tabix; returns the .vcf.gz path."""
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    lines = [
        "##fileformat=VCFv4.2",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##INFO=<ID=CLNSIG,Number=1,Type=String,Description="Clinical significance">',
    ]
    lines += [f"##contig=<ID={name},length={len(seq)}>" for name, seq in reference.items()]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + sample)
    order = {name: i for i, name in enumerate(reference)}
    for site in _sites(sorted(variants, key=lambda v: (order[v.contig], v.pos))):
        v = site[0]
        inf = (info or {}).get((v.contig, v.pos, v.ref, v.alt), ".")
        ref = max((x.ref for x in site), key=len)  # a 1/2 site: one record, ALTs padded to the longest REF
        alts = ",".join(x.alt + ref[len(x.ref) :] for x in site)
        gt = v.genotype if len(site) == 1 else "1/2"
        lines.append(f"{v.contig}\t{v.pos}\t.\t{ref}\t{alts}\t.\tPASS\t{inf}\tGT\t{gt}")
    plain.write_text("\n".join(lines) + "\n")
    out = pysam.tabix_index(str(plain), preset="vcf", force=True, keep_original=False)
    return Path(out)


def _sites(variants: list[PlantedVariant]) -> list[list[PlantedVariant]]:
    """Sorted variants grouped by (contig, pos): two at one position are a planted 1/2 (planting.py)."""
    sites: list[list[PlantedVariant]] = []
    for v in variants:
        if sites and (sites[-1][0].contig, sites[-1][0].pos) == (v.contig, v.pos):
            sites[-1].append(v)
        else:
            sites.append([v])
    return sites


def write_orf_gff3(path: Path, reference: dict[str, str], min_codons: int = 150, limit: int = 40) -> Path:
    """Genes for annotation: the longest ATG..stop open reading frames on both strands, as GFF3."""
    from Bio.Seq import Seq

    rows = ["##gff-version 3"]
    n = 0
    for contig, seq in reference.items():
        found: list[tuple[int, int, str]] = []
        for strand, s in (("+", seq), ("-", str(Seq(seq).reverse_complement()))):
            for frame in range(3):
                prot = str(Seq(s[frame : frame + 3 * ((len(s) - frame) // 3)]).translate())
                aa0 = 0
                for segment in prot.split("*"):
                    m = segment.find("M")
                    if m >= 0 and len(segment) - m >= min_codons:
                        start = frame + 3 * (aa0 + m)
                        end = frame + 3 * (aa0 + len(segment)) + 3  # include the stop codon
                        if strand == "+":
                            found.append((start + 1, end, "+"))
                        else:
                            found.append((len(s) - end + 1, len(s) - start, "-"))
                    aa0 += len(segment) + 1
        found.sort(key=lambda t: t[1] - t[0], reverse=True)
        kept: list[tuple[int, int, str]] = []
        for f in found:
            if len(kept) < limit and all(f[1] < k[0] or f[0] > k[1] for k in kept):
                kept.append(f)
        for start, end, strand in sorted(kept):
            n += 1
            gid = f"orf{n}"
            rows.append(f"{contig}\tsim\tgene\t{start}\t{end}\t.\t{strand}\t.\tID={gid};Name={gid}")
            rows.append(f"{contig}\tsim\tCDS\t{start}\t{end}\t.\t{strand}\t0\tID=cds-{gid};Parent={gid}")
    path.write_text("\n".join(rows) + "\n")
    return path


def plant_truth(
    reference_fa: str | Path, out: Path, cfg: PlantSpec, seed: int
) -> tuple[dict[str, str], list[PlantedVariant], list[dict[str, str]], np.random.Generator]:
    """The start of a simulated run (either simulator): the reference, copied and indexed into `out`
    as reference.fa; the variants planted by `cfg`; the two haplotypes carrying them; and the generator
    (seeded with `seed`) that the reads go on drawing from."""
    out.mkdir(parents=True, exist_ok=True)
    reference = read_fasta(reference_fa)
    rng = np.random.default_rng(seed)
    variants = plant_variants(reference, cfg, rng)
    haps = haplotypes(reference, variants, rng)
    write_indexed_fasta(out / "reference.fa", reference)
    return reference, variants, haps, rng


def simulate_run(reference_fa: str | Path, out_dir: str | Path, cfg: SimConfig | None = None) -> SimulatedRun:
    """Plant variants, simulate reads and write every output of a run into `out_dir`."""
    cfg = cfg or SimConfig()
    out = Path(out_dir)
    reference, variants, haps, rng = plant_truth(reference_fa, out, cfg, cfg.seed)
    ref_copy = out / "reference.fa"

    r1, r2 = out / f"{cfg.sample}_R1.fastq.gz", out / f"{cfg.sample}_R2.fastq.gz"
    pairs = 0
    with gzip.open(r1, "wb", compresslevel=3) as f1, gzip.open(r2, "wb", compresslevel=3) as f2:
        for names, s1, q1, s2, q2 in simulate_pairs(haps, cfg, rng):
            order = rng.permutation(len(names))  # a flow cell reports reads in no genomic order
            f1.write(_fastq_block(names, s1, q1, order))
            f2.write(_fastq_block(names, s2, q2, order))
            pairs += len(names)

    truth = write_truth_vcf(out / f"{cfg.sample}.truth.vcf", reference, variants, cfg.sample)
    gff3 = write_orf_gff3(out / "genes.gff3", reference)
    # known variants: half of the planted ones with a significance, plus a few never planted
    sig = ["Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Benign"]
    known = [v for i, v in enumerate(variants) if i % 2 == 0]
    info = {(v.contig, v.pos, v.ref, v.alt): f"CLNSIG={sig[i % len(sig)]}" for i, v in enumerate(known)}
    known_vcf = write_truth_vcf(out / "known.vcf", reference, known, "KNOWN", info=info)
    return SimulatedRun(ref_copy, r1, r2, truth, gff3, known_vcf, variants, pairs)


def iter_fastq_records(path: Path) -> Iterator[bytes]:
    """Yield raw 4-line FASTQ records (bytes) from a gzipped file: for re-chunking only, no validation."""
    with gzip.open(path, "rb") as fh:
        while True:
            rec = b"".join(fh.readline() for _ in range(4))
            if not rec:
                return
            yield rec


def head_fastq(src: Path, dst: Path, records: int) -> Path:
    """The first `records` records of a gzipped FASTQ written to `dst` (gzipped): a smaller run of the
    same reads for a test."""
    with gzip.open(dst, "wb") as fh:
        for i, rec in enumerate(iter_fastq_records(src)):
            if i >= records:
                break
            fh.write(rec)
    return dst


def chunk_name(sample: str, index: int, total: int, read: int) -> str:
    """`SAMPLE.c0003of0010.R1.fastq.gz`: the total lets a gather know when a sample is complete."""
    return f"{sample}.c{index:04d}of{total:04d}.R{read}.fastq.gz"


def stream_chunks(
    r1: Path,
    r2: Path,
    watch_dir: str | Path,
    *,
    sample: str,
    pairs_per_chunk: int = 5000,
    interval_s: float = 0.0,
    total_pairs: int | None = None,
) -> list[Path]:
    """Write paired FASTQ chunks into `watch_dir` like a running sequencer; returns the landed paths.

    Each chunk is written to a dot-file and renamed into place, so a folder watcher only ever sees
    complete files. `interval_s` sleeps between chunks to emulate cycles finishing over time.
    """
    watch = Path(watch_dir)
    watch.mkdir(parents=True, exist_ok=True)
    if total_pairs is None:
        total_pairs = sum(1 for _ in iter_fastq_records(r1))
    total = max(1, -(-total_pairs // pairs_per_chunk))
    landed: list[Path] = []
    it1, it2 = iter_fastq_records(r1), iter_fastq_records(r2)
    for c in range(total):
        for read, it in ((1, it1), (2, it2)):
            name = chunk_name(sample, c, total, read)
            tmp = watch / f".{name}.part"
            with gzip.open(tmp, "wb", compresslevel=3) as fh:
                for _ in range(pairs_per_chunk):
                    rec = next(it, None)
                    if rec is None:
                        break
                    fh.write(rec)
            os.replace(tmp, watch / name)
            landed.append(watch / name)
        if interval_s and c + 1 < total:
            time.sleep(interval_s)
    return landed


def write_indexed_fasta(path: Path, reference: dict[str, str]) -> Path:
    """The simulator's copy of its reference (70 bases a line) with its .fai, as aligners want it."""
    with open(path, "w") as fh:
        for name, seq in reference.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 70] + "\n" for i in range(0, len(seq), 70))
    pysam.faidx(str(path))
    return path


def write_atomic(path: Path, data: bytes, *, gz: bool = False) -> Path:
    """Write as an instrument does: under a hidden `.part` name, then one rename (gzip if `gz`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    if gz:
        with gzip.open(tmp, "wb", compresslevel=3) as fh:
            fh.write(data)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


__all__ = [
    "PlantSpec",
    "PlantedVariant",
    "SimConfig",
    "SimulatedRun",
    "chunk_name",
    "haplotypes",
    "head_fastq",
    "plant_truth",
    "plant_variants",
    "read_fasta",
    "simulate_pairs",
    "simulate_run",
    "stream_chunks",
    "write_atomic",
    "write_indexed_fasta",
    "write_orf_gff3",
    "write_truth_vcf",
]
