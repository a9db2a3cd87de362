"""A governed Illumina run: the sample sheet's identifiers never reach lake rows, object names, events,
the catalog or the stages; the pseudonym maps back only for a user with the reidentify right (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import AccessDenied
from labstream.core.settings import Settings
from labstream.genomics.stages import genomics_pipeline
from labstream.governance.auth import Principal
from labstream.governance.governed import GovernedIngest, runner_options
from labstream.governance.sample_sheets import pseudonymize_sheet
from labstream.governance.service import Governance
from labstream.instruments.illumina_run import write_illumina_run
from labstream.instruments.sequencer import SimConfig, simulate_run
from labstream.lake import open_lake
from labstream.layouts.sample_sheet import parse_sample_sheet
from labstream.runtime.runner import PipelineRunner

PATIENT = "MRN7731905"  # a hospital accession number used as Sample_ID, as labs do
MISSING = "MRN5550123"
LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


def test_sheet_cells_are_swapped_and_free_text_dropped() -> None:
    text = (
        "[Header]\nIEMFileVersion,5\n\n[Data]\nSample_ID,Sample_Name,index,Sample_Project,Description\n"
        f"{PATIENT},{PATIENT},ACGT,P1,Jane Doe b. 1961\n"
    )
    clean, swaps = pseudonymize_sheet(text, lambda v: "PSN-" + v[::-1])
    assert PATIENT not in clean and "Jane Doe" not in clean and swaps == [(PATIENT, "PSN-" + PATIENT[::-1])]
    sheet = parse_sample_sheet(clean)
    assert (
        list(sheet.samples) == ["PSN-" + PATIENT[::-1]]
        and sheet.samples["PSN-" + PATIENT[::-1]].project == "P1"
    )


@pytest.mark.slow
def test_governed_run_folder_carries_pseudonyms_only(tmp_path: Path) -> None:
    gov = Governance.open(Settings(home=tmp_path / "home", executor_url="local?cpu=2"))
    try:
        gov.directory.add_project("clinic")
        sim_run = simulate_run(LAMBDA, tmp_path / "sim", SimConfig(coverage=12, seed=3, sample="X"))
        reads = {1: sim_run.r1, 2: sim_run.r2}
        watched = tmp_path / "watched"
        written = write_illumina_run(
            watched / "RUN7", {PATIENT: (reads[1], reads[2])}, sheet=[PATIENT, MISSING]
        )
        ing = GovernedIngest(gov, project="clinic")
        order = [
            watched / "RUN7" / "SampleSheet.csv",
            *written[PATIENT],
            watched / "RUN7" / "CopyComplete.txt",
        ]
        for p in order:
            assert ing.ingest_file(p, root=watched).status == "published", p
        ing.close()
        pipe = genomics_pipeline(sim_run.reference, run="RUN7", min_depth=1.0, cram=True)
        with PipelineRunner(gov.settings, pipe, "local?cpu=2", **runner_options(gov)) as runner:
            runner.run_until_idle(timeout=180)
        rows = open_lake(gov.settings.lake_url).read("variants").to_pylist()
        samples = {r["sample"] for r in rows}
        assert len(samples) == 1 and next(iter(samples)).startswith("PSN-"), samples
        pseudonym = next(iter(samples))
        quarantined = [q.source for q in gov_catalog(gov).list_quarantine()]
        assert any("PSN-" in s for s in quarantined) and not any(MISSING in s for s in quarantined), (
            quarantined
        )

        # nowhere under the platform's home: objects (names and bytes), lake, stream, catalog, audit
        hits = [
            str(f)
            for f in gov.settings.home.rglob("*")
            if PATIENT in str(f) or MISSING in str(f) or (f.is_file() and PATIENT.encode() in f.read_bytes())
        ]
        assert hits == []
        assert any(pseudonym in str(f) for f in gov.settings.home.rglob("*.bam*"))

        from sqlalchemy import select

        from labstream.governance.models import DataObject

        with gov.sessions() as s:  # the run's results are DRS objects at once, the CRAM among them
            every = list(s.scalars(select(DataObject)))
        assert {o.sample for o in every} == {pseudonym}  # chunk BAMs are intermediates, not results
        objs = {(o.kind, o.name) for o in every}
        assert {k for k, _ in objs} == {"bam", "cram", "vcf", "report"}, objs
        names = {f"{pseudonym}{x}" for x in (".bam", ".cram", ".vcf.gz", ".report.html")}
        assert {n for _, n in objs} == names

        # the streamed report is signed by a reviewer; signed, it never changes; a correction is a new version
        from labstream.governance import signoff

        report = next(o for o in every if o.kind == "report")
        reviewer = Principal("dr-r", roles={"clinic": frozenset({"reviewer"})})
        signed = signoff.sign(gov, reviewer, report.id)
        with pytest.raises(signoff.SignoffConflict):
            signoff.sign(gov, reviewer, signed.id)
        amended = signoff.amend(gov, reviewer, signed.id, "corrected the classification of one call")
        assert [v.state for v in signoff.versions(gov, reviewer, amended.id)] == ["draft", "signed", "draft"]
        html = gov.store("clinic").get_bytes(signed.uri).decode()
        assert pseudonym in html and "dr-r" in html and PATIENT not in html

        admin = Principal("dr-a", roles={"clinic": frozenset({"admin"})})
        assert gov.pseudonyms.reidentify(pseudonym, admin) == PATIENT
        analyst = Principal("bob", roles={"clinic": frozenset({"scientist"})})
        with pytest.raises(AccessDenied):
            gov.pseudonyms.reidentify(pseudonym, analyst)
    finally:
        gov.close()


def gov_catalog(gov: Governance):  # type: ignore[no-untyped-def]
    from labstream.catalog import Catalog

    return Catalog(gov.settings.catalog_url)
