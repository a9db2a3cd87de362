"""`labstream watch --pipeline genomics --config FILE` equals `labstream genomics call` on the same reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.instruments.sequencer import stream_chunks


@pytest.mark.slow
def test_watch_genomics_with_config_equals_genomics_call(
    home: Path, tmp_path: Path, watch_cli, sim_run, vcf_records
) -> None:
    """The README's `watch --pipeline genomics` crashed (no factory, no way to pass the reference)."""
    run_dir = tmp_path / "run"
    stream_chunks(
        sim_run.r1, sim_run.r2, run_dir, sample="LAM1", pairs_per_chunk=4000, total_pairs=sim_run.pairs
    )
    config = tmp_path / "cfg" / "genomics.toml"
    config.parent.mkdir()
    shutil.copy(sim_run.reference, config.parent / "ref.fa")
    config.write_text('reference = "ref.fa"\nrun = "run1"\n')  # relative to the config file's folder
    watch_cli(run_dir, "--pipeline", "genomics", "--config", str(config))

    out = tmp_path / "batch"
    reads = [arg for r in (sim_run.r1, sim_run.r2) for arg in ("--reads", str(r))]
    res = CliRunner().invoke(
        app,
        ["genomics", "call", "--reference", str(sim_run.reference), *reads]
        + ["--sample", "LAM1", "--out", str(out), "--no-lake", "--run", "run1"],
    )
    assert res.exit_code == 0, res.output
    streamed = list((Settings().home / "objects").rglob("LAM1*.vcf.gz"))
    assert len(streamed) == 1, streamed
    batch = vcf_records(out / "LAM1.vcf.gz")
    assert len(batch) > 10
    assert vcf_records(streamed[0]) == batch
