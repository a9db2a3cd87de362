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
        # the sequencer's qualities are calibrated: measured, recorded, not capped (quality_calibration.py)
        assert "##labstream_quality_calibration=reported>=30 measured Q" in str(a.header)
        assert "cap=none" in str(a.header)
        # the cluster re-representation is off by default (learned_haplotypes.DEFAULT_MIN_QUAL)
        assert "labstream_haplotype_representation" not in str(a.header)
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
    _rescore_affected(reg, mv, v2, trained, tmp_path, lineage)


def _rescore_affected(reg, v1, v2, trained, tmp_path: Path, call_record) -> None:  # type: ignore[no-untyped-def]
    """`labstream models rescore` finds the sample by its rows (they name v1), re-calls it, writes new
    rows and an amended page, and amends its governed signed report; POST .../rescore does the same for
    v3 (role rescorer); both audited; the signed versions stay, every version is in the lineage."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from labstream.api.app import create_app
    from labstream.catalog import Catalog
    from labstream.cli.main import app
    from labstream.core.settings import Settings
    from labstream.genomics.learned_model import FORMAT
    from labstream.governance import signoff
    from labstream.governance.auth import Principal
    from labstream.governance.objects import get_object, register_file
    from labstream.governance.service import Governance
    from labstream.lake import open_lake

    settings, call = Settings(lake_url=str(tmp_path / "lake")), tmp_path / "call"  # the API reads this lake
    gov = Governance.open(settings)
    gov.directory.add_project("default")
    for user, role in (("rita", "reviewer"), ("ron", "rescorer"), ("vic", "viewer")):
        gov.directory.add_user(user)
        gov.directory.grant(user, "default", role)
    rita = Principal("rita", roles={"default": frozenset({"reviewer"})})
    page = (call / "MT1.report.html").read_bytes()
    draft = register_file(gov, call / "MT1.report.html", project="default", kind="report", sample="MT1")
    signed = signoff.sign(gov, rita, draft.id)
    token = tmp_path / "ron.token"
    token.write_text(gov.directory.create_token("ron")[1])
    args = ["models", "rescore", "--lake", str(tmp_path / "lake"), "--token-file", str(token)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"default/{call_record.params['run']}/MT1: {v1.tag} -> {v2.tag}" in res.output
    with pysam.VariantFile(str(call / "MT1.variant-caller-v2.vcf.gz")) as fh:
        assert f"##{MODEL_HEADER}={v2.tag}" in str(fh.header)
    with pysam.VariantFile(str(call / "MT1.vcf.gz")) as fh:
        assert f"##{MODEL_HEADER}={v1.tag}" in str(fh.header)
    rows = open_lake(str(tmp_path / "lake")).read("variants").to_pylist()
    assert {r["model_version"] for r in rows} == {v1.tag, v2.tag}
    amended = (call / "MT1.report.v2.html").read_text()
    assert v2.tag in amended and "model variant-caller v1 → v2" in amended
    assert (call / "MT1.report.html").read_bytes() == page
    new_id = next(r["lineage_id"] for r in rows if r["model_version"] == v2.tag)
    chain = Catalog(settings.catalog_url).walk_lineage(new_id)
    assert [(r.stage, r.model_version) for r in chain[:2]] == [
        ("models.rescore", v2.tag),
        (call_record.stage, v1.tag),
    ]
    # the governed report: signed v1 kept, an amended draft v2 with the reason and the new calls
    versions = signoff.versions(gov, rita, signed.id)
    assert [(v.version, v.state) for v in versions] == [(1, "draft"), (1, "signed"), (2, "draft")]
    assert versions[-1].reason == "model variant-caller v1 → v2" and versions[-1].parent_id == signed.id
    draft_v2 = gov.store("default").get_bytes(get_object(gov, versions[-1].object_id).uri).decode()
    assert v2.tag in draft_v2 and "model variant-caller v1 → v2" in draft_v2
    assert get_object(gov, signed.id).sha256 == signed.sha256
    cat = Catalog(settings.catalog_url)
    assert [r.stage for r in cat.lineage_for_object(signed.sha256, direction="in")] == ["report.amend"]
    audit = gov.audit.query(action="models.rescore")
    assert [(a.actor, a.resource) for a in audit] == [("ron", "sample:default/MT1")]
    assert CliRunner().invoke(app, args).output.startswith("no sample's rows name an older version")

    # v3 through the API: the reviewer signs the v2 draft, the rescorer rescores, a viewer may not
    v3 = reg.register(
        "variant-caller", trained.weights, flavor=FORMAT, code_version="tests", training_data=[],
        params={}, metrics={"declared": {"snp_f1": 0.96, "indel_f1": 0.96}},
        test_input=trained.test_input, test_output_sha256=trained.test_output_sha256,
    )  # fmt: skip
    assert CliRunner().invoke(app, ["models", "promote", "variant-caller/3", "--actor", "t"]).exit_code == 0
    signed_v2 = signoff.sign(gov, rita, versions[-1].object_id)
    with TestClient(create_app(settings, gov=gov, announce=None)) as client:
        url = "/api/v1/models/variant-caller/rescore?project=default"
        bearer = {"Authorization": f"Bearer {gov.directory.create_token('vic')[1]}"}
        assert client.post(url, json={}, headers=bearer).status_code == 403
        bearer = {"Authorization": f"Bearer {token.read_text()}"}
        r = client.post(url, json={}, headers=bearer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == v3.tag and len(body["samples"]) == 1
    done = body["samples"][0]
    assert (done["sample"], done["before"], done["after"], done["problem"]) == ("MT1", v2.tag, v3.tag, "")
    versions = signoff.versions(gov, rita, signed.id)
    assert [(v.version, v.state) for v in versions][-2:] == [(2, "signed"), (3, "draft")]
    assert done["amended_reports"] == [versions[-1].object_id] and versions[-1].parent_id == signed_v2.id
    assert versions[-1].reason == "model variant-caller v2 → v3"
    audit = gov.audit.query(action="models.rescore")  # per sample, and the requests (middleware)
    assert [(a.actor, a.resource) for a in audit if a.resource.startswith("sample:")] == [
        ("ron", "sample:default/MT1")
    ] * 2
    assert {(a.actor, a.outcome) for a in audit} >= {("vic", "denied"), ("ron", "allowed")}
    assert {r["model_version"] for r in open_lake(str(tmp_path / "lake")).read("variants").to_pylist()} == {
        v1.tag, v2.tag, v3.tag,
    }  # fmt: skip
    gov.close()
