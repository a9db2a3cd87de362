"""An Illumina run folder streams through `labstream watch --pipeline genomics` (issue 12, intake).

Four samples with reads, two lanes each, index reads, a v2 sample sheet and the end markers: NA1 is
called under the assay the sheet names for it and equals `genomics call --assay` on its concatenated
lanes (same VCF; only calls in the assay's targets reported, in the lake and the report); LOW (about
2x) fails the coverage gate and is quarantined with that reason and no variant rows; MISS is in the
sheet with no reads (reported missing); STRAY has reads but is not in the sheet (its files quarantined,
never called).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.cli.main import app
from labstream.core.hashing import sha256_file
from labstream.core.settings import Settings
from labstream.instruments.illumina_run import write_illumina_run
from labstream.instruments.sequencer import head_fastq
from labstream.lake import open_lake
from labstream.lake.sql import LakeSQL


@pytest.mark.slow
def test_illumina_run_folder_streams_like_genomics_call(
    home: Path, tmp_path: Path, watch_cli, sim_run, vcf_records
) -> None:  # type: ignore[no-untyped-def]
    reads = ((1, sim_run.r1), (2, sim_run.r2))
    small = {n: head_fastq(r, tmp_path / f"small_R{n}.fastq.gz", 300) for n, r in reads}
    run_dir = tmp_path / "watched" / "RUN1"
    written = write_illumina_run(
        run_dir,
        {"NA1": (sim_run.r1, sim_run.r2), "LOW": (small[1], small[2]), "STRAY": (small[1], small[2])},
        sheet=["NA1", "LOW", "MISS"],
        assays={"NA1": "LAMBDA-PANEL"},
    )
    assert len(written["NA1"]) == 4 and (run_dir / "CopyComplete.txt").exists()
    config = tmp_path / "cfg" / "genomics.toml"
    config.parent.mkdir()
    shutil.copy(sim_run.reference, config.parent / "ref.fa")
    assay = _assay(config.parent / "assays", config.parent / "ref.fa")
    config.write_text('reference = "ref.fa"\nrun = "RUN1"\nassay_dir = "assays"\n')
    watch_cli(tmp_path / "watched", "--pipeline", "genomics", "--config", str(config))

    settings = Settings()
    sql = LakeSQL(open_lake(settings.lake_url))
    rows = sql.query("SELECT sample, count(*) AS n FROM variants GROUP BY sample").to_pylist()
    called = {r["sample"]: r["n"] for r in rows}
    assert set(called) == {"NA1"}, called  # LOW failed its gate, MISS has no reads, STRAY is not in the sheet
    qc = sql.query("SELECT sample, duplication_fraction FROM reads_qc WHERE chunk = ''").to_pylist()
    assert [r["sample"] for r in qc] == ["NA1"] and qc[0]["duplication_fraction"] < 0.05

    # the call's lineage names the reference it used by sha256, and walks back to the lanes' FASTQ
    lid = sql.query("SELECT lineage_id FROM variants LIMIT 1").to_pylist()[0]["lineage_id"]
    shown = CliRunner().invoke(app, ["lineage", lid, "--json"])
    assert shown.exit_code == 0, shown.output
    chain = json.loads(shown.output)
    refs = {i["uri"].rsplit("/", 1)[-1]: i["sha256"] for i in chain[0]["inputs"]}
    assert refs["ref.fa"] == sha256_file(config.parent / "ref.fa")[0]
    walked = {i["uri"] for rec in chain for i in rec["inputs"]} | {rec["stage"] for rec in chain}
    assert {"gx_call", "gx_align", "gx_run", "ingest"} <= walked
    for name in ("LAMBDA-PANEL.toml", "targets.bed"):  # the assay's files, by sha256
        assert refs[name] == sha256_file(config.parent / "assays" / name)[0], name
    for lane_file in [*(p.name for p in written["NA1"]), "SampleSheet.csv", "CopyComplete.txt"]:
        assert any(str(x).endswith("/" + lane_file) for x in walked), lane_file

    problems = [(q.source, q.problem) for q in Catalog(settings.catalog_url).list_quarantine()]
    text = "\n".join(f"{s}: {p}" for s, p in problems)
    assert any(s == "LOW" and "coverage" in p and "below the minimum" in p for s, p in problems), text
    assert any("MISS" in s and "no reads" in p for s, p in problems), text
    stray = [s for s, p in problems if "STRAY" in s and "not in the run's sample sheet" in p]
    assert len(stray) == 4, text  # R1 and R2 of both lanes, named
    assert not list((settings.home / "objects").rglob("LOW*.vcf.gz"))

    out = tmp_path / "batch"
    reads = [arg for r in (sim_run.r1, sim_run.r2) for arg in ("--reads", str(r))]
    res = CliRunner().invoke(
        app,
        ["genomics", "call", "--reference", str(sim_run.reference), *reads]
        + ["--sample", "NA1", "--out", str(out), "--no-lake", "--run", "RUN1", "--assay", str(assay)],
    )
    assert res.exit_code == 0, res.output
    streamed = [
        p for p in (settings.home / "objects").rglob("NA1*.vcf.gz") if not p.name.endswith(".g.vcf.gz")
    ]
    assert len(streamed) == 1, streamed
    batch = vcf_records(out / "NA1.vcf.gz")
    assert len(batch) > 10 and vcf_records(streamed[0]) == batch
    reported = json.loads((out / "NA1.qc.json").read_text())["variants"]
    assert 0 < reported < len(batch) and called["NA1"] == reported  # only the targets' calls, both ways
    report = next((settings.home / "objects").rglob("NA1.report.html")).read_text()
    assert "LAMBDA-PANEL v1" in report and "outside it are in the VCF but not in this report" in report


def _assay(folder: Path, ref: Path) -> Path:
    folder.mkdir()
    bed = folder / "targets.bed"
    bed.write_text("gi|9626243|ref|NC_001416.1|\t0\t25000\n")
    toml = folder / "LAMBDA-PANEL.toml"
    toml.write_text(
        'name = "LAMBDA-PANEL"\nversion = "1"\ngenome_build = "NC_001416.1"\n'
        f'[reference]\npath = "../ref.fa"\nsha256 = "{sha256_file(ref)[0]}"\n'
        f'[targets]\npath = "targets.bed"\nsha256 = "{sha256_file(bed)[0]}"\n'
    )
    return toml
