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
    streamed = [
        p for p in (Settings().home / "objects").rglob("LAM1*.vcf.gz") if not p.name.endswith(".g.vcf.gz")
    ]
    assert len(streamed) == 1, streamed
    batch = vcf_records(out / "LAM1.vcf.gz")
    assert len(batch) > 10
    assert vcf_records(streamed[0]) == batch
    # the called sample joined the cohort by itself (gx_cohort), exactly as bcftools counts its gVCF
    from labstream.cohort import CohortStore, allele_stats
    from labstream.cohort.bcftools import bcftools_allele_counts
    from labstream.lake import open_lake

    cohort = CohortStore(open_lake(Settings().lake_url))
    assert cohort.samples() == ["LAM1"]
    gvcf = list((Settings().home / "objects").rglob("LAM1.g.vcf.gz"))
    assert len(gvcf) == 1, gvcf
    shutil.copy(str(gvcf[0]) + ".tbi", tmp_path / "LAM1.g.vcf.gz.tbi")
    shutil.copy(gvcf[0], tmp_path / "LAM1.g.vcf.gz")
    want = bcftools_allele_counts([tmp_path / "LAM1.g.vcf.gz"], sim_run.reference)
    got = {
        (r["contig"], r["start"], r["ref"], r["alt"]): (r["ac"], r["an"])
        for r in allele_stats(cohort).to_pylist()
    }
    assert want and {k: got.get(k) for k in want} == want
    assert set(cohort.sample_projects()) == {"LAM1"}
    from test_genomics_interim_calls import _events

    joined = [e.data for e in _events(Settings(), "gx.cohort") if e.type == "gx.sample.joined"]
    assert len(joined) == 1 and joined[0]["added"] and joined[0]["rows"] > 0, joined
    assert joined[0]["lag_s"] < 60, joined  # final call published -> in the cohort's statistics
    print(f"cohort join: gVCF {joined[0]['gvcf_s']} s, call -> cohort {joined[0]['lag_s']} s")
