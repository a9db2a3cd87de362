"""Governance wired into the spine: governed ingest (encrypted raw objects, pseudonymized identifiers),
stage functions reading the plaintext through a decrypting store in executor processes, and residency
refusing task placements in a real pipeline while the stream continues."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from labstream.core.errors import InputError
from labstream.core.settings import Settings
from labstream.governance.auth import Principal
from labstream.governance.governed import GovernedIngest, read_sidecar, runner_options
from labstream.governance.service import Governance
from labstream.lake import open_lake
from labstream.pipelines.filestats import pipeline as filestats
from labstream.runtime.runner import PipelineRunner

CANARY = "CANARY-PATIENT-51c0de"


def _instrument_file(folder: Path, name: str, lines: int, *, patient: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"".join(f"{name} line {i} PLAINTEXT-MARKER\n".encode() for i in range(lines)))
    if patient:
        meta = {"patient_id": patient, "sample_id": f"S-{name}", "note": f"drawn from {patient} at 9am"}
        path.with_name(name + ".meta.json").write_text(json.dumps(meta))
    return path


@pytest.fixture
def gov(tmp_path: Path):
    g = Governance.open(Settings(home=tmp_path / "home"))
    yield g
    g.close()


def test_governed_ingest_encrypts_pseudonymizes_and_stages_read_plaintext(
    gov: Governance, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gov.directory.add_project("alpha")
    path = _instrument_file(tmp_path / "in", "plate1.txt", 37, patient=CANARY)
    ing = GovernedIngest(gov)
    res = ing.ingest_file(path, project="alpha")
    ing.close()
    assert res.status == "published"
    data = res.event.data
    assert data["patient_id"].startswith("PSN-") and data["sample_id"].startswith("PSN-")
    assert CANARY not in json.dumps(data) and data["note"] == f"drawn from {data['patient_id']} at 9am"
    ref = res.event.refs[0]
    assert ref.uri.endswith(".enc")
    stored = Path(ref.uri.removeprefix("file://")).read_bytes()
    assert b"PLAINTEXT-MARKER" not in stored  # encrypted at rest

    # the stage functions run in local pool processes and read the plaintext through the decrypting store
    with PipelineRunner(gov.settings, filestats(), "local?cpu=2", **runner_options(gov)) as runner:
        status = runner.run_until_idle(timeout=60)
    assert status["file_stats"]["processed"] == 1 and status["key_summary"]["processed"] == 1
    rows = open_lake(gov.settings.lake_url).read("files").to_pylist()
    plain = path.read_bytes()
    assert [(r["size"], r["lines"], r["project"]) for r in rows] == [
        (len(plain), plain.count(b"\n"), "alpha")
    ]

    admin = Principal("admin", roles={"alpha": frozenset({"admin"})})
    assert gov.pseudonyms.reidentify(data["patient_id"], admin) == CANARY
    # the canary is nowhere in plaintext: objects, lake files, stream, catalog, audit, logs
    hits = [str(f) for f in gov.settings.home.rglob("*") if f.is_file() and CANARY.encode() in f.read_bytes()]
    assert hits == []
    assert CANARY not in caplog.text
    assert any(f.suffix == ".parquet" for f in gov.settings.home.rglob("*"))  # the lake really is under home


def test_residency_refuses_placement_audits_and_the_stream_continues(gov: Governance, tmp_path: Path) -> None:
    from labstream.runtime.dlq import dlq_topic
    from labstream.stream import open_stream

    d, res = gov.directory, gov.residency
    d.add_project("euproj", region="eu", allowed_regions=["local"])  # stored locally, computed in eu
    d.add_project("usproj", region="us", allowed_regions=["local"])
    res.add_site("us-cluster", "us")
    ing = GovernedIngest(gov)
    first = ing.ingest_file(_instrument_file(tmp_path / "in", "us1.txt", 3), project="usproj")
    denied = ing.ingest_file(_instrument_file(tmp_path / "in", "eu1.txt", 5), project="euproj")
    assert first.status == denied.status == "published"
    before = gov.audit.last_seq()
    with PipelineRunner(
        gov.settings, filestats(), "local?cpu=1", **runner_options(gov, site="us-cluster")
    ) as runner:
        runner.run_until_idle(timeout=60)
        # the stream continues after the refusal: a later file of the allowed project is processed
        later = ing.ingest_file(_instrument_file(tmp_path / "in", "us2.txt", 4), project="usproj")
        status = runner.run_until_idle(timeout=60)
        quarantine = runner.catalog.list_quarantine(stage="file_stats")
        refused = runner.catalog.get_lineage_many(
            [r.id for r in runner.catalog.list_lineage(stage="file_stats", project="euproj")]
        )
    ing.close()
    assert later.status == "published"
    assert status["file_stats"]["processed"] == 2 and status["file_stats"]["quarantined"] == 1
    rows = open_lake(gov.settings.lake_url).read("files").to_pylist()
    assert sorted(r["project"] for r in rows) == ["usproj", "usproj"]
    assert len(quarantine) == 1 and quarantine[0].project == "euproj"
    assert "placement refused" in quarantine[0].problem and "'us'" in quarantine[0].problem
    assert [r.status for r in refused.values()] == ["quarantined"]
    denied_audit = [r for r in gov.audit.query(since_seq=before) if r.outcome == "denied"]
    assert [(r.action, r.project, r.detail["region"]) for r in denied_audit] == [
        ("residency.place", "euproj", "us")
    ]
    allowed = [
        r
        for r in gov.audit.query(since_seq=before)
        if r.action == "residency.place" and r.outcome == "allowed"
    ]
    assert {r.project for r in allowed} == {"usproj"}
    stream = open_stream(gov.settings.stream_url)
    consumer = stream.consumer("check-dlq", [dlq_topic("ingest.files")])
    dead = consumer.poll(max_records=10, timeout=2.0)
    stream.close()
    assert len(dead) == 1 and "region" in dead[0].headers["error"]
    assert dead[0].headers["event_id"] == denied.event.id
    assert gov.audit.verify().ok


def test_storing_outside_the_allowed_regions_is_refused_at_ingest(gov: Governance, tmp_path: Path) -> None:
    gov.directory.add_project("euonly", region="eu")  # the local store is in region "local"
    ing = GovernedIngest(gov)
    res = ing.ingest_file(_instrument_file(tmp_path / "in", "x.txt", 2), project="euonly")
    ing.close()
    assert res.status == "denied" and "region" in (res.error or "")
    assert not list((gov.settings.home / "objects").rglob("*.enc"))
    assert [(r.action, r.outcome) for r in gov.audit.query(action="residency.copy")] == [
        ("residency.copy", "denied")
    ]


def test_sidecars(tmp_path: Path) -> None:
    csv_path = tmp_path / "a.fastq.meta.csv"
    csv_path.write_text("patient_id,sample_id\nP-1, S-9 \n")
    assert read_sidecar(csv_path) == {"patient_id": "P-1", "sample_id": "S-9"}
    two = tmp_path / "b.meta.csv"
    two.write_text("patient_id\nP1\nP2\n")
    with pytest.raises(InputError, match="2 data rows"):
        read_sidecar(two)
    bad = tmp_path / "c.meta.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="JSON object") as info:
        read_sidecar(bad)
    assert info.value.source == str(bad)
