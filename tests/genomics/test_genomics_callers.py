"""The alternative tools (freebayes caller, bwa-mem aligner) and the VCF header, on the shared lambda run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pysam

from labstream.genomics.align import align_reads
from labstream.genomics.bam import index_bam
from labstream.genomics.call import call_variants
from labstream.genomics.evaluate import evaluate
from labstream.genomics.reference import open_reference


def test_vcf_declares_mq_float_and_reads_without_htslib_warnings(batch_result, capfd) -> None:  # type: ignore[no-untyped-def]
    capfd.readouterr()
    with pysam.VariantFile(str(batch_result.vcf)) as fh:
        assert fh.header.info["MQ"].type == "Float"
        n = sum(1 for _ in fh)
    err = capfd.readouterr().err
    assert n == len(batch_result.variants) and "bcf_hdr_check_sanity" not in err, err
    # bcftools still validates the whole file after the header rewrite
    subprocess.run(["bcftools", "view", "-Ou", "-o", "/dev/null", str(batch_result.vcf)], check=True)


def test_freebayes_caller_finds_the_planted_variants(batch_result, sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref = open_reference(sim_run.reference)
    vcf = call_variants(ref, batch_result.bam, tmp_path / "fb.vcf.gz", threads=2, caller="freebayes")
    assert Path(str(vcf) + ".tbi").exists()
    subprocess.run(["bcftools", "view", "-Ou", "-o", "/dev/null", str(vcf)], check=True)
    with pysam.VariantFile(str(vcf)) as fh:
        assert list(fh.header.samples) == ["LAM1"]
        assert "freebayes" in str(fh.header).lower()
        assert all(len(r.alts or ()) == 1 for r in fh)  # normalised: multi-allelic records split
    fb = evaluate(ref, sim_run.truth_vcf, vcf)
    bc = evaluate(ref, sim_run.truth_vcf, batch_result.vcf)
    assert fb["SNP"].f1 > 0.85 and fb["INDEL"].recall > 0.5, fb
    # same reads, a different caller: most calls agree with bcftools'
    assert fb["SNP"].tp >= 0.9 * bc["SNP"].tp


def test_bwa_aligner_gives_a_sorted_bam_that_calls_well(sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fa = tmp_path / "ref.fa"  # bwa indexes next to the FASTA: keep the shared reference untouched
    shutil.copy(sim_run.reference, fa)
    ref = open_reference(fa)
    res = align_reads(ref, sim_run.r1, sim_run.r2, tmp_path / "bwa.bam", sample="LAM1", aligner="bwa")
    assert res.command[:2] == ["bwa", "mem"] and Path(str(fa) + ".bwt").exists()
    bam = res.bam
    with pysam.AlignmentFile(str(bam)) as fh:
        assert fh.header.to_dict()["HD"]["SO"] == "coordinate"
        assert fh.header.to_dict()["RG"][0]["SM"] == "LAM1"
        pos = [(r.reference_id, r.reference_start) for r in fh if not r.is_unmapped]
    assert pos == sorted(pos) and len(pos) >= 0.95 * (res.qc.reads - 2 * res.qc.pairs_dropped)
    index_bam(bam)
    vcf = call_variants(ref, bam, tmp_path / "bwa.vcf.gz", threads=2)
    m = evaluate(ref, sim_run.truth_vcf, vcf)
    assert m["SNP"].f1 > 0.9 and m["INDEL"].f1 > 0.7, m
