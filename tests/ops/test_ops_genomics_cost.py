"""A tiny genomics run (simulated lambda-phage sample, paired FASTQ chunks) through the platform: its
cost equals the hand computation from the price book and the recorded resources to the cent, the sum
over samples is the sum over tasks, and its clock reaches every genomics milestone."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from ops_run import hand_price

from labstream.catalog import Catalog
from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.instruments.sequencer import SimConfig, simulate_run, stream_chunks
from labstream.ops.cost import rollup
from labstream.ops.ledger import costs_table, refresh, turnaround_table
from labstream.pipelines import build_pipeline
from labstream.runtime import PipelineRunner

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


@pytest.mark.slow
def test_a_genomics_sample_costs_what_the_hand_computation_says(tmp_path: Path) -> None:
    assert LAMBDA.exists(), "install Debian's bowtie2-examples (scripts/setup-debian.sh)"
    settings = Settings(home=tmp_path / "home")
    ingestor = Ingestor(settings)
    for sample, project in (("LAMA", "oncology"), ("LAMB", "rare")):
        sim = simulate_run(LAMBDA, tmp_path / sample, SimConfig(coverage=6, seed=5, sample=sample))
        landed = stream_chunks(
            sim.r1,
            sim.r2,
            tmp_path / "watch" / sample,
            sample=sample,
            pairs_per_chunk=800,
            total_pairs=sim.pairs,
        )
        for p in landed:
            assert ingestor.ingest_file(p, instrument="sequencer", project=project).status == "published"
    pipe = build_pipeline("genomics", {"reference": str(sim.reference), "threads": 1, "run": "run7"})
    with PipelineRunner(settings, pipe, "local?cpu=2") as runner:
        status = runner.run_until_idle(timeout=240)
        assert status["gx_call"]["dlq"] == 0
    refresh(settings)
    book = tomllib.loads((resources.files("labstream.ops") / "pricebooks/labstream-2026-12.toml").read_text())
    with Catalog(settings.catalog_url) as cat:
        records = cat.list_lineage()
    hand: dict[str, float] = {}
    for r in records:
        hand[r.key] = hand.get(r.key, 0.0) + hand_price(r, book)
    per_sample = {r["sample"]: r for r in rollup(costs_table(settings), ["project", "sample"])}
    assert set(per_sample) == set(hand) == {"LAMA", "LAMB"}
    for sample, value in hand.items():
        assert round(per_sample[sample]["cost_usd"], 2) == round(value, 2)
        assert per_sample[sample]["cost_usd"] == pytest.approx(value, rel=1e-9)
    assert per_sample["LAMA"]["project"] == "oncology"
    tasks = costs_table(settings)["cost_usd"].to_pylist()
    assert sum(r["cost_usd"] for r in per_sample.values()) == pytest.approx(sum(tasks), rel=1e-12)
    assert len(tasks) == len(records)  # nothing unattributed, nothing counted twice
    by_run = rollup(costs_table(settings), "run")  # ingest tasks inherit their sample's run
    assert [r["run"] for r in by_run] == ["run7"] and by_run[0]["cost_usd"] == pytest.approx(sum(tasks))
    clocks = turnaround_table(settings).to_pylist()
    reached = {(r["key"], r["milestone"]) for r in clocks}
    for sample in ("LAMA", "LAMB"):
        assert {(sample, "ingested"), (sample, "gx_align"), (sample, "gx_call")} <= reached
