"""The dashboard in a real headless Chromium against a real uvicorn server, over a lake filled by the real
phenomics pipeline (three simulated plates: P01, P02 as project alpha, P03 as beta) plus genomics rows
made by labstream.genomics.tables from a real VCF. Expected numbers are read back from the lake and the
catalog here, independently of the dashboard's own queries."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from labstream.core.settings import Settings
from labstream.governance.service import Governance
from labstream.lake import Lake

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Dash:
    settings: Settings
    gov: Governance
    lake: Lake
    tokens: dict[str, str] = field(default_factory=dict)
    variants: int = 0


def _vcf(path: Path, n: int, seed: int = 5) -> Path:
    rng = random.Random(seed)
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=50000>",
        '##FILTER=<ID=LowQual,Description="Low quality">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
    for pos in sorted(rng.sample(range(10, 49000), n)):
        ref, alt = rng.choice([("A", "G"), ("C", "T"), ("G", "GA"), ("TC", "T")])
        filt = rng.choice(["PASS", "PASS", "LowQual"])
        lines.append(f"chr1\t{pos}\t.\t{ref}\t{alt}\t{rng.randint(20, 90)}\t{filt}\t.\tGT\t0/1")
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_phenomics(tmp: Path, settings: Settings) -> None:
    from labstream.ingest import Ingestor
    from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
    from labstream.phenomics.stages import pipeline
    from labstream.runtime import PipelineRunner

    spec = PlateSetSpec(
        plates=3,
        complexes=2,
        genes_per_complex=2,
        nulls=1,
        negative_controls=2,
        positive_controls=1,
        sites_per_well=1,
        size=96,
        seed=3,
    )
    sim = MicroscopeSimulator(spec).write(tmp / "set", "tiff")
    ingestor = Ingestor(settings)
    for f in sim.files:
        ingestor.ingest_file(f, project="beta" if Path(f).name.startswith("P03_") else "alpha")
    with PipelineRunner(
        settings, pipeline(relationships=str(sim.relationships)), "local?cpu=2&start=forkserver"
    ) as runner:
        runner.run_until_idle(timeout=120)


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Dash:
    from labstream.genomics.bam import CoverageBin
    from labstream.genomics.tables import coverage_rows, variant_rows
    from labstream.governance.auth import Principal
    from labstream.governance.runs import Runs

    tmp = tmp_path_factory.mktemp("dash")
    settings = Settings(home=tmp / "home")
    gov = Governance.open(settings)
    d = Dash(settings, gov, Lake(settings.lake_url))
    for p in ("alpha", "beta"):
        gov.directory.add_project(p, region="eu")
        gov.directory.add_user(f"viewer_{p}")
        gov.directory.grant(f"viewer_{p}", p, "viewer")
        d.tokens[p] = gov.directory.create_token(f"viewer_{p}")[1]
    _run_phenomics(tmp, settings)
    from labstream.ops.ledger import refresh

    refresh(settings)  # the ops panel reads the costs and turnaround tables the refresher keeps
    rows = variant_rows(_vcf(tmp / "s1.vcf", 40), sample="S1", run="r1")
    d.lake.append("variants", pa.Table.from_pylist(rows), project="alpha")
    d.variants = len(rows)
    rng = random.Random(1)
    bins = [
        CoverageBin("chr1", s, s + 1000, rng.uniform(5, 40), rng.randint(0, 5), rng.uniform(0.3, 1.0))
        for s in range(0, 10_000, 1000)
    ]
    d.lake.append(
        "coverage", pa.Table.from_pylist(coverage_rows(bins, sample="S1", run="r1")), project="alpha"
    )
    root = Principal("seed", roles={"alpha": frozenset({"admin"})})
    Runs(gov).submit(root, "alpha", "phenomics", {})
    yield d
    gov.close()


@pytest.fixture(scope="module")
def app(dash: Dash):
    """Overrides tests/api/conftest.py's app: the `server` fixture there then serves this one."""
    from labstream.api.app import create_app

    return create_app(dash.settings, gov=dash.gov, announce=None)


def _alpha_expectations(d: Dash, project: str) -> dict[str, object]:
    qc = d.lake.read("site_qc", filter=pc.field("project") == project).to_pandas()
    first = sorted(set(qc.Metadata_Plate))[0]  # the plate the page shows first
    focus = qc[qc.Metadata_Plate == first].groupby("Metadata_Well")["focus_score"].mean().to_dict()
    tables = {
        t: (
            d.lake.version(t),
            d.lake.read(t, filter=pc.field("project") == project, columns=["project"]).num_rows,
        )
        for t in d.lake.tables()
    }
    return {"plates": sorted(set(qc.Metadata_Plate)), "focus": focus, "tables": tables, "sites": len(qc)}


def _cells(page, selector: str) -> dict[str, dict[str, str]]:
    """{row key: {data-col: text}} of a dashboard table."""
    return page.eval_on_selector_all(
        selector,
        """rows => Object.fromEntries(rows.map(r => [Object.values(r.dataset)[0],
             Object.fromEntries(Array.from(r.cells).map(c => [c.dataset.col, c.textContent]))]))""",
    )


@pytest.mark.integration
def test_dashboard_in_headless_chromium(dash: Dash, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    captured: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda rec: captured.append(rec.getMessage())  # type: ignore[method-assign]
    access = logging.getLogger("uvicorn.access")  # does not propagate: listen to it directly
    access_level = access.level
    access.setLevel(logging.INFO)
    for name in ("", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addHandler(handler)
    want = {p: _alpha_expectations(dash, p) for p in ("alpha", "beta")}
    assert want["alpha"]["plates"] == ["P01", "P02"] and want["beta"]["plates"] == ["P03"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server}/dashboard#refresh=1&token={dash.tokens['alpha']}")
            page.wait_for_selector("#heatmap svg[data-plate='P01'] rect.well", timeout=15_000)
            assert dash.tokens["alpha"] not in page.url  # dropped from the address bar and history

            # heatmap: one cell per imaged well, value = mean focus score of the well's sites in the lake
            got = page.eval_on_selector_all(
                "#heatmap rect.well", "rs => rs.map(r => [r.dataset.well, Number(r.dataset.value)])"
            )
            focus = want["alpha"]["focus"]
            assert sorted(w for w, _ in got) == sorted(focus)
            for well, value in got:
                assert value == pytest.approx(focus[well], rel=1e-9)
            assert page.eval_on_selector("#heatmap svg", "s => s.dataset.project") == "alpha"

            # another metric, chosen in the page: cells per well counted in the `cells` table
            page.select_option("#metric", "cells")
            page.wait_for_selector("#heatmap svg[data-metric='cells']", timeout=10_000)
            per_well = (
                dash.lake.read(
                    "cells",
                    filter=(pc.field("project") == "alpha") & (pc.field("Metadata_Plate") == "P01"),
                    columns=["Metadata_Well"],
                )
                .to_pandas()
                .Metadata_Well.value_counts()
            )
            got = page.eval_on_selector_all(
                "#heatmap rect.well", "rs => rs.map(r => [r.dataset.well, Number(r.dataset.value)])"
            )
            assert {w: v for w, v in got if v} == {w: float(n) for w, n in per_well.items()}
            assert page.text_content("#heatmap .legend-max") == str(int(per_well.max()))

            # status numbers match the lake and the catalog
            tables = _cells(page, "#tables tbody tr")
            for t, (version, rows) in want["alpha"]["tables"].items():
                assert tables[t] == {"table": t, "version": str(version), "rows": str(rows)}, t
            stages = _cells(page, "#stages tbody tr")
            assert stages["phenomics_site"]["processed"] == str(want["alpha"]["sites"])
            assert stages["phenomics_plate"]["processed"] == "2"
            assert all(s["lag"] == "0" and s["failed"] == "0" for k, s in stages.items() if "phenomics" in k)
            assert stages["gx_align"]["lag"] == "–"  # no genomics worker ever committed: lag unknown
            with dash.gov.engine.connect() as conn:
                lineage = conn.execute(sa.text("SELECT count(*) FROM lineage WHERE project='alpha'")).scalar()
            assert page.text_content("[data-count='lineage']") == str(lineage)
            assert page.text_content("[data-count='plates']") == "2"

            # the latest hit list and per-sample genomics numbers
            hits = dash.lake.read("phenomics_hits", filter=pc.field("project") == "alpha").to_pandas()
            shown = _cells(page, "#hits tbody tr")
            assert set(shown) == {f"alpha/{p}" for p in hits.Metadata_Perturbation} and shown
            sample = _cells(page, "#samples tbody tr")["alpha/S1"]
            assert sample["variants"] == str(dash.variants)
            assert page.locator("#runs tbody tr[data-run]").count() == 1

            # auto-refresh: rows appended to the lake show up without a reload
            more = dash.lake.read("variants", filter=pc.field("project") == "alpha").slice(0, 3)
            dash.lake.append("variants", more.drop_columns(["lineage_id", "_ingested_at"]), project="alpha")
            expect(page.locator("tr[data-sample='alpha/S1'] td[data-col='variants']")).to_have_text(
                str(dash.variants + 3), timeout=10_000
            )
            # operations panel: alpha's cost and its plates' clocks, nothing of beta
            expect(page.locator("#costs tr[data-project='alpha'] td[data-col='tasks']")).not_to_have_text("0")
            assert page.locator("#costs tr[data-project='beta']").count() == 0
            expect(page.locator("#turnaround tr[data-milestone='phenomics/ingested']")).to_have_count(1)
            expect(
                page.locator("#storage tr[data-tier='alpha/hot'] td[data-col='objects']")
            ).not_to_have_text("0")
            assert page.locator("#storage tr[data-tier^='beta/']").count() == 0
            expect(page.locator("#cost_days tr[data-day$='/alpha']").first).to_be_visible()
            assert page.locator("#cost_days tr[data-day$='/beta']").count() == 0
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            # a viewer of beta sees beta's plate only, and nothing of alpha's
            other = browser.new_page()
            other.goto(f"{server}/dashboard#token={dash.tokens['beta']}")
            other.wait_for_selector("#heatmap svg[data-plate='P03'] rect.well", timeout=15_000)
            options = other.eval_on_selector_all("#plate option", "os => os.map(o => o.value)")
            assert options == ["beta/P03"]
            body = other.text_content("main") or ""
            assert "alpha" not in body and "S1" not in body
            beta_tables = _cells(other, "#tables tbody tr")
            for t, (version, rows) in want["beta"]["tables"].items():
                assert beta_tables[t]["rows"] == str(rows), t

            # a bad token lands on the login form, not on data
            bad = browser.new_page()
            bad.goto(f"{server}/dashboard#token=ls_not-a-real-token")
            bad.wait_for_selector("#login:not([hidden])", timeout=10_000)
            assert "not accepted" in (bad.text_content("#login-error") or "")
            assert errors == []
            browser.close()
    finally:
        for name in ("", "uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).removeHandler(handler)
        access.setLevel(access_level)
    assert any("/api/v1/dashboard/status" in m for m in captured)  # the access log was heard
    for token in dash.tokens.values():
        assert not any(token in m for m in captured)
        assert token.encode() not in (dash.settings.home / "audit" / "audit.db").read_bytes()


@pytest.mark.integration
def test_dashboard_json_is_scoped(dash: Dash, server: str) -> None:
    beta = {"Authorization": f"Bearer {dash.tokens['beta']}"}
    with httpx.Client(base_url=server) as c:
        assert c.get("/api/v1/dashboard/plates/P01/qc?project=alpha", headers=beta).status_code == 403
        hidden = c.get("/api/v1/dashboard/plates/P01/qc", headers=beta).json()
        assert hidden["found"] is False and hidden["wells"] == []
        assert c.get("/api/v1/dashboard/status").status_code == 401
        bad = c.get("/api/v1/dashboard/plates/P03/qc?metric=nonsense", headers=beta)
        assert bad.status_code == 400 and "metric" in bad.json()["detail"]
        cells = c.get("/api/v1/dashboard/plates/P03/qc?metric=cells", headers=beta).json()
        lake_cells = dash.lake.read(
            "cells", filter=(pc.field("project") == "beta"), columns=["Metadata_Well"]
        ).to_pandas()
        assert {w["well"]: w["value"] for w in cells["wells"] if w["value"]} == {
            k: float(v) for k, v in lake_cells.Metadata_Well.value_counts().items()
        }
        page = c.get("/dashboard")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]


def _probe_keeps_assignment(url: str) -> None:
    from labstream.api.dashboard.status import committed_offsets
    from labstream.stream import TopicPartition, open_stream

    stream = open_stream(url)
    stream.create_topic("dash.t", partitions=2)
    for i in range(10):
        stream.publish("dash.t", f"v{i}".encode(), key=str(i))
    stream.flush()
    worker = stream.consumer("dash-g", ["dash.t"])
    got: list = []
    for _ in range(30):
        got += worker.poll(100, 1.0)
        if len(got) == 10:
            break
    worker.commit()
    before = sorted(worker.assignment())
    assert committed_offsets(stream, "never-ran", "dash.t", [0, 1]) == {0: None, 1: None}
    offsets = committed_offsets(stream, "dash-g", "dash.t", [0, 1])
    assert sum(offsets.values()) == len(got) == 10  # type: ignore[arg-type]
    worker.poll(10, 0.2)
    assert sorted(worker.assignment()) == before == [TopicPartition("dash.t", 0), TopicPartition("dash.t", 1)]
    worker.close()
    stream.close()


def test_offset_probe_joins_no_group_sqlite(tmp_path: Path) -> None:
    _probe_keeps_assignment(f"sqlite:///{tmp_path / 'stream.db'}")


@pytest.mark.integration
def test_offset_probe_joins_no_group_kafka(kafka_url: str) -> None:
    _probe_keeps_assignment(kafka_url + "?session_timeout_ms=3000")
