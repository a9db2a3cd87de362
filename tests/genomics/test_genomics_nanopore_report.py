"""A nanopore sample's clinical report under an assay (issue 12): the short-read report's page with the
nanopore method, the SNV-only limitation first, and only the long-read QC thresholds applied.

Checked against bcftools, not our code: the calls the report lists are the SNVs of the VCF inside the
assay's targets (`bcftools view -H -R targets.bed`), and planted variants the known-variants file names
carry its classification on the page.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.hashing import sha256_file
from labstream.genomics.report import read_model
from labstream.instruments.nanopore import NanoporeConfig, simulate_nanopore
from labstream.instruments.sequencer import read_fasta, write_orf_gff3, write_truth_vcf

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
CONTIG = "gi|9626243|ref|NC_001416.1|"


def _assay(folder: Path, sim) -> Path:  # type: ignore[no-untyped-def]
    """An assay on the simulated reference: targets, ORF genes, and half the planted SNVs as known."""
    reference = read_fasta(sim.reference)
    files = {
        "reference": sim.reference,
        "targets": folder / "targets.bed",
        "annotation": write_orf_gff3(folder / "genes.gff3", reference),
        "known": write_truth_vcf(
            folder / "known.vcf",
            reference,
            known := [v for v in sim.variants if len(v.ref) == len(v.alt) == 1][::2],
            "KNOWN",
            info={(v.contig, v.pos, v.ref, v.alt): "CLNSIG=Pathogenic" for v in known},
        ),
    }
    files["targets"].write_text(f"{CONTIG}\t0\t30000\n")
    toml = folder / "ont.toml"
    pinned = "".join(
        f'[{k}]\npath = "{p.resolve()}"\nsha256 = "{sha256_file(p)[0]}"\n' for k, p in files.items()
    )
    toml.write_text('name = "ONT-LAMBDA"\nversion = "1"\ngenome_build = "NC_001416.1"\n' + pinned)
    return toml


def test_nanopore_report_under_an_assay(tmp_path: Path) -> None:
    sim = simulate_nanopore(LAMBDA, tmp_path / "sim", NanoporeConfig(coverage=20, seed=41, sample="ONT9"))
    (tmp_path / "assay").mkdir()
    toml = _assay(tmp_path / "assay", sim)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "genomics",
            "call-nanopore",
            "--assay",
            str(toml),
            "--reads",
            str(sim.fastq),
            "--sample",
            "ONT9",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    page = (out / "ONT9.report.html").read_text()
    model = read_model(page)
    assert "single-nucleotide variants only (nanopore long reads)" in page and "SNVs and indels" not in page

    in_targets = subprocess.run(
        ["bcftools", "view", "-H", "-v", "snps", "-R", str(tmp_path / "assay" / "targets.bed"),
         str(out / "ONT9.vcf.gz")],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert in_targets and model["n_calls"] == len(in_targets)
    listed = {e["genomic"] for e in model["selected"] + model["others"]}
    assert listed <= {"{}:{} {}>{}".format(*(x.split("\t")[i] for i in (0, 1, 3, 4))) for x in in_targets}

    assert model["assay"] == "ONT-LAMBDA v1" and model["genome_build"] == "NC_001416.1"
    assert (
        model["limitations"][0].startswith("Nanopore reads: SNVs only")
        and "indels" in model["limitations"][0]
    )
    assert not any("small insertions/deletions only" in x for x in model["limitations"])
    assert any("not applied to nanopore reads" in x and "Q30" in x for x in model["limitations"])
    assert {q["label"] for q in model["qc_rows"]} == {
        "Mean depth (duplicates excluded)", "Bases covered >= 10x", "Reads mapped"
    }, model["qc_rows"]  # fmt: skip
    failing = [q["label"] for q in model["qc_rows"] if q["result"] == "FAIL"]  # 20x ONT: some bases < 10x
    assert ("outside the thresholds" in model["summary"]) == bool(failing), (failing, model["summary"])
    assert all(f in model["summary"] for f in failing)
    assert any("map-ont" in m for m in model["method"]) and not any("markdup" in m for m in model["method"])
    pathogenic = [e for e in model["selected"] if e["classification"] == "Pathogenic"]
    assert pathogenic, model["selected"]
    assert all(re.match(r"^c\.\d+[ACGT]>[ACGT]$", e["hgvs_c"]) for e in pathogenic if e["hgvs_c"])
