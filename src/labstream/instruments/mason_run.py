"""A fourth read simulator, written by others end to end, for evaluation only: SeqAn's Mason
(`mason_variator` + `mason_simulator`, Debian's seqan-apps).

Unlike ART (which reads labstream's planted variants), Mason also chooses the variants: `mason_variator`
draws SNPs and small indels per haplotype with its own model (at a SNP site each of the two haplotypes gets
its own random base, so most SNPs come out homozygous or tri-allelic heterozygous `1|2`; indels of 1–6 bases
on one haplotype), and `mason_simulator` samples read pairs from the two haplotypes with its Illumina model
(position-dependent mismatch, insertion and deletion errors and qualities). Neither its variant model nor
its error model is anything a training recipe has seen.

Mason writes its VCF with FORMAT '.' and a bare genotype per record, which htslib reads as no genotype at
all; `truth_from_mason` rewrites it as a valid `GT` VCF for the sample.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from labstream.core.errors import ConfigError
from labstream.instruments.wgsim_run import gzip_in_place, reference_copy

SEQAN_BIN = Path("/usr/lib/seqan/bin")  # Debian installs the Mason tools here, off PATH
INSTALL = "apt-get install seqan-apps (Debian ships mason_variator and mason_simulator in it)"
GT_HEADER = '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">'


@dataclass(frozen=True)
class MasonRun:
    reference: Path
    r1: Path
    r2: Path
    truth_vcf: Path
    pairs: int


def mason_tool(name: str) -> str:
    """The path of a Mason program: on PATH, else Debian's seqan directory; ConfigError saying how to
    install it when neither has it."""
    found = shutil.which(name) or shutil.which(name, path=str(SEQAN_BIN))
    if found is None:
        raise ConfigError(f"{name} is not installed: {INSTALL}")
    return found


def truth_from_mason(text: str, sample: str) -> str:
    """Mason's VCF text as a valid one: a GT FORMAT line in the header, FORMAT 'GT' on every record, the
    sample named `sample`. Structural-variant records (symbolic ALTs) are dropped: evaluation is small
    variants only and the bench asks Mason for none."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("##"):
            if not line.startswith("##FORMAT"):
                out.append(line)
            continue
        f = line.split("\t")
        if line.startswith("#CHROM"):
            out.append(GT_HEADER)
            out.append("\t".join([*f[:9], sample]))
            continue
        if len(f) < 10 or "<" in f[4]:
            continue
        out.append("\t".join([*f[:8], "GT", f[9]]))
    return "\n".join(out) + "\n"


def simulate_mason(
    reference_fa: str | Path,
    out_dir: str | Path,
    *,
    coverage: float = 30.0,
    seed: int = 1,
    snp_rate: float = 0.001,
    indel_rate: float = 0.00015,
    read_length: int = 150,
    sample: str = "S",
) -> MasonRun:
    """Variants and read pairs from Mason at `coverage`, on a copy of the reference in `out_dir`."""
    variator, simulator = mason_tool("mason_variator"), mason_tool("mason_simulator")
    reference, ref_copy = reference_copy(reference_fa, out_dir, variator, INSTALL)
    out = ref_copy.parent
    mason_vcf = out / "mason.vcf"
    no_sv = [f"--sv-{k}-rate" for k in ("indel", "inversion", "translocation", "duplication")]
    cmd = [variator, "-q", "-ir", str(ref_copy), "-ov", str(mason_vcf), "-s", str(seed), "-n", "2"]
    cmd += ["--snp-rate", str(snp_rate), "--small-indel-rate", str(indel_rate)]
    cmd += [a for k in no_sv for a in (k, "0")]
    subprocess.run(cmd, capture_output=True, check=True, text=True)
    truth = out / f"{sample}.truth.vcf"
    truth.write_text(truth_from_mason(mason_vcf.read_text(), sample))
    pairs = int(sum(len(s) for s in reference.values()) * coverage / (2 * read_length))
    r1, r2 = out / f"{sample}_R1.fastq", out / f"{sample}_R2.fastq"
    cmd = [
        simulator,
        "-q",
        "-ir",
        str(ref_copy),
        "-iv",
        str(mason_vcf),
        "-n",
        str(pairs),
        "--seed",
        str(seed),
    ]
    cmd += ["-o", str(r1), "-or", str(r2), "--illumina-read-length", str(read_length), "--num-threads", "1"]
    subprocess.run(cmd, capture_output=True, check=True, text=True, cwd=out)
    gz = gzip_in_place([r1, r2])
    return MasonRun(ref_copy, gz[0], gz[1], truth, pairs)


__all__ = ["MasonRun", "mason_tool", "simulate_mason", "truth_from_mason"]
