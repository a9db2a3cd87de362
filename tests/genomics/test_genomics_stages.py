"""The genomics pipeline on the real runtime: chunks ingested -> sqlite stream -> process pool -> lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.settings import Settings
from labstream.genomics.stages import genomics_pipeline, parse_chunk_name
from labstream.ingest import Ingestor
from labstream.instruments.sequencer import stream_chunks
from labstream.lake import LakeSQL
from labstream.runtime import PipelineRunner


def test_chunk_names() -> None:
    assert parse_chunk_name("S-1.c0002of0010.R2.fastq.gz") == {
        "sample": "S-1",
        "chunk": 2,
        "total": 10,
        "read": 2,
    }


@pytest.mark.slow
def test_pipeline_equals_batch(batch_result, sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path / "home")
    landed = stream_chunks(
        sim_run.r1,
        sim_run.r2,
        tmp_path / "watch",
        sample="LAM1",
        pairs_per_chunk=2500,
        total_pairs=sim_run.pairs,
    )
    ingestor = Ingestor(settings)
    for p in landed:
        assert ingestor.ingest_file(p, instrument="sequencer").status == "published"
    pipe = genomics_pipeline(sim_run.reference, annotation=sim_run.gff3, known=sim_run.known_vcf, run="run1")
    with PipelineRunner(settings, pipe, "local?cpu=2") as runner:
        status = runner.run_until_idle(timeout=240)
        n_chunks = len(landed) // 2
        assert status["gx_align"]["processed"] >= n_chunks and status["gx_call"]["dlq"] == 0
        sql = LakeSQL(runner.lake)
        v = sql.query("SELECT count(*) AS n, count(DISTINCT lineage_id) AS l FROM variants").to_pylist()[0]
        assert v["n"] == len(batch_result.variants) and v["l"] == 1
        qc = sql.query("SELECT chunk, reads FROM reads_qc ORDER BY chunk").to_pylist()
        assert len(qc) == n_chunks + 1 and qc[0]["chunk"] == ""  # the sample row, then one per chunk
        assert qc[0]["reads"] == sum(r["reads"] for r in qc[1:]) == batch_result.qc["reads"]
        called = runner.lake.read("variants").to_pylist()
        assert sorted((r["start"], r["alt"], r["gt"]) for r in called) == sorted(
            (r["start"], r["alt"], r["gt"]) for r in batch_result.variants
        )
