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
