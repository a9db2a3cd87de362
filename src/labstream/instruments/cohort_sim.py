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

__all__ = ["SimCohort", "sample_calls", "simulate_cohort", "write_gvcf", "write_reference"]


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
        ok = np.ones(len(self.positions), bool)
        for s, e in self.gaps[j]:
            ok[(self.positions >= s) & (self.positions < e)] = False
        return ok

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


def _blocks(c: SimCohort, j: int, var_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covered stretches between the sample's own records: [0, L) minus gaps minus record positions."""
    cuts = [(s, e) for s, e in c.gaps[j]] + [(int(p), int(p) + 1) for p in var_pos]
    cuts.sort()
    starts, ends, cur = [], [], 0
    for s, e in cuts:
        if s > cur:
            starts.append(cur)
            ends.append(s)
        cur = max(cur, e)
    if cur < c.length:
        starts.append(cur)
        ends.append(c.length)
    return np.array(starts, np.int64), np.array(ends, np.int64)


def _records(c: SimCohort, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the sites where sample j has a record (a called alt, or a no-call), its ac and an."""
    cov = c.covered(j)
    rec = cov & ((c.genotypes[:, j] > 0) | c.nocall[:, j])
    idx = np.flatnonzero(rec)
    an = np.where(c.nocall[idx, j], 0, 2).astype(np.int8)
    ac = np.where(an > 0, c.genotypes[idx, j], 0).astype(np.int8)
    return idx, ac, an


def sample_calls(c: SimCohort, j: int, max_block: int, batch: str = "") -> pa.Table:
    idx, ac, an = _records(c, j)
    bs, be = _blocks(c, j, c.positions[idx])
    n = len(idx)
    var = {
        "contig": [c.contig] * n,
        "start": c.positions[idx],
        "end": c.positions[idx] + 1,
        "ref": c.ref[idx].tolist(),
        "alt": c.alt[idx].tolist(),
        "ac": ac,
        "an": an,
        "dp": [20] * n,
        "gq": [60] * n,
    }
    ref = {
        "contig": [c.contig] * len(bs),
        "start": bs,
        "end": be,
        "an": np.full(len(bs), 2, np.int8),
        "dp": [10] * len(bs),
        "gq": [None] * len(bs),
    }
    return calls_table(c.names[j], batch, var, ref, max_block)


def write_reference(c: SimCohort, path: Path) -> Path:
    rng = np.random.default_rng(c.seed + 1)
    seq = rng.choice(np.array(list("ACGT")), c.length)
    seq[c.positions] = c.ref
    text = "".join(seq.tolist())
    with open(path, "w") as fh:
        fh.write(f">{c.contig}\n")
        for i in range(0, len(text), 60):
            fh.write(text[i : i + 60] + "\n")
    import pysam

    pysam.faidx(str(path))
    return path


def write_gvcf(c: SimCohort, j: int, reference: Path, path: Path) -> Path:
    """Sample j as a bgzipped, indexed gVCF like `bcftools call -m --gvcf` writes."""
    import pysam

    fa = pysam.FastaFile(str(reference))
    idx, ac, an = _records(c, j)
    bs, be = _blocks(c, j, c.positions[idx])
    lines = [
        (
            int(c.positions[i]),
            f"{c.ref[i]}\t{c.alt[i]}\t50\t.\t.\tGT:DP",
            "./." if a == 0 else {0: "0/0", 1: "0/1", 2: "1/1"}[int(k)] + ":20",
        )
        for i, k, a in zip(idx, ac, an, strict=True)
    ]
    for s, e in zip(bs, be, strict=True):
        lines.append(
            (
                int(s),
                f"{fa.fetch(c.contig, int(s), int(s) + 1)}\t.\t.\t.\tEND={int(e)};MinDP=10\tGT:DP",
                "0/0:10",
            )
        )
    lines.sort()
    raw = path.with_suffix("")
    with open(raw, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write(f"##contig=<ID={c.contig},length={c.length}>\n")
        fh.write('##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the block">\n')
        fh.write('##INFO=<ID=MinDP,Number=1,Type=Integer,Description="Minimum depth in the block">\n')
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write('##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n')
        fh.write(f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{c.names[j]}\n")
        for p, mid, gt in lines:
            fh.write(f"{c.contig}\t{p + 1}\t.\t{mid}\t{gt}\n")
    pysam.tabix_index(str(raw), preset="vcf", force=True)
    return Path(str(raw) + ".gz")
