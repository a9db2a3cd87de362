"""A simulated cohort with known truth: msprime genotypes, per-sample coverage gaps and no-calls.

`simulate_cohort` gives the genotypes and the truth (AC and AN at every site); `sample_calls` turns one
sample into `cohort_calls` rows directly (for big cohorts), and `write_gvcf` writes the same sample as a
bcftools-style gVCF (blocks with ALT '.', INFO/END and MinDP; GT ./. for no-calls), with `write_reference`
giving the FASTA that `bcftools merge --gvcf` needs. Everything is a function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from labstream.cohort.gvcf import calls_table

__all__ = [
    "OneSample",
    "SimCohort",
    "covered_mask",
    "reference_fasta",
    "sample_calls",
    "sample_gvcf",
    "sample_rows",
    "simulate_cohort",
    "write_gvcf",
    "write_reference",
]


@dataclass
class SimCohort:
    contig: str
    length: int
    positions: np.ndarray  # 0-based, sorted, unique (biallelic sites only)
    ref: np.ndarray  # one base per site
    alt: np.ndarray
    genotypes: np.ndarray  # sites x samples: alt copies 0..2
    gaps: list[list[tuple[int, int]]]  # per sample: not-covered [start, end) intervals
    nocall: np.ndarray  # sites x samples: True where the sample's call is ./. (at covered sites)
    names: list[str]
    seed: int

    def covered(self, j: int) -> np.ndarray:
        """Per site: whether sample j covers it (outside its gaps)."""
        return covered_mask(self.positions, self.gaps[j])

    def one(self, j: int) -> OneSample:
        return OneSample(
            self.contig,
            self.length,
            self.positions,
            self.ref,
            self.alt,
            self.genotypes[:, j],
            self.gaps[j],
            self.nocall[:, j],
            self.names[j],
        )

    def truth(self) -> tuple[np.ndarray, np.ndarray]:
        """(AC, AN) at every site over all samples."""
        called = np.stack([self.covered(j) for j in range(len(self.names))], axis=1) & ~self.nocall
        return (self.genotypes * called).sum(axis=1), 2 * called.sum(axis=1)


def simulate_cohort(
    n: int,
    length: int,
    seed: int,
    *,
    contig: str = "chr1",
    gaps_per_sample: float = 2.0,
    gap_len: int = 3000,
    nocall_rate: float = 0.02,
    ne: int = 10_000,
) -> SimCohort:
    import msprime

    ts = msprime.sim_ancestry(
        samples=n, sequence_length=length, recombination_rate=1e-8, population_size=ne, random_seed=seed
    )
    ts = msprime.sim_mutations(ts, rate=1.5e-8, random_seed=seed)
    rng = np.random.default_rng(seed)
    pos, ref, alt, rows = [], [], [], []
    for v in ts.variants():
        if len(v.site.mutations) == 1 and int(v.site.position) > 0:
            hap = v.genotypes.reshape(n, 2)
            pos.append(int(v.site.position))
            ref.append(v.site.ancestral_state)
            alt.append(v.site.mutations[0].derived_state)
            rows.append(hap.sum(axis=1).astype(np.int8))
    g = np.array(rows, dtype=np.int8).reshape(len(pos), n)
    gaps = []
    for _ in range(n):
        k = rng.poisson(gaps_per_sample)
        starts = np.sort(rng.integers(0, length, k))
        gaps.append([(int(s), int(min(length, s + rng.integers(1, gap_len)))) for s in starts])
    nocall = rng.random(g.shape) < nocall_rate
    return SimCohort(
        contig,
        length,
        np.array(pos, np.int64),
        np.array(ref),
        np.array(alt),
        g,
        gaps,
        nocall,
        [f"S{seed}_{j:05d}" for j in range(n)],
        seed,
    )


@dataclass(frozen=True)
class OneSample:
    """One sample's view of a cohort: what `sample_rows` and `sample_gvcf` need (no cohort matrix)."""

    contig: str
    length: int
    positions: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    genotype: np.ndarray  # per site: alt copies 0..2
    gaps: list[tuple[int, int]]
    nocall: np.ndarray  # per site
    name: str

    def covered(self) -> np.ndarray:
        return covered_mask(self.positions, self.gaps)


def covered_mask(positions: np.ndarray, gaps: list[tuple[int, int]]) -> np.ndarray:
    """Per site: outside every not-covered [start, end) interval."""
    ok = np.ones(len(positions), bool)
    for s, e in gaps:
        ok[np.searchsorted(positions, s) : np.searchsorted(positions, e)] = False
    return ok


def _blocks(o: OneSample, var_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covered stretches between the sample's own records: [0, L) minus gaps minus record positions."""
    gaps = np.array(o.gaps, np.int64).reshape(-1, 2)
    var_pos = np.asarray(var_pos, np.int64)
    cuts = np.concatenate([gaps, np.stack([var_pos, var_pos + 1], axis=1)])
    cuts = cuts[np.lexsort((cuts[:, 1], cuts[:, 0]))]
    if len(cuts) == 0:
        return np.array([0], np.int64), np.array([o.length], np.int64)
    reach = np.maximum.accumulate(cuts[:, 1])  # end of everything cut so far
    prev = np.r_[0, reach[:-1]]
    keep = cuts[:, 0] > prev
    starts = np.r_[prev[keep], reach[-1]]
    ends = np.r_[cuts[keep, 0], o.length]
    ok = ends > starts
    return starts[ok].astype(np.int64), ends[ok].astype(np.int64)


def _records(o: OneSample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the sites where the sample has a record (a called alt, or a no-call), its ac and an."""
    rec = o.covered() & ((o.genotype > 0) | o.nocall)
    idx = np.flatnonzero(rec)
    an = np.where(o.nocall[idx], 0, 2).astype(np.int8)
    ac = np.where(an > 0, o.genotype[idx], 0).astype(np.int8)
    return idx, ac, an


def sample_calls(c: SimCohort, j: int, max_block: int, batch: str = "") -> pa.Table:
    return sample_rows(c.one(j), max_block, batch)


def sample_rows(o: OneSample, max_block: int, batch: str = "") -> pa.Table:
    """The sample as `cohort_calls` rows, as `read_gvcf` would give them from its gVCF."""
    idx, ac, an = _records(o)
    bs, be = _blocks(o, o.positions[idx])
    n = len(idx)
    var = {
        "contig": [o.contig] * n,
        "start": o.positions[idx],
        "end": o.positions[idx] + 1,
        "ref": o.ref[idx].tolist(),
        "alt": o.alt[idx].tolist(),
        "ac": ac,
        "an": an,
        "dp": [20] * n,
        "gq": [60] * n,
    }
    ref = {
        "contig": [o.contig] * len(bs),
        "start": bs,
        "end": be,
        "an": np.full(len(bs), 2, np.int8),
        "dp": [10] * len(bs),
        "gq": [None] * len(bs),
    }
    return calls_table(o.name, batch, var, ref, max_block)


def write_reference(c: SimCohort, path: Path) -> Path:
    return reference_fasta(c.contig, c.length, c.positions, c.ref, c.seed, path)


def reference_fasta(
    contig: str, length: int, positions: np.ndarray, ref: np.ndarray, seed: int, path: Path
) -> Path:
    """A random reference (a function of the seed) carrying `ref` at `positions`, indexed."""
    import pysam

    rng = np.random.default_rng(seed + 1)
    seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, length)]
    seq[positions] = np.frombuffer("".join(ref.tolist()).encode(), np.uint8)
    with open(path, "wb") as fh:
        fh.write(f">{contig}\n".encode())
        for i in range(0, length, 6_000_000):  # 60 bases a line, 100,000 lines at a time
            chunk = seq[i : i + 6_000_000]
            full = len(chunk) // 60 * 60
            lines = np.hstack([chunk[:full].reshape(-1, 60), np.full((full // 60, 1), 10, np.uint8)])
            fh.write(lines.tobytes())
            if full < len(chunk):
                fh.write(chunk[full:].tobytes() + b"\n")
    pysam.faidx(str(path))
    return path


def write_gvcf(c: SimCohort, j: int, reference: Path, path: Path) -> Path:
    """Sample j as a bgzipped, indexed gVCF like `bcftools call -m --gvcf` writes."""
    return sample_gvcf(c.one(j), reference, path)


def sample_gvcf(o: OneSample, reference: Path, path: Path) -> Path:
    """One sample as a bgzipped, indexed gVCF (blocks: ALT '.', INFO/END, MinDP; no-calls: ./.)."""
    import pysam

    fa = pysam.FastaFile(str(reference))
    idx, ac, an = _records(o)
    bs, be = _blocks(o, o.positions[idx])
    lines = [
        (
            int(o.positions[i]),
            f"{o.ref[i]}\t{o.alt[i]}\t50\t.\t.\tGT:DP",
            "./." if a == 0 else {0: "0/0", 1: "0/1", 2: "1/1"}[int(k)] + ":20",
        )
        for i, k, a in zip(idx, ac, an, strict=True)
    ]
    for s, e in zip(bs, be, strict=True):
        lines.append(
            (
                int(s),
                f"{fa.fetch(o.contig, int(s), int(s) + 1)}\t.\t.\t.\tEND={int(e)};MinDP=10\tGT:DP",
                "0/0:10",
            )
        )
    lines.sort()
    raw = path.with_suffix("")
    with open(raw, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write(f"##contig=<ID={o.contig},length={o.length}>\n")
        fh.write('##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the block">\n')
        fh.write('##INFO=<ID=MinDP,Number=1,Type=Integer,Description="Minimum depth in the block">\n')
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write('##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n')
        fh.write(f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{o.name}\n")
        fh.writelines(f"{o.contig}\t{p + 1}\t.\t{mid}\t{gt}\n" for p, mid, gt in lines)
    pysam.tabix_index(str(raw), preset="vcf", force=True)
    return Path(str(raw) + ".gz")
