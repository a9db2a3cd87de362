"""A governed Illumina run folder, end to end (issue 12): `labstream watch --governed` streams it to draft
reports; every lake row and every DRS object the run made walks back through `labstream lineage` to its
instrument files (lane FASTQs, sample sheet, end marker) and to the assay's files, by sha256; a reviewer
signs a report through the CLI and another through the API (audited); a signed report never changes;
the amended version is linked to the signed one and the run in the lineage.

The run: NA1 and NA2 in the sheet with reads in 2 lanes each, MISS in the sheet without reads, STRAY
with reads but not in the sheet; both called samples under an assay with reference, targets,
annotation and known variants. The Sample_IDs are accession numbers: only pseudonyms reach the lake,
objects, stream, catalog and audit, and only the admin re-identifies. The test's Governance is opened
before the run and used after it, beside the CLI's own: before the SQLite lock fix (core.sqlite_files)
that read "database disk image is malformed".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from labstream.api.app import create_app
from labstream.catalog import Catalog
from labstream.cli.main import app
from labstream.core.errors import AccessDenied
from labstream.core.hashing import sha256_file
from labstream.core.settings import Settings
from labstream.governance.auth import Principal
from labstream.governance.models import DataObject
from labstream.governance.objects import get_object
from labstream.governance.service import Governance
from labstream.instruments.illumina_run import write_illumina_run
from labstream.instruments.sequencer import SimConfig, head_fastq, simulate_run
from labstream.lake import open_lake
from labstream.runtime.lineage import walk

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")
# hospital accession numbers as Sample_IDs, as labs use them: none may reach the platform's home
NA1, NA2, MISS, STRAY = "MRN7731905", "MRN7731906", "MRN5550123", "MRN9990001"


def _pin(folder: Path, role: str, path: Path) -> str:
    return f'[{role}]\npath = "{os.path.relpath(path, folder)}"\nsha256 = "{sha256_file(path)[0]}"\n'


def _assay(cfg: Path, sim) -> list[Path]:  # type: ignore[no-untyped-def]
    folder = cfg / "assays"
    folder.mkdir()
    files = {"reference": cfg / "ref.fa", "targets": folder / "targets.bed"}
    shutil.copy(sim.reference, files["reference"])
    files["targets"].write_text("gi|9626243|ref|NC_001416.1|\t0\t30000\n")
    files["annotation"] = Path(shutil.copy(sim.gff3, folder / "lambda.gff3"))
    files["known"] = Path(shutil.copy(sim.known_vcf, folder / "known.vcf.gz"))
    shutil.copy(f"{sim.known_vcf}.tbi", folder / "known.vcf.gz.tbi")
    toml = folder / "LAMBDA-PANEL.toml"
    toml.write_text(
        'name = "LAMBDA-PANEL"\nversion = "2"\ngenome_build = "NC_001416.1"\n'
        + "".join(_pin(folder, role, p) for role, p in files.items())
        + "[gates]\nmin_mean_depth = 2\n"
    )
    return [toml, *files.values()]


@pytest.mark.slow
def test_governed_run_walks_back_and_is_signed(home: Path, tmp_path: Path, watch_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sim = simulate_run(LAMBDA, tmp_path / "sim", SimConfig(coverage=8, seed=21, sample="X"))
    half = {n: head_fastq(r, tmp_path / f"half_R{n}.fastq.gz", 600) for n, r in ((1, sim.r1), (2, sim.r2))}
    run_dir = tmp_path / "watched" / "RUN9"
    written = write_illumina_run(
        run_dir,
        {NA1: (sim.r1, sim.r2), NA2: (half[1], half[2]), STRAY: (half[1], half[2])},
        sheet=[NA1, NA2, MISS],
        assays={NA1: "LAMBDA-PANEL", NA2: "LAMBDA-PANEL"},
    )
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    assay = {sha256_file(p)[0] for p in _assay(cfg, sim)}  # TOML, reference, BED, GFF3, known VCF
    (cfg / "genomics.toml").write_text(
        'reference = "ref.fa"\nrun = "RUN9"\nassay_dir = "assays"\ncram = true\n'
    )
    gov = Governance.open(Settings())  # opened before the run and used after it (a fork in between)
    gov.directory.add_project("clinic")
    for user in ("dr-cli", "dr-api"):
        gov.directory.add_user(user)
        gov.directory.grant(user, "clinic", "reviewer")
    tokens = {u: gov.directory.create_token(u)[1] for u in ("dr-cli", "dr-api")}
    try:
        watch_cli(tmp_path / "watched", "--pipeline", "genomics", "--config", str(cfg / "genomics.toml"),
                  "--governed", "--project", "clinic")  # fmt: skip
        fastq = {s: {sha256_file(p)[0] for p in ps} for s, ps in written.items()}
        every_file = {sha256_file(p)[0] for p in run_dir.rglob("*") if p.is_file()}
        sheet = sha256_file(run_dir / "SampleSheet.csv")[0]
        markers = {sha256_file(run_dir / m)[0] for m in ("CopyComplete.txt", "RTAComplete.txt")}
        admin = Principal("dr-a", roles={"clinic": frozenset({"admin"})})
        plain: dict[str, str] = {}

        def reidentified(pseudonym: str) -> str:  # once per pseudonym (each look-up is audited)
            if pseudonym not in plain:
                plain[pseudonym] = gov.pseudonyms.reidentify(pseudonym, admin)
            return plain[pseudonym]

        def sample_of(chain: list[dict]) -> str:
            """The one sample whose lane FASTQs, the sheet, an end marker and every assay file the walk
            reaches by sha256 (the instrument files as written, not the encrypted objects)."""
            walked = {i["sha256"] for rec in chain for i in rec["inputs"]}
            owners = [s for s, shas in fastq.items() if shas & walked]
            assert len(owners) == 1 and fastq[owners[0]] <= walked, owners
            assert sheet in walked and markers & walked and assay <= walked
            return owners[0]

        # every lake row the run wrote: `labstream lineage`'s walk from each (one catalog for all rows;
        # the CLI itself for each distinct lineage id of a sample's results, which must agree)
        lake = open_lake(Settings().lake_url)
        tables = {t: lake.read(t).to_pylist() for t in lake.tables()}
        assert {"variants", "coverage", "reads_qc", "costs", "turnaround"} <= set(tables), set(tables)
        catalog = Catalog(Settings().catalog_url)
        chains: dict[str, list[dict]] = {}
        for table, rows in tables.items():
            for row in rows:
                assert row["lineage_id"], (table, row)
                if row["lineage_id"] not in chains:
                    chains[row["lineage_id"]] = [asdict(r) for r in walk(catalog, row)]
                chain = chains[row["lineage_id"]]
                roots = [i["sha256"] for rec in chain if rec["stage"] == "ingest" for i in rec["inputs"]]
                assert roots and set(roots) <= every_file, (table, row)  # back to the run folder's files
                if table in ("variants", "coverage", "reads_qc"):  # a sample's results
                    assert reidentified(row["sample"]) == sample_of(chain), (table, row)
        catalog.close()
        called = {r["sample"]: r["lineage_id"] for r in tables["reads_qc"]}
        assert sorted(map(reidentified, called)) == [NA1, NA2]  # STRAY's lanes left no rows
        assert len(tables["reads_qc"]) == 2 * 3  # per sample: its row and one per lane
        for lid in called.values():
            assert [r["id"] for r in _lineage(lid)] == [r["id"] for r in chains[lid]]

        # every DRS/htsget object it registered, by the id a client sees
        with gov.sessions() as s:
            objects = list(s.scalars(select(DataObject)))
        assert sorted(o.kind for o in objects) == sorted(["bam", "cram", "vcf", "report"] * 2)
        for o in objects:
            chain = _lineage(o.id)
            assert chain[0]["stage"] == "gx_call" and o.uri in {x["uri"] for x in chain[0]["outputs"]}
            assert reidentified(o.sample) == sample_of(chain), o.name
        assert _lineage(objects[0].sha256) == _lineage(objects[0].id)  # its DRS checksum works too

        # sign-off: one report through the CLI, the other through the API, each by its reviewer
        reports = {reidentified(o.sample): o for o in objects if o.kind == "report"}
        monkeypatch.setenv("LABSTREAM_TOKEN", tokens["dr-cli"])
        res = CliRunner().invoke(app, ["genomics", "sign", reports[NA1].id])
        assert res.exit_code == 0 and res.output.startswith("signed: "), res.output
        signed_cli = get_object(gov, res.output.split()[1])
        client = TestClient(create_app(Settings(), gov=gov, announce=None))
        bearer = {"Authorization": f"Bearer {tokens['dr-api']}"}
        answer = client.post(f"/api/v1/reports/{reports[NA2].id}/sign", headers=bearer)
        assert answer.status_code == 200 and answer.json()["state"] == "signed", answer.text
        signed_api = get_object(gov, answer.json()["object_id"])
        again = client.post(f"/api/v1/reports/{signed_api.id}/sign", headers=bearer)
        assert again.status_code == 409, again.text  # signed: it never changes
        res = CliRunner().invoke(app, ["genomics", "sign", signed_cli.id])
        assert res.exit_code != 0 and "signed and cannot change" in res.output, res.output
        audit = gov.audit.query(action="report.sign")
        assert {(a.actor, a.outcome) for a in audit} == {("dr-cli", "allowed"), ("dr-api", "allowed")}

        # a correction is a new version; the signed one stays byte for byte; the lineage links them
        body = {"reason": "corrected the classification of one call"}
        amended = client.post(f"/api/v1/reports/{signed_api.id}/amend", headers=bearer, json=body)
        assert amended.status_code == 200 and amended.json()["state"] == "draft", amended.text
        html = gov.store("clinic").get_bytes(signed_api.uri).decode()
        assert hashlib.sha256(html.encode()).hexdigest() == signed_api.sha256 and "dr-api" in html
        for version in (signed_cli.id, amended.json()["object_id"]):
            chain = _lineage(version)
            stages = [rec["stage"] for rec in chain]
            assert stages[: stages.index("gx_call")] in (["report.sign"], ["report.amend", "report.sign"])
            sample_of(chain)
        versions = [v["state"] for v in client.get(
            f"/api/v1/reports/{signed_api.id}/versions", headers=bearer).json()]  # fmt: skip
        assert versions == ["draft", "signed", "draft"]
        assert gov.pseudonyms.reidentify(signed_api.sample, admin) == NA2
        with pytest.raises(AccessDenied):  # re-identification is the admin's right, not a reviewer's
            gov.pseudonyms.reidentify(
                signed_api.sample, Principal("dr-api", roles={"clinic": frozenset({"reviewer"})})
            )
        quarantined = [q.source for q in Catalog(Settings().catalog_url).list_quarantine()]
        assert len(quarantined) == 1 + 4 and all("PSN-" in q for q in quarantined), quarantined
    finally:
        gov.close()
    # no sample id anywhere under the platform's home: names and bytes of objects, lake, stream, catalog
    ids = (NA1, NA2, MISS, STRAY)
    hits = [
        f for f in Settings().home.rglob("*")
        if any(i in str(f) for i in ids) or (f.is_file() and any(i.encode() in f.read_bytes() for i in ids))
    ]  # fmt: skip
    assert hits == []


def _lineage(ident: str) -> list[dict]:
    """`labstream lineage IDENT --json`: the walk from a row or an object back to the ingest."""
    shown = CliRunner().invoke(app, ["lineage", ident, "--json"])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)
