"""Shared genomics data: one simulated lambda-phage run (~48 kb, 25x) and one batch call of it per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.genomics.chain import ChainOptions, SampleResult, call_sample
from labstream.instruments.sequencer import SimConfig, SimulatedRun, simulate_run

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> SimulatedRun:
    assert LAMBDA.exists(), "install Debian's bowtie2-examples (scripts/setup-debian.sh)"
    return simulate_run(
        LAMBDA, tmp_path_factory.mktemp("sim"), SimConfig(coverage=25, seed=11, sample="LAM1")
    )


@pytest.fixture(scope="session")
def batch_result(sim_run: SimulatedRun, tmp_path_factory: pytest.TempPathFactory) -> SampleResult:
    out = tmp_path_factory.mktemp("batch")
    opts = ChainOptions(
        threads=2, annotation=sim_run.gff3, known=sim_run.known_vcf, lake_url=str(out / "lake")
    )
    return call_sample(
        sim_run.reference, sim_run.r1, sim_run.r2, sample="LAM1", out_dir=out, run="run1", opts=opts
    )


def _vcf_records(path: Path) -> list[tuple]:
    import pysam

    with pysam.VariantFile(str(path)) as vcf:
        return [
            (
                r.chrom,
                r.pos,
                r.ref,
                r.alts,
                r.qual,
                tuple(r.filter),
                tuple(s["GT"] for s in r.samples.values()),
            )
            for r in vcf
        ]


@pytest.fixture(scope="session")
def vcf_records():  # type: ignore[no-untyped-def]
    """(contig, pos, ref, alts, qual, filters, genotypes) of every record: to compare two call sets."""
    return _vcf_records
