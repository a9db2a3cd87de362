"""Simulated samples with truth for training and evaluating the learned caller.

`sequencer` is labstream's simulator (sequencer.py: position-dependent qualities, errors drawn from them,
planted SNPs and indels); `wgsim` is samtools' (wgsim_run.py: uniform errors, constant qualities, its own
mutation process); `dwgsim` is DNAA's (dwgsim_run.py: error rates rising along the read, qualities drawn
around them, its own mutation process); `art` is ART's HiSeq 2500 profile (art_run.py: evaluation only,
variants planted as the sequencer plants them); `mason` is SeqAn's (mason_run.py: evaluation only, its own
variant model and Illumina error model). Each sample is simulated, aligned the way the chain
aligns (genomics/align.py: QC/trim, minimap2, fixmate, sort, markdup, index) and returned with its
lineage: simulator, seed, coverage, base quality profile and the reference's sha256. Training mixes
coverages (8-40x) and quality profiles so the model sees low-depth and noisy sites; evaluation sets use
other seeds, references and simulators.
"""

from __future__ import annotations

from pathlib import Path

from labstream.core.errors import InputError
from labstream.genomics.align import align_reads
from labstream.genomics.reference import open_reference
from labstream.instruments.art_run import simulate_art
from labstream.instruments.dwgsim_run import simulate_dwgsim
from labstream.instruments.mason_run import simulate_mason
from labstream.instruments.planting import PlantSpec
from labstream.instruments.sequencer import SimConfig, read_fasta, simulate_run
from labstream.instruments.synthetic_genome import write_synthetic_fasta
from labstream.instruments.wgsim_run import simulate_wgsim
from labstream.models.train import Sample, file_sha256

SIMULATORS = ("sequencer", "wgsim", "dwgsim", "art", "mason")
# (coverage, quality at the last cycle): the training mix
TRAIN_MIX = ((10, 20.0), (15, 24.0), (20, 28.0), (30, 22.0), (8, 24.0), (12, 18.0), (25, 26.0), (40, 20.0))
# Session 13: every sequencer training sample's reads carry 1-base indel errors at this rate per base
# (indel_errors.py; ART's HiSeq 2500 profile and Mason's defaults: ~1e-4). Without them every indel a training
# read's CIGAR writes is a real variant, and the model learned to call one read's indel error at 6-9x local
# depth as a het (Mason, C. elegans 20x, session 12: 12 such FPs over 3 samples, bcftools 1). Session 11's
# separate `indelerrors` mix (12 samples with errors beside 52 without) halved them; errors in every sample
# put single-read indel errors at every depth of the mix, the low-depth samples included
READ_INDEL_ERROR_RATE = 1e-4


def simulated_sample(
    simulator: str,
    reference: str | Path,
    out: Path,
    *,
    seed: int,
    coverage: float,
    q_end: float = 24.0,
    q_start: float = 37.0,
    spacing: int = 30,
    systematic_rate: float = 0.0,
    threads: int = 2,
    haplotype_share: float | None = None,
    per_kb: tuple[float, float] | None = None,
    multiallelic: float = 0.0,
    quality_overstatement: float = 0.0,
    indel_error_rate: float = 0.0,
) -> Sample:
    """One simulated, aligned sample. `per_kb`: (SNPs, indels) per kb of reference, for genomes of realistic
    size (C. elegans: ~1 SNP per kb); None keeps the dense sets of the mitochondria and the synthetic genomes
    (150 SNPs + 60 indels planted per sample, or wgsim's mutation rate 0.006)."""
    snps, indels, wgsim_rate, wgsim_indels = 150, 60, 0.006, 0.2
    # the sequencer's own settings (SimConfig fields); its lineage names those that differ from SimConfig's
    own = {
        "q_start": q_start,
        "spacing": spacing,
        "systematic_rate": systematic_rate,
        "haplotype_share": haplotype_share,
        "multiallelic": multiallelic,
        "quality_overstatement": quality_overstatement,
        "indel_error_rate": indel_error_rate,
    }
    if per_kb is not None:
        kb = reference_length(reference) / 1000
        snps, indels = round(per_kb[0] * kb), round(per_kb[1] * kb)
        wgsim_rate, wgsim_indels = sum(per_kb) / 1000, per_kb[1] / sum(per_kb)
    if simulator == "sequencer":
        cfg = SimConfig(
            coverage=coverage,
            seed=seed,
            sample="S",
            snps=snps,
            indels=indels,
            q_end=q_end,
            **own,  # type: ignore[arg-type]
        )
        run = simulate_run(reference, out, cfg)
        ref_path, r1, r2, truth = run.reference, run.r1, run.r2, run.truth_vcf
    elif simulator == "wgsim":
        w = simulate_wgsim(
            reference,
            out,
            coverage=coverage,
            seed=seed,
            mutation_rate=wgsim_rate,
            indel_fraction=wgsim_indels,
        )
        ref_path, r1, r2, truth = w.reference, w.r1, w.r2, w.truth_vcf
    elif simulator == "dwgsim":
        d = simulate_dwgsim(reference, out, coverage, seed, (q_start, q_end))
        ref_path, r1, r2, truth = d.reference, d.r1, d.r2, d.truth_vcf
    elif simulator == "art":
        spec = PlantSpec(snps=snps, indels=indels, spacing=30)
        a = simulate_art(reference, out, coverage=coverage, seed=seed, spec=spec)
        ref_path, r1, r2, truth = a.reference, a.r1, a.r2, a.truth_vcf
    elif simulator == "mason":
        length = reference_length(reference)
        m = simulate_mason(
            reference, out, coverage=coverage, seed=seed, snp_rate=snps / length, indel_rate=indels / length
        )
        ref_path, r1, r2, truth = m.reference, m.r1, m.r2, m.truth_vcf
    else:
        raise InputError(simulator, "unknown read simulator", hint=f"use one of {', '.join(SIMULATORS)}")
    ref = open_reference(ref_path)
    bam = align_reads(ref, r1, r2, out / "S.bam", sample="S", threads=threads, markdup=True).bam
    lineage = {
        "simulator": simulator,
        "reference": Path(reference).name,
        "reference_sha256": file_sha256(reference),
        "seed": seed,
        "coverage": coverage,
        "q_end": None if simulator in ("wgsim", "art") else q_end,
    }
    if simulator == "dwgsim":
        lineage["q_start"] = q_start
    if simulator == "sequencer":
        lineage |= {k: v for k, v in own.items() if v != getattr(SimConfig, k)}
    if per_kb is not None:
        lineage["per_kb"] = list(per_kb)
    return Sample(ref, Path(bam), Path(truth), lineage)


def training_samples(
    references: list[str],
    seeds: list[int],
    out: Path,
    threads: int = 2,
    indel_error_rate: float = READ_INDEL_ERROR_RATE,
) -> list[Sample]:
    """Each seed on each reference, cycling through TRAIN_MIX; reads with 1-base indel errors at
    `indel_error_rate` per base (0: none, as sessions 6-12 trained)."""
    samples = []
    for r, reference in enumerate(references):
        for i, seed in enumerate(seeds):
            cov, q = TRAIN_MIX[(i + r) % len(TRAIN_MIX)]
            d = out / f"train-{r}-{seed}"
            samples.append(simulated_sample("sequencer", reference, d, seed=seed, coverage=cov, q_end=q,
                                            indel_error_rate=indel_error_rate))  # fmt: skip
    return samples


# (coverage, first-cycle quality, last-cycle quality, minimum variant spacing, systematic error rate) for
# synthetic genomes: the TRAIN_MIX depths plus flat (binned-looking) quality profiles, closer variants
# (neighbouring events) and, in half the samples, strand-specific errors after GGC (systematic_errors.py)
SYNTHETIC_MIX = (
    (12, 37.0, 20.0, 30, 0.0),
    (20, 22.0, 20.0, 16, 0.7),
    (30, 37.0, 26.0, 16, 0.0),
    (8, 30.0, 24.0, 30, 0.7),
    (15, 19.0, 18.0, 20, 0.0),
    (40, 37.0, 22.0, 16, 0.7),
    (25, 25.0, 24.0, 30, 0.0),
    (10, 37.0, 28.0, 20, 0.7),
)


# Session 9b: true hets at 10-30 % ALT, which SYNTHETIC_MIX shows mostly as motif errors (152 of 170 rows
# at 0.1-0.3 ALT and depth 10-30 were errors of its systematic-error samples). LOWDEPTH_MIX: 8-15x without
# motif errors, where binomial sampling alone gives hets such fractions; IMBALANCE_MIX: 15-30x with a
# haplotype share (SimConfig.haplotype_share) of 0.2-0.3, so the hets of one haplotype show about that
LOWDEPTH_MIX = (
    (10, 37.0, 24.0, 30, 0.0),
    (8, 37.0, 26.0, 20, 0.0),
    (15, 30.0, 22.0, 16, 0.0),
    (12, 37.0, 20.0, 30, 0.0),
)
IMBALANCE_MIX = (
    (20, 37.0, 24.0, 30, 0.0, 0.25),
    (30, 30.0, 22.0, 20, 0.0, 0.2),
    (25, 37.0, 26.0, 16, 0.0, 0.3),
    (15, 37.0, 20.0, 30, 0.0, 0.25),
)
# Session 11: sites with two different ALTs (1/2: tri-allelic SNPs, two indel alleles), which real genomes
# carry in tandem repeats and Mason plants at most SNP sites; a third of the sites, at 12-30x
MULTIALLELIC_MIX = (
    (20, 37.0, 24.0, 30, 0.0),
    (12, 37.0, 22.0, 20, 0.0),
    (30, 30.0, 22.0, 30, 0.0),
    (15, 37.0, 26.0, 16, 0.0),
)
MULTIALLELIC_SHARE = 0.33
# Session 11: reported qualities 8 points above the error rate (SimConfig.quality_overstatement), so two
# matching high-quality errors at a site are seen as errors, not as a low-fraction het
OVERCONFIDENT_MIX = (
    (20, 32.0, 22.0, 30, 0.0),
    (12, 30.0, 20.0, 20, 0.0),
    (30, 34.0, 24.0, 30, 0.0),
    (15, 30.0, 22.0, 16, 0.0),
)
QUALITY_OVERSTATEMENT = 8.0
# mix name: (rows, read seed base, what else its sequencer samples get)
MIXES: dict[str, tuple[tuple[tuple[float, ...], ...], int, dict[str, float]]] = {
    "synthetic": (SYNTHETIC_MIX, 10_000, {}),
    "lowdepth": (LOWDEPTH_MIX, 40_000, {}),
    "imbalance": (IMBALANCE_MIX, 50_000, {}),
    "multiallelic": (MULTIALLELIC_MIX, 60_000, {"multiallelic": MULTIALLELIC_SHARE}),
    "overconfident": (OVERCONFIDENT_MIX, 70_000, {"quality_overstatement": QUALITY_OVERSTATEMENT}),
}


def synthetic_training_samples(
    genome_seeds: list[int],
    samples_per_genome: int,
    out: Path,
    *,
    length: int = 30_000,
    threads: int = 2,
    mix: str = "synthetic",
    indel_error_rate: float = READ_INDEL_ERROR_RATE,
) -> list[Sample]:
    """`samples_per_genome` sequencer samples on each synthetic genome (synthetic_genome.py), cycling
    through MIXES[mix] (default SYNTHETIC_MIX); read seeds are the mix's base (10,000 for SYNTHETIC_MIX)
    + 100 x genome seed + i; reads with 1-base indel errors at `indel_error_rate` per base (0: none)."""
    rows, seed_base, mix_settings = MIXES[mix]
    extra = {"indel_error_rate": indel_error_rate} | mix_settings
    samples = []
    k = 0
    for g in genome_seeds:
        ref = write_synthetic_fasta(out / f"syn{g}.fa", length, g)
        for i in range(samples_per_genome):
            cov, q0, q1, spacing, systematic, *share = rows[k % len(rows)]
            k += 1
            seed = seed_base + 100 * g + i
            s = simulated_sample("sequencer", ref, out / f"syn-{g}-{i}", seed=seed, coverage=cov,
                                 q_end=q1, q_start=q0, spacing=spacing, systematic_rate=systematic,
                                 threads=threads, haplotype_share=share[0] if share else None,
                                 **extra)  # type: ignore[arg-type]  # fmt: skip
            s.lineage.update(synthetic_genome_seed=g, synthetic_length=length)
            samples.append(s)
    return samples


def dwgsim_training_samples(
    genome_seeds: list[int], out: Path, *, length: int = 30_000, second: bool = False
) -> list[Sample]:
    """One dwgsim sample on each synthetic genome (the genomes synthetic_training_samples uses), cycling
    through SYNTHETIC_MIX's depths and quality ends (its spacing and systematic errors are the sequencer's:
    dwgsim places its own mutations); read seeds 30,000 + genome seed. `second`: another sample per
    genome, four steps further along the mix, read seeds 31,000 + genome seed."""
    samples = []
    for k, g in enumerate(genome_seeds):
        ref = write_synthetic_fasta(out / f"syn{g}.fa", length, g)
        cov, q0, q1, _spacing, _systematic = SYNTHETIC_MIX[(k + 1 + 4 * second) % len(SYNTHETIC_MIX)]
        s = simulated_sample("dwgsim", ref, out / f"dw-{g}", seed=30_000 + 1_000 * second + g, coverage=cov,
                             q_end=q1, q_start=q0)  # fmt: skip
        s.lineage.update(synthetic_genome_seed=g, synthetic_length=length)
        samples.append(s)
    return samples


FREEBAYES_TINY = Path("/usr/share/doc/freebayes/examples/tiny")


def real_reads_sample(out: Path) -> Sample:
    """Real reads with a truth set: NA12878 (Illumina HiSeq X, bwa mem) on a 12.4 kb chr22 segment, with
    the GIAB calls of that segment, as Debian's freebayes ships them. The truth's header names the
    contigs of the whole genome while its records use the segment's name `q`, and INFO tags it does not
    declare: the copy keeps sites and genotypes under a header declaring `q`. The truth has 14 SNPs and no
    indels (and no confident-region BED): indel metrics on this sample measure false positives only."""
    truth_in = FREEBAYES_TINY / "NA12878.chr22.tiny.giab.vcf"
    if not truth_in.exists():
        raise InputError(str(truth_in), "not installed", hint="apt-get install freebayes (its examples)")
    ref = open_reference(FREEBAYES_TINY / "q.fa")
    out.mkdir(parents=True, exist_ok=True)
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID=q,length={ref.contigs['q']}>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']  # fmt: skip
    for ln in truth_in.read_text().splitlines():
        f = ln.split("\t")
        if ln.startswith("#CHROM"):
            lines.append(ln)
        elif not ln.startswith("#") and len(f) >= 10:  # keep the sites and genotypes, not the evidence
            lines.append("\t".join([*f[:7], ".", "GT", f[9].split(":")[0]]))
    truth = out / "NA12878.q.giab.vcf"
    truth.write_text("\n".join(lines) + "\n")
    lineage = {"simulator": None, "reads": "NA12878 HiSeq X (freebayes examples)", "reference": "q.fa",
               "reference_sha256": file_sha256(ref.path)}  # fmt: skip
    return Sample(ref, FREEBAYES_TINY / "NA12878.chr22.tiny.bam", truth, lineage)


def evaluation_set(
    simulator: str,
    reference: str,
    seeds: list[int],
    coverages: list[float],
    out: Path,
    per_kb: tuple[float, float] | None = None,
) -> list[Sample]:
    return [
        simulated_sample(
            simulator, reference, out / f"{simulator}-{seed}-{cov}", seed=seed, coverage=cov, per_kb=per_kb
        )
        for seed in seeds
        for cov in coverages
    ]


def reference_length(fasta: str | Path) -> int:
    """Bases in a FASTA (plain or gzipped)."""
    return sum(len(seq) for seq in read_fasta(fasta).values())


__all__ = [
    "FREEBAYES_TINY",
    "IMBALANCE_MIX",
    "MULTIALLELIC_MIX",
    "MULTIALLELIC_SHARE",
    "OVERCONFIDENT_MIX",
    "QUALITY_OVERSTATEMENT",
    "READ_INDEL_ERROR_RATE",
    "LOWDEPTH_MIX",
    "MIXES",
    "SIMULATORS",
    "SYNTHETIC_MIX",
    "TRAIN_MIX",
    "real_reads_sample",
    "dwgsim_training_samples",
    "evaluation_set",
    "reference_length",
    "simulated_sample",
    "synthetic_training_samples",
    "training_samples",
]
