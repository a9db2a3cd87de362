"""A third read simulator for training: Debian's `dwgsim` (DNAA), with its truth as a VCF.

dwgsim's error model is neither wgsim's (uniform errors, constant qualities) nor labstream's sequencer's
(errors drawn from a position-dependent quality curve, strand-specific motif errors): the error rate of
each read end rises linearly along the read between two given rates, and each base's quality is drawn
around the Phred value of that rate (standard deviation 2). It mutates a diploid genome itself (SNPs and
indels placed independently, so some fall a few bases apart; indels extended geometrically) and writes
the mutations as a VCF whose INFO/pl says the haplotype (1 or 2: heterozygous, 3: homozygous). Training on
it beside the sequencer keeps the learned caller from learning one simulator's error profile; wgsim and
the sequencer on mitochondria stay held out for evaluation.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from labstream.instruments.planting import PlantedVariant
from labstream.instruments.sequencer import write_truth_vcf
from labstream.instruments.wgsim_run import reference_copy


@dataclass(frozen=True)
class DwgsimRun:
    reference: Path
    r1: Path
    r2: Path
    truth_vcf: Path


def mutations_vcf_to_variants(lines: list[str]) -> list[PlantedVariant]:
    """dwgsim's mutations VCF rows as truth variants: INFO/pl 3 is homozygous, 1 and 2 heterozygous."""
    out: list[PlantedVariant] = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        contig, pos, _id, ref, alt, _q, _f, info = line.split("\t")[:8]
        tags = dict(kv.split("=", 1) for kv in info.split(";") if "=" in kv)
        out.append(PlantedVariant(contig, int(pos), ref, alt, "1/1" if tags.get("pl") == "3" else "0/1"))
    return out


def error_rate(quality: float) -> float:
    return float(10 ** (-quality / 10))


# dwgsim's mutation process: rate per base, the share of indels, the probability an indel is extended
MUTATIONS = {"-r": "0.006", "-R": "0.2", "-X": "0.3"}


def simulate_dwgsim(
    reference_fa: str | Path, out_dir: str | Path, coverage: float, seed: int, qualities: tuple[float, float]
) -> DwgsimRun:
    """Paired 150-base reads of sample S at `coverage` whose error rate rises from Phred `qualities[0]` at
    the first cycle to `qualities[1]` at the last (read 2 one quality unit worse), fragments 400 +- 40
    bases, mutations as MUTATIONS says."""
    read_length, sample, (q_start, q_end) = 150, "S", qualities
    reference, ref_copy = reference_copy(reference_fa, out_dir, "dwgsim", "apt-get install dwgsim")
    out = ref_copy.parent
    e1 = f"{error_rate(q_start):.5f}-{error_rate(q_end):.5f}"
    e2 = f"{error_rate(q_start - 1):.5f}-{error_rate(q_end - 1):.5f}"
    prefix = out / sample
    cmd = ["dwgsim", "-e", e1, "-E", e2, "-d", "400", "-s", "40", "-C", str(coverage), "-1", str(read_length)]
    cmd += ["-2", str(read_length), *(x for kv in MUTATIONS.items() for x in kv)]
    cmd += ["-y", "0", "-o", "1", "-z", str(seed), str(ref_copy), str(prefix)]
    subprocess.run(cmd, capture_output=True, check=True, text=True)
    variants = mutations_vcf_to_variants(Path(f"{prefix}.mutations.vcf").read_text().splitlines())
    truth = write_truth_vcf(out / f"{sample}.truth.vcf", reference, variants, sample)
    r1, r2 = Path(f"{prefix}.bwa.read1.fastq.gz"), Path(f"{prefix}.bwa.read2.fastq.gz")
    return DwgsimRun(ref_copy, r1, r2, truth)


__all__ = ["MUTATIONS", "DwgsimRun", "error_rate", "mutations_vcf_to_variants", "simulate_dwgsim"]
