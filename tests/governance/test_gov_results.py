"""A governed genomics run serves its results at once: the BAM, VCF and report the call stage stores
become DRS objects of the project in the stage's commit (runtime on_outputs hook), pointing at the
encrypted objects with their indexes, once each even when the commit is replayed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pysam
import pytest

from labstream.core.events import ObjectRef
from labstream.core.settings import Settings
from labstream.governance.governed import GovernedIngest, runner_options
from labstream.governance.objects import list_objects
from labstream.governance.results import ResultRegistrar
from labstream.governance.service import Governance

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


@pytest.fixture
def gov(tmp_path: Path):
    g = Governance.open(Settings(home=tmp_path / "home"))
    g.directory.add_project("alpha")
    yield g
    g.close()


def test_registrar_pairs_indexes_and_is_idempotent(gov: Governance) -> None:
    store = gov.store("alpha")
    refs = [
        store.put_derived(f"genomics/run9/S9/{name}", data)
        for name, data in (
            ("S9.bam", b"bam-bytes"), ("S9.bam.bai", b"bai"), ("S9.vcf.gz", b"vcf"),
            ("S9.vcf.gz.tbi", b"tbi"), ("S9.report.html", b"<html>"), ("S9.qc.json", b"{}"),
        )
    ]  # fmt: skip
    hook = ResultRegistrar(gov)
    hook("alpha", "gx_call", "lin1", refs)
    hook("alpha", "gx_call", "lin1", list(reversed(refs)))  # a replayed commit
    objs = {o.kind: o for o in list_objects(gov, ["alpha"])}
    assert sorted(objs) == ["bam", "report", "vcf"] and len(list_objects(gov, ["alpha"])) == 3
    assert objs["bam"].sha256 == hashlib.sha256(b"bam-bytes").hexdigest() and objs["bam"].size == 9
    assert objs["bam"].index_uri == refs[1].uri and objs["vcf"].index_uri == refs[3].uri
    assert (objs["bam"].name, objs["bam"].sample, objs["bam"].run_id) == ("S9.bam", "S9", "run9")
    assert objs["bam"].uri.endswith(".enc") and objs["report"].index_uri is None
    assert isinstance(refs[0], ObjectRef)


@pytest.mark.slow
def test_governed_pipeline_registers_bam_vcf_report(gov: Governance, tmp_path: Path) -> None:
    from labstream.genomics.stages import genomics_pipeline
    from labstream.instruments.sequencer import SimConfig, simulate_run, stream_chunks
    from labstream.runtime.runner import PipelineRunner

    sim = simulate_run(LAMBDA, tmp_path / "sim", SimConfig(coverage=10, seed=3, sample="GV1"))
    landed = stream_chunks(sim.r1, sim.r2, tmp_path / "watch", sample="GV1", pairs_per_chunk=4000,
                           total_pairs=sim.pairs)  # fmt: skip
    ing = GovernedIngest(gov)
    for p in landed:
        assert ing.ingest_file(p, project="alpha", instrument="sequencer").status == "published"
    ing.close()
    pipe = genomics_pipeline(sim.reference, annotation=sim.gff3, known=sim.known_vcf, run="runG")
    with PipelineRunner(gov.settings, pipe, "local?cpu=2", **runner_options(gov)) as runner:
        status = runner.run_until_idle(timeout=240)
    assert status["gx_call"]["processed"] == 1 and status["gx_call"]["dlq"] == 0
    objs = {o.kind: o for o in list_objects(gov, ["alpha"]) if o.kind in ("bam", "vcf", "report")}
    assert sorted(objs) == ["bam", "report", "vcf"]
    assert all(o.sample == "GV1" and o.uri.endswith(".enc") for o in objs.values())
    assert objs["bam"].index_uri and objs["vcf"].index_uri
    plain = gov.store("alpha").get_bytes(objs["bam"].uri)
    assert hashlib.sha256(plain).hexdigest() == objs["bam"].sha256
    bam = tmp_path / "got.bam"
    bam.write_bytes(plain)
    assert int(pysam.view("-c", str(bam)).strip()) > 1000
