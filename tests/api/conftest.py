"""Fixtures for the API tests: a governed home with two projects, users of every role, a lake with
rows of both projects, and a small real BAM + VCF (made with pysam) registered as encrypted objects."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pysam
import pytest

from labstream.core.settings import Settings
from labstream.governance.auth import ROLES
from labstream.governance.objects import register_file
from labstream.governance.service import Governance

PROJECTS = ("alpha", "beta")
CANARY = "CANARY-PATIENT-7f3a91"


@dataclass
class World:
    home: Path
    settings: Settings
    gov: Governance
    tokens: dict[str, str] = field(default_factory=dict)  # user -> token; users are f"{role}_{project}"
    objects: dict[str, dict[str, str]] = field(default_factory=dict)  # project -> kind -> object id
    files: dict[str, Path] = field(default_factory=dict)  # "bam" / "vcf" plaintext copies for comparison
    sentinel: Path | None = None
    runs: dict[str, list[str]] = field(default_factory=dict)  # project -> run ids

    def pseudonym(self, project: str) -> str:
        return self.gov.pseudonyms.pseudonym("patient_id", CANARY, project)


def _runs(gov: Governance):
    from labstream.governance.runs import Runs

    return Runs(gov)


def make_bam(path: Path, seed: int = 1) -> Path:
    rng = random.Random(seed)
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": "chr1", "LN": 20000}, {"SN": "chr2", "LN": 15000}],
    }
    reads = []
    for i in range(600):
        tid = rng.randrange(2)
        pos = rng.randrange(0, (20000 if tid == 0 else 15000) - 200)
        reads.append((tid, pos, i))
    reads.sort()
    unsorted = path.with_suffix(".tmp.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for tid, pos, i in reads:
            a = pysam.AlignedSegment()
            a.query_name = f"r{i}"
            a.query_sequence = "".join(rng.choice("ACGT") for _ in range(100))
            a.flag = 0
            a.reference_id = tid
            a.reference_start = pos
            a.mapping_quality = 60
            a.cigarstring = "100M"
            a.query_qualities = pysam.qualitystring_to_array("I" * 100)
            out.write(a)
    pysam.sort("-o", str(path), str(unsorted))
    unsorted.unlink()
    pysam.index(str(path))
    return path


def make_vcf(path: Path, seed: int = 2) -> Path:
    rng = random.Random(seed)
    header = pysam.VariantHeader()
    header.contigs.add("chr1", length=20000)
    header.contigs.add("chr2", length=15000)
    header.add_sample("S1")
    header.formats.add("GT", 1, "String", "Genotype")
    plain = path.with_suffix("")  # .vcf
    with pysam.VariantFile(str(plain), "w", header=header) as out:
        for contig, length in (("chr1", 20000), ("chr2", 15000)):
            for pos in sorted(rng.sample(range(1, length), 150)):
                rec = out.new_record(contig=contig, start=pos - 1, stop=pos, alleles=("A", "G"))
                rec.samples["S1"]["GT"] = (0, 1)
                out.write(rec)
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return path


def clinical_reports(gov: Governance, data: Path, project: str) -> dict[str, str]:
    """Two labstream clinical reports of the project: a draft to sign and one a reviewer signed already."""
    from labstream.genomics.report import build_model, write_html
    from labstream.governance.auth import Principal
    from labstream.governance.signoff import sign

    out = {}
    for name in ("draft", "tosign"):
        model = build_model(
            sample=f"{project}-S0", run="run1", reference="/nonexistent/ref.fa", qc={}, bins=[], variants=[],
            timings={}, versions={}, lineage={"lineage_id": f"lin-{project}"}, plot="",
            reference_sha256="0" * 64,
        )  # fmt: skip
        page = write_html(data / f"{project}-{name}.report.html", model)
        out[f"report_{name}"] = register_file(
            gov, page, project=project, kind="report", sample=f"{project}-S0"
        ).id
    reviewer = Principal("seed-reviewer", roles={project: frozenset({"reviewer"})})
    out["report_signed"] = sign(gov, reviewer, out.pop("report_tosign")).id
    return out


def build_world(tmp: Path) -> World:
    home = tmp / "home"
    settings = Settings(home=home)
    gov = Governance.open(settings)
    world = World(home=home, settings=settings, gov=gov)
    d = gov.directory
    for p in PROJECTS:
        d.add_project(p, region="eu" if p == "alpha" else "us")
        for role in ROLES:
            user = f"{role}_{p}"
            d.add_user(user)
            d.grant(user, p, role)
            world.tokens[user] = d.create_token(user)[1]
    d.add_user("nobody")
    world.tokens["nobody"] = d.create_token("nobody")[1]
    # lake rows of both projects; patient ids pseudonymized at ingest
    from labstream.lake import Lake

    lake = Lake(settings.lake_url)
    for p in PROJECTS:
        rows = [
            gov.pseudonyms.pseudonymize_record(
                {
                    "sample_id": f"{p}-S{i}",
                    "patient_id": CANARY if i == 0 else f"P{p}{i}",
                    "value": float(i),
                    "project": p,
                },
                p,
            )
            for i in range(5)
        ]
        lake.append("samples", pa.Table.from_pylist(rows), project=p)
        lake.append(
            "plates",
            pa.Table.from_pylist([{"plate": f"{p}-PL{i}", "wells": 384, "project": p} for i in range(3)]),
            project=p,
        )
    data = tmp / "data"
    data.mkdir()
    bam = make_bam(data / "a.bam")
    vcf = make_vcf(data / "a.vcf.gz")
    world.files = {"bam": bam, "vcf": vcf}
    report = data / "report.html"
    report.write_text("<html><body>report for patient pseudonym</body></html>")
    for p in PROJECTS:
        world.objects[p] = {
            "bam": register_file(
                gov, bam, project=p, kind="bam", index_path=str(bam) + ".bai", patient_linked=True
            ).id,
            "vcf": register_file(
                gov, vcf, project=p, kind="vcf", index_path=str(vcf) + ".tbi", patient_linked=True
            ).id,
            "report": register_file(gov, report, project=p, kind="report", patient_linked=True).id,
        }
        world.objects[p].update(clinical_reports(gov, data, p))
    from labstream.catalog.models import LineageRow
    from labstream.governance.auth import Principal

    root = Principal("seed", roles={p: frozenset({"admin"}) for p in PROJECTS})
    for p in PROJECTS:
        world.runs[p] = world_runs = [
            gov_run.id for gov_run in (_runs(gov).submit(root, p, "filestats", {}) for _ in range(2))
        ]
        assert world_runs
        with gov.sessions.begin() as s:
            s.add(LineageRow(id=f"lin-{p}", stage="align", project=p))
    sentinel = tmp / "outside-secret.txt"
    sentinel.write_text("SENTINEL-OUTSIDE-DATA-ROOT-93b1")
    world.sentinel = sentinel
    return world


@pytest.fixture(scope="module")
def with_models(world: World, mlflow_registry_template: Path) -> World:
    """The world with a model registry (only the modules that use it pay for it)."""
    add_models(world.home, mlflow_registry_template)
    return world


def add_models(home: Path, template: Path) -> None:
    """The model registry under the world's home (a copy of the session's empty MLflow database) with
    `variant-caller` v1 (champion) and v2, better on the evaluation set and so promotable."""
    import shutil

    import numpy as np

    from labstream.genomics.learned_features import FEATURES
    from labstream.genomics.learned_model import FORMAT, VariantModel, output_digest
    from labstream.models import open_registry
    from labstream.models.base import registry_url
    from labstream.models.flavors import array_bytes
    from labstream.models.gate import promote

    db = home / "models" / "registry.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db)
    reg = open_registry(registry_url(home))
    x = np.random.default_rng(0).normal(size=(120, len(FEATURES)))
    for seed, f1 in ((1, 0.99), (2, 0.995)):
        m = VariantModel.fit(x, (x[:, seed] > 0).astype(int), seed=seed, max_iter=3)
        reg.register(
            "variant-caller", m.to_bytes(), flavor=FORMAT, code_version="tests", training_data=[],
            params={}, metrics={"heldout": {"snp_f1": f1, "indel_f1": f1}}, test_input=array_bytes(x[:5]),
            test_output_sha256=output_digest(m.predict_proba(x[:5])),
        )  # fmt: skip
    promote(reg, "variant-caller", 1, actor="seed")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    w = build_world(tmp_path_factory.mktemp("world"))
    yield w
    w.gov.close()


@pytest.fixture(scope="module")
def app(world: World):
    from labstream.api.app import create_app

    return create_app(world.settings, gov=world.gov, announce=None)


@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def auth(world: World, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[user]}"}


@pytest.fixture(scope="module")
def server(app):
    """A real uvicorn server on 127.0.0.1 (random free port) in a thread; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


COHORT_SEED = 5


@pytest.fixture(scope="module")
def with_cohort(world: World):
    """A cohort in the world's lake: 8 msprime samples over 60 kb with gaps and no-calls, the first 4 in
    project alpha, the rest in beta. Returns the simulated cohort (the truth)."""
    from labstream.cohort import CohortStore
    from labstream.instruments.cohort_sim import sample_calls, simulate_cohort
    from labstream.lake import open_lake

    c = simulate_cohort(8, 60_000, COHORT_SEED, gaps_per_sample=1.5, gap_len=4000, nocall_rate=0.05)
    store = CohortStore(open_lake(world.settings.lake_url))
    for j in range(8):
        store.add(sample_calls(c, j, store.max_block), project="alpha" if j < 4 else "beta")
    return c
