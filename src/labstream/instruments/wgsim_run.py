"""A second, independent read simulator: Debian's `wgsim` (samtools' simulator), with its truth as a VCF.

wgsim mutates a diploid genome itself (SNPs and indels at `mutation_rate`, a fraction `indel_fraction`
indels, indels extended geometrically) and prints each mutation: contig, 1-based position, reference base
('-' for an insertion), the mutated base (an IUPAC code for a heterozygous SNP, the inserted sequence, or
'-' for a deleted base) and '+' (heterozygous) or '-' (homozygous). This module turns that list into a
VCF (an insertion goes after the printed base; a deletion row prints all its deleted bases). wgsim flags
every deletion '-' whatever its zygosity, so deletions get the genotype `./1` (present, zygosity unknown):
their F1 is exact, their genotype concordance is not measurable. The learned caller is evaluated
on reads whose error model (uniform errors, constant qualities) and mutation process it never trained on.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pysam

from labstream.core.errors import ConfigError
from labstream.instruments.sequencer import PlantedVariant, read_fasta, write_truth_vcf

IUPAC = {"R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC"}


@dataclass(frozen=True)
class WgsimRun:
    reference: Path
    r1: Path
    r2: Path
    truth_vcf: Path
    pairs: int


def mutations_to_variants(lines: list[str], reference: dict[str, str]) -> list[PlantedVariant]:
    out: list[PlantedVariant] = []
    for line in lines:
        if not line.strip():
            continue
        contig, pos_s, ref_b, alt_b, flag = line.split("\t")[:5]
        pos, gt = int(pos_s), ("1/1" if flag == "-" else "0/1")
        seq = reference[contig]
        if ref_b == "-":  # insertion of alt_b after position pos
            out.append(PlantedVariant(contig, pos, seq[pos - 1], seq[pos - 1] + alt_b, gt))
        elif alt_b == "-" and pos == 1:  # at the contig start VCF anchors a deletion on the base after it
            out.append(PlantedVariant(contig, 1, ref_b + seq[len(ref_b)], seq[len(ref_b)], "./1"))
        elif alt_b == "-":  # deletion of the bases printed (wgsim prints a run as one row, flag always '-')
            out.append(PlantedVariant(contig, pos - 1, seq[pos - 2] + ref_b, seq[pos - 2], "./1"))
        else:
            alt = alt_b if flag == "-" else IUPAC.get(alt_b, alt_b).replace(ref_b, "", 1)
            if len(alt) == 1 and alt != ref_b:
                out.append(PlantedVariant(contig, pos, ref_b, alt, gt))
    return out


def reference_copy(
    reference_fa: str | Path, out_dir: str | Path, tool: str, install: str
) -> tuple[dict[str, str], Path]:
    """Checks that the simulator `tool` is installed (else says how: `install`), then returns the
    reference's sequences and a plain faidx-indexed copy of it in `out_dir` (created) to simulate from."""
    if shutil.which(tool) is None:
        raise ConfigError(f"{tool} is not installed: {install}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reference = read_fasta(reference_fa)
    ref_copy = out / "reference.fa"
    ref_copy.write_text("".join(f">{n}\n{s}\n" for n, s in reference.items()))
    pysam.faidx(str(ref_copy))
    return reference, ref_copy


def gzip_in_place(paths: list[Path]) -> list[Path]:
    """Each FASTQ a simulator wrote, gzipped beside it (the plain file removed): `<path>.gz`."""
    out = []
    for p in paths:
        with open(p, "rb") as src, gzip.open(str(p) + ".gz", "wb", compresslevel=3) as dst:
            shutil.copyfileobj(src, dst)
        p.unlink()
        out.append(Path(str(p) + ".gz"))
    return out


def simulate_wgsim(
    reference_fa: str | Path,
    out_dir: str | Path,
    *,
    coverage: float = 30.0,
    seed: int = 1,
    error_rate: float = 0.005,
    mutation_rate: float = 0.004,
    indel_fraction: float = 0.2,
    read_length: int = 150,
    sample: str = "S",
) -> WgsimRun:
    reference, ref_copy = reference_copy(
        reference_fa, out_dir, "wgsim", "apt-get install samtools (Debian ships wgsim with it)"
    )
    out = ref_copy.parent
    pairs = int(sum(len(s) for s in reference.values()) * coverage / (2 * read_length))
    r1, r2 = out / f"{sample}_R1.fastq", out / f"{sample}_R2.fastq"
    cmd = ["wgsim", "-N", str(pairs), "-1", str(read_length), "-2", str(read_length), "-e", str(error_rate)]
    cmd += [
        "-r",
        str(mutation_rate),
        "-R",
        str(indel_fraction),
        "-S",
        str(seed),
        str(ref_copy),
        str(r1),
        str(r2),
    ]
    done = subprocess.run(cmd, capture_output=True, check=True, text=True)
    variants = mutations_to_variants(done.stdout.splitlines(), reference)
    gz = gzip_in_place([r1, r2])
    truth = write_truth_vcf(out / f"{sample}.truth.vcf", reference, variants, sample)
    return WgsimRun(ref_copy, gz[0], gz[1], truth, pairs)


__all__ = ["WgsimRun", "gzip_in_place", "mutations_to_variants", "reference_copy", "simulate_wgsim"]
