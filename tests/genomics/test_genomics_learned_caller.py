"""The learned caller end to end on data it did not train on: features, training, calling, the VCF header,
determinism of a pinned model, and accuracy beside bcftools on a held-out reference."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from labstream.genomics.call import call_variants
from labstream.genomics.evaluate import evaluate
from labstream.genomics.learned import MODEL_HEADER, ModelTag, call_learned
from labstream.genomics.learned_features import homopolymer, repeat_units
from labstream.genomics.learned_model import VariantModel
from labstream.instruments.training_sets import simulated_sample
from labstream.models.train import train

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"
MT_HUMAN = "/usr/share/doc/minimap2/test/MT-human.fa.gz"
DECLARED = {"declared": {"snp_f1": 0.90, "indel_f1": 0.90}}  # what the gate compares (not measured here)


def test_reference_context_features() -> None:
    assert homopolymer("ACGAAAAT", 2) == 4  # the run right of position 2 (where an indel would land)
    assert homopolymer("ACGT", 3) == 0
    assert repeat_units("GCACACACT", 0, "CA") == 3
    assert repeat_units("GCACACACT", 0, "") == 0


@pytest.mark.slow
def test_learned_caller_on_a_held_out_reference(tmp_path: Path, model_registry_url: str) -> None:
    samples = [
        simulated_sample("sequencer", LAMBDA, tmp_path / f"t{s}", seed=s, coverage=c, q_end=q)
        for s, c, q in ((31, 10, 20.0), (32, 20, 24.0), (33, 30, 22.0))
    ]
    trained = train(samples, seed=0, max_iter=60)
    model = VariantModel.from_bytes(
        trained.weights, __import__("hashlib").sha256(trained.weights).hexdigest()
    )
    held = simulated_sample("sequencer", MT_HUMAN, tmp_path / "held", seed=77, coverage=15)
    tag = ModelTag("variant-caller", "1", "ab" * 32)
    ours = call_learned(held.reference, held.bam, tmp_path / "out" / "a.vcf.gz", model, tag)
    again = call_learned(held.reference, held.bam, tmp_path / "out" / "b.vcf.gz", model, tag)
    base = call_variants(held.reference, held.bam, tmp_path / "out" / "bcftools.vcf.gz")
    with pysam.VariantFile(str(ours)) as a, pysam.VariantFile(str(again)) as b:
        assert f"##{MODEL_HEADER}={tag}" in str(a.header)
        recs_a = [(r.pos, r.ref, r.alts, r.qual, r.samples[0]["GT"]) for r in a]
        assert recs_a == [(r.pos, r.ref, r.alts, r.qual, r.samples[0]["GT"]) for r in b]  # pinned: same calls
    m, mb = evaluate(held.reference, held.truth_vcf, ours), evaluate(held.reference, held.truth_vcf, base)
    # a reference the model never saw: at least bcftools' F1 on SNPs and indels, and high in absolute terms
    assert m["SNP"].f1 >= mb["SNP"].f1 and m["INDEL"].f1 >= mb["INDEL"].f1 - 0.01
    assert m["SNP"].f1 > 0.95 and m["INDEL"].f1 > 0.95
    assert m["ALL"].genotype_concordance > 0.97

    # registered and promoted, then used by `genomics call --caller learned`: the VCF header, the lake rows,
    # the report and the lineage record name the same version and digest
    _call_through_the_registry(trained, tmp_path, model_registry_url)


def _call_through_the_registry(trained, tmp_path: Path, url: str) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from labstream.catalog import Catalog
    from labstream.cli.main import app
    from labstream.core.settings import Settings
    from labstream.genomics.learned_model import FORMAT
    from labstream.lake import open_lake
    from labstream.models import open_registry
    from labstream.models.gate import promote

    reg = open_registry(url)
    mv = reg.register(
        "variant-caller", trained.weights, flavor=FORMAT, code_version="tests",
        training_data=trained.training_data, params=trained.params, metrics=DECLARED,
        test_input=trained.test_input, test_output_sha256=trained.test_output_sha256,
    )  # fmt: skip
    promote(reg, "variant-caller", mv.version, actor="tests")
    s = simulated_sample("sequencer", MT_HUMAN, tmp_path / "cli", seed=78, coverage=20, q_end=33.0)
    reads = ["--reads", str(s.bam.parent / "S_R1.fastq.gz"), "--reads", str(s.bam.parent / "S_R2.fastq.gz")]
    args = ["genomics", "call", "--reference", str(s.reference.path), *reads, "--sample", "MT1"]
    args += ["--out", str(tmp_path / "call"), "--caller", "learned", "--lake", str(tmp_path / "lake")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    with pysam.VariantFile(str(tmp_path / "call" / "MT1.vcf.gz")) as fh:
        assert f"##{MODEL_HEADER}={mv.tag}" in str(fh.header)
    rows = open_lake(str(tmp_path / "lake")).read("variants").to_pylist()
    assert rows and {r["model_version"] for r in rows} == {mv.tag}
    assert mv.tag in (tmp_path / "call" / "MT1.report.html").read_text()
    lineage = Catalog(Settings().catalog_url).walk_lineage(rows[0]["lineage_id"])[0]
    assert lineage.model_version == mv.tag
    # a better version is promoted, then the sample is rescored: new VCF, new rows, an amended report, a
    # lineage record whose parent is the first call; the old VCF, rows and page stay as they were
    v2 = reg.register(
        "variant-caller", trained.weights, flavor=FORMAT, code_version="tests", training_data=[],
        params={}, metrics={"declared": {"snp_f1": 0.95, "indel_f1": 0.95}},
        test_input=trained.test_input, test_output_sha256=trained.test_output_sha256,
    )  # fmt: skip
    assert CliRunner().invoke(app, ["models", "promote", "variant-caller/2", "--actor", "t"]).exit_code == 0
    page = (tmp_path / "call" / "MT1.report.html").read_bytes()
    args = [
        "models",
        "rescore",
        str(tmp_path / "call"),
        "--sample",
        "MT1",
        "--reference",
        str(s.reference.path),
    ]
    res = CliRunner().invoke(app, [*args, "--lake", str(tmp_path / "lake")])
    assert res.exit_code == 0, res.output
    with pysam.VariantFile(str(tmp_path / "call" / "MT1.variant-caller-v2.vcf.gz")) as fh:
        assert f"##{MODEL_HEADER}={v2.tag}" in str(fh.header)
    with pysam.VariantFile(str(tmp_path / "call" / "MT1.vcf.gz")) as fh:
        assert f"##{MODEL_HEADER}={mv.tag}" in str(fh.header)
    rows = open_lake(str(tmp_path / "lake")).read("variants").to_pylist()
    assert {r["model_version"] for r in rows} == {mv.tag, v2.tag}
    amended = (tmp_path / "call" / "MT1.report.v2.html").read_text()
    assert v2.tag in amended and "model variant-caller v1 → v2" in amended
    assert (tmp_path / "call" / "MT1.report.html").read_bytes() == page
    new_id = next(r["lineage_id"] for r in rows if r["model_version"] == v2.tag)
    chain = Catalog(Settings().catalog_url).walk_lineage(new_id)
    assert [(r.stage, r.model_version) for r in chain[:2]] == [
        ("models.rescore", v2.tag),
        (lineage.stage, mv.tag),
    ]
    again = CliRunner().invoke(app, [*args, "--lake", str(tmp_path / "lake")])
    assert again.exit_code == 0 and "nothing to do" in again.output
