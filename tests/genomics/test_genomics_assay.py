"""An assay pins its reference and targets by sha256; calls outside its targets are not reported, its
gates and report thresholds are the ones applied, and its files are in the call's lineage (issue 12)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.errors import ConfigError
from labstream.core.hashing import sha256_file
from labstream.genomics.assay import load_assay


def _assay(folder: Path, reference: Path, *, min_depth: float = 10, mean_depth_limit: float = 22) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ref = folder / "ref.fa"
    shutil.copy(reference, ref)
    bed = folder / "targets.bed"
    bed.write_text(
        "# two exonic-like blocks\n"
        "gi|9626243|ref|NC_001416.1|\t1000\t9000\ngi|9626243|ref|NC_001416.1|\t20000\t30000\n"
    )
    toml = folder / "panel.toml"
    toml.write_text(
        f'name = "LAMBDA-PANEL"\nversion = "2.1"\ngenome_build = "NC_001416.1"\n'
        f'[reference]\npath = "ref.fa"\nsha256 = "{sha256_file(ref)[0]}"\n'
        f'[targets]\npath = "targets.bed"\nsha256 = "{sha256_file(bed)[0]}"\n'
        f"[gates]\nmin_mean_depth = {min_depth}\n[report_thresholds]\nmean_depth = {mean_depth_limit}\n"
    )
    return toml


def test_assay_pins_its_files(tmp_path: Path, sim_run) -> None:  # type: ignore[no-untyped-def]
    toml = _assay(tmp_path / "a", sim_run.reference)
    assay = load_assay(toml)
    assert assay.label == "LAMBDA-PANEL v2.1" and assay.gates.min_mean_depth == 10
    assert [t.limit for t in assay.thresholds if t.metric == "mean_depth"] == [22]
    (tmp_path / "a" / "targets.bed").write_text(
        "gi|9626243|ref|NC_001416.1|\t1000\t9001\n"
    )  # edited in place
    with pytest.raises(ConfigError, match="changed since the assay was validated"):
        load_assay(toml)
    toml = _assay(tmp_path / "b", sim_run.reference)
    toml.write_text(toml.read_text().replace("[gates]\n", "[gates]\nmin_depht = 3\n"))
    with pytest.raises(ConfigError, match="unknown gate"):
        load_assay(toml)


@pytest.mark.slow
def test_call_with_an_assay_reports_only_its_targets(home: Path, tmp_path: Path, sim_run) -> None:  # type: ignore[no-untyped-def]
    toml = _assay(tmp_path / "assay", sim_run.reference)
    reads = [arg for r in (sim_run.r1, sim_run.r2) for arg in ("--reads", str(r))]
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "genomics",
            "call",
            "--assay",
            str(toml),
            *reads,
            "--sample",
            "PAN1",
            "--out",
            str(out),
            "--no-lake",
        ],
    )
    assert res.exit_code == 0, res.output
    qc = json.loads((out / "PAN1.qc.json").read_text())
    # bcftools, not our code, says which calls of the (complete) VCF fall in the targets
    in_bed = subprocess.run(
        ["bcftools", "view", "-H", "-R", str(tmp_path / "assay" / "targets.bed"), str(out / "PAN1.vcf.gz")],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    total = subprocess.run(
        ["bcftools", "view", "-H", str(out / "PAN1.vcf.gz")], capture_output=True, text=True
    ).stdout
    assert 0 < len(in_bed) < len(total.splitlines())
    assert qc["variants"] == len(in_bed)
    html = (out / "PAN1.report.html").read_text()
    assert "LAMBDA-PANEL v2.1" in html and "22.0x" in html and "targets.bed" in html
    outside = len(total.splitlines()) - len(in_bed)
    assert f"{outside} call(s) outside it are in the VCF but not in this report" in html
    lineage_id = re.search(r"lineage (\S+)", res.output).group(1)
    shown = CliRunner().invoke(app, ["lineage", lineage_id, "--json"])
    assert shown.exit_code == 0, shown.output
    inputs = {i["uri"].rsplit("/", 1)[-1]: i["sha256"] for i in json.loads(shown.output)[0]["inputs"]}
    for name in ("panel.toml", "targets.bed", "ref.fa"):
        assert inputs[name] == sha256_file(tmp_path / "assay" / name)[0], name

    strict = _assay(
        tmp_path / "strict", sim_run.reference, min_depth=200
    )  # the assay's gate, not the default
    res = CliRunner().invoke(
        app,
        [
            "genomics",
            "call",
            "--assay",
            str(strict),
            *reads,
            "--sample",
            "PAN2",
            "--out",
            str(out),
            "--no-lake",
        ],
    )
    assert res.exit_code == 3 and "below the minimum 200x" in res.output, res.output


def test_an_assay_that_names_the_learned_caller_resolves_its_model(
    home: Path, tmp_path: Path, sim_run
) -> None:  # type: ignore[no-untyped-def]
    """The assay's caller wins over --caller; naming the learned caller there resolves --model (was: "needs a
    model: pass --model", which passing --model did not fix). No model registered: the registry says so."""
    toml = _assay(tmp_path / "assay", sim_run.reference)
    toml.write_text(
        toml.read_text().replace(
            'genome_build = "NC_001416.1"\n', 'genome_build = "NC_001416.1"\ncaller = "learned"\n'
        )
    )
    assert load_assay(toml).caller == "learned"
    reads = [arg for r in (sim_run.r1, sim_run.r2) for arg in ("--reads", str(r))]
    args = ["genomics", "call", "--assay", str(toml), *reads, "--sample", "L1", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(app, [*args, "--no-lake", "--model", "variant-caller@champion"])
    assert res.exit_code != 0
    assert (
        "variant-caller: no such model in the registry" in res.output and "pass --model" not in res.output
    ), res.output
