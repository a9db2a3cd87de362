"""The sequencer simulator: planted truth, read model, chunk streaming."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np
import pysam
import pytest

from labstream.core.errors import InputError
from labstream.instruments.sequencer import (
    PlantedVariant,
    SimConfig,
    haplotypes,
    read_fasta,
    simulate_run,
    stream_chunks,
)

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return simulate_run(
        LAMBDA, tmp_path_factory.mktemp("seq"), SimConfig(coverage=10, snps=30, indels=10, seed=5)
    )


def test_truth_vcf_is_valid_and_matches_reference(run) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["bcftools", "view", "-H", str(run.truth_vcf)], check=True, capture_output=True)
    # bcftools norm --check-ref e fails if any REF disagrees with the reference
    subprocess.run(
        [
            "bcftools",
            "norm",
            "-f",
            str(run.reference),
            "--check-ref",
            "e",
            "-Ou",
            "-o",
            "/dev/null",
            str(run.truth_vcf),
        ],
        check=True,
        capture_output=True,
    )
    with pysam.VariantFile(str(run.truth_vcf)) as fh:
        recs = list(fh)
    kinds = [len(r.ref) == len(r.alts[0]) == 1 for r in recs]
    assert sum(kinds) == 30 and len(kinds) - sum(kinds) == 10
    gts = {r.samples[0]["GT"] for r in recs}
    assert gts == {(0, 1), (1, 1)}  # both het and hom planted
    positions = [r.pos for r in recs]
    assert min(np.diff(positions)) >= 20


def test_reads_count_and_model(run) -> None:  # type: ignore[no-untyped-def]
    length = sum(len(s) for s in read_fasta(run.reference).values())
    assert abs(run.pairs - length * 10 / 300) <= 2
    with pysam.FastxFile(str(run.r1)) as f1, pysam.FastxFile(str(run.r2)) as f2:
        r1, r2 = list(f1), list(f2)
    assert len(r1) == len(r2) == run.pairs and [a.name for a in r1] == [b.name for b in r2]
    q = np.concatenate([np.asarray(r.get_quality_array()) for r in r1[:500]]).reshape(500, 150)
    assert q[:, :10].mean() > q[:, -10:].mean() + 5  # qualities fall along the read, as on Illumina


def test_haplotypes_apply_het_on_one_and_hom_on_both() -> None:
    ref = {"c": "AAAAACCCCCGGGGGTTTTT"}
    v = [
        PlantedVariant("c", 3, "A", "T", "1/1"),
        PlantedVariant("c", 8, "CCC", "C", "0/1"),
        PlantedVariant("c", 12, "G", "GAA", "0/1"),
    ]
    h0, h1 = haplotypes(ref, v, np.random.default_rng(1))
    assert h0["c"][2] == h1["c"][2] == "T"
    assert sorted(h["c"].count("C") for h in (h0, h1)) == [3, 5]  # the het deletion is on one haplotype
    assert sorted("GGAAGGG" in h["c"] for h in (h0, h1)) == [False, True]  # and so is the het insertion


def test_stream_chunks_land_whole_and_complete(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    landed = stream_chunks(run.r1, run.r2, tmp_path, sample="S", pairs_per_chunk=600)
    assert [p.name for p in sorted(tmp_path.iterdir())] == sorted(p.name for p in landed)
    n = -(-run.pairs // 600)
    assert len(landed) == 2 * n and landed[0].name == f"S.c0000of{n:04d}.R1.fastq.gz"
    joined = b"".join(gzip.open(p).read() for p in landed if ".R1." in p.name)
    assert joined == gzip.open(run.r1).read()


def test_missing_reference_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        simulate_run(tmp_path / "none.fa", tmp_path / "o")


def test_overstated_qualities_change_the_reported_scores_not_the_errors(tmp_path: Path) -> None:
    """quality_overstatement reports each base this many points above the rate its errors were drawn at:
    the same seed gives the same bases (errors included) with qualities raised (capped at 41)."""
    from labstream.instruments.planting import haplotypes, plant_variants
    from labstream.instruments.sequencer import simulate_pairs

    reference = {"c": "".join(np.random.default_rng(1).choice(list("ACGT"), size=5000))}

    def reads(over: float) -> tuple[np.ndarray, np.ndarray]:
        cfg = SimConfig(coverage=10, q_start=30.0, q_end=20.0, quality_overstatement=over, snps=5, indels=0)
        rng = np.random.default_rng(3)
        haps = haplotypes(reference, plant_variants(reference, cfg, rng), rng)
        _names, s1, q1, _s2, _q2 = next(simulate_pairs(haps, cfg, rng))
        return s1, q1.astype(int) - 33

    s_cal, q_cal = reads(0.0)
    s_over, q_over = reads(8.0)
    assert (s_cal == s_over).all()
    assert (q_over == np.clip(q_cal + 8, 2, 41)).all() and q_over.mean() > q_cal.mean() + 7
