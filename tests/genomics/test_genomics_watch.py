"""`labstream watch --pipeline genomics --config FILE` equals `labstream genomics call` on the same reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pysam
import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.instruments.sequencer import stream_chunks


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("LABSTREAM_HOME", str(h))
    monkeypatch.setenv("LABSTREAM_EXECUTOR_URL", "local?cpu=2")
    return h


def _watch(folder: Path, *args: str) -> None:
    res = CliRunner().invoke(app, ["watch", str(folder), "--idle-exit", "4", "--settle", "0.1", *args])
    assert res.exit_code == 0, (res.output, res.exception)


def _vcf_records(path: Path) -> list[tuple]:
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


@pytest.mark.slow
def test_watch_genomics_with_config_equals_genomics_call(home: Path, tmp_path: Path, sim_run) -> None:
    """The README's `watch --pipeline genomics` crashed (no factory, no way to pass the reference)."""
    run_dir = tmp_path / "run"
    stream_chunks(
        sim_run.r1, sim_run.r2, run_dir, sample="LAM1", pairs_per_chunk=4000, total_pairs=sim_run.pairs
    )
    config = tmp_path / "cfg" / "genomics.toml"
    config.parent.mkdir()
    shutil.copy(sim_run.reference, config.parent / "ref.fa")
    config.write_text('reference = "ref.fa"\nrun = "run1"\n')  # relative to the config file's folder
    _watch(run_dir, "--pipeline", "genomics", "--config", str(config))

    out = tmp_path / "batch"
    res = CliRunner().invoke(
        app,
        [
            "genomics",
            "call",
            "--reference",
            str(sim_run.reference),
            "--reads",
            str(sim_run.r1),
            "--reads",
            str(sim_run.r2),
            "--sample",
            "LAM1",
            "--out",
            str(out),
            "--no-lake",
            "--run",
            "run1",
        ],
    )
    assert res.exit_code == 0, res.output
    streamed = list((Settings().home / "objects").rglob("LAM1*.vcf.gz"))
    assert len(streamed) == 1, streamed
    batch = _vcf_records(out / "LAM1.vcf.gz")
    assert len(batch) > 10
    assert _vcf_records(streamed[0]) == batch
