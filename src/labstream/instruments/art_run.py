"""A read simulator no training recipe uses, for evaluation only: ART (`art_illumina`, Debian's
art-nextgen-simulation-tools), with labstream's planted variants as the truth.

ART does not mutate a genome: variants are planted as the sequencer plants them (planting.py: SNPs and
indels, 60 % heterozygous, at least `spacing` bases apart) into two haplotypes, and ART simulates half the
coverage from each. Its reads carry ART's empirical HiSeq 2500 error and quality profiles (`-ss HS25`:
substitution errors drawn from quality distributions measured per cycle on real runs, and its own indel
error rates), neither the sequencer's, wgsim's nor dwgsim's.
"""

from __future__ import annotations

import gzip
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labstream.instruments.planting import PlantSpec, haplotypes, plant_variants
from labstream.instruments.sequencer import write_truth_vcf
from labstream.instruments.wgsim_run import reference_copy


@dataclass(frozen=True)
class ArtRun:
    reference: Path
    r1: Path
    r2: Path
    truth_vcf: Path


def simulate_art(
    reference_fa: str | Path,
    out_dir: str | Path,
    *,
    coverage: float = 30.0,
    seed: int = 1,
    spec: PlantSpec | None = None,
    read_length: int = 150,
    sample: str = "S",
) -> ArtRun:
    """Paired 150-base HiSeq 2500 reads, fragments 400 +- 40, `coverage` over both haplotypes."""
    install = "apt-get install art-nextgen-simulation-tools"
    reference, ref_copy = reference_copy(reference_fa, out_dir, "art_illumina", install)
    out = ref_copy.parent
    rng = np.random.default_rng(seed)
    variants = plant_variants(reference, spec or PlantSpec(snps=150, indels=60, spacing=30), rng)
    reads: list[list[bytes]] = [[], []]
    for h, hap in enumerate(haplotypes(reference, variants, rng)):
        fa = out / f"hap{h}.fa"
        fa.write_text("".join(f">{n}\n{s}\n" for n, s in hap.items()))
        prefix = out / f"{sample}.h{h}."
        cmd = ["art_illumina", "-ss", "HS25", "-p", "-l", str(read_length), "-f", str(coverage / 2)]
        cmd += ["-m", "400", "-s", "40", "-rs", str(seed * 2 + h), "-na", "-q", "-d", f"h{h}"]
        subprocess.run([*cmd, "-i", str(fa), "-o", str(prefix)], capture_output=True, check=True, text=True)
        for end in (0, 1):
            fq = Path(f"{prefix}{end + 1}.fq")
            reads[end].append(fq.read_bytes())
            fq.unlink()
    r1, r2 = out / f"{sample}_R1.fastq.gz", out / f"{sample}_R2.fastq.gz"
    for path, parts in ((r1, reads[0]), (r2, reads[1])):
        with gzip.open(path, "wb", compresslevel=3) as fh:
            fh.write(b"".join(parts))
    truth = write_truth_vcf(out / f"{sample}.truth.vcf", reference, variants, sample)
    return ArtRun(ref_copy, r1, r2, truth)


__all__ = ["ArtRun", "simulate_art"]
