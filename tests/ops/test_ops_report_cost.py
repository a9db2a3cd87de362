"""The cost of a sample on its signed report: `labstream genomics sign` (the CLI, as the API does)
prices the sample at signing (compute from its tasks, storage of its reads and results, egress of what
the API served of it) and the signed report shows it, itemised, with the price book; checked against
a hand computation from the price book's list prices."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.catalog.records import IORef, LineageRecord
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.genomics.report import build_model, read_model, write_html
from labstream.governance.objects import get_object, register_file
from labstream.governance.service import Governance
from labstream.objects.fsspec_store import FsspecStore

GIB = 2**30
DAY = 86400.0
# eu-west-1 list prices of labstream-2026-12.toml, copied by hand
VCPU_HOUR, GB_RAM_HOUR, HOT_GB_MONTH, EGRESS_GB = 0.0464, 0.0058, 0.023, 0.09


def _task(lid: str, stage: str, hours: float, cpus: int, gb: int, outputs: list[IORef]) -> LineageRecord:
    t = time.time() - 3600 * hours
    return LineageRecord(
        id=lid, stage=stage, key="S9", project="alpha", status="ok", wall_seconds=3600 * hours,
        cpu_seconds=3600 * hours * cpus / 2, started_at=t, ended_at=t + 3600 * hours, outputs=outputs,
        request={"cpu": cpus, "memory_mb": gb * 1024},
    )  # fmt: skip


def test_signed_report_shows_the_sample_cost(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABSTREAM_REGION", "eu-west-1")
    settings = Settings()
    store = FsspecStore(settings.objects_url)
    raw = store.put_bytes(b"@r\nACGT\n+\nIIII\n" * 100, suffix=".fastq.gz")
    bam_path = tmp_path / "S9.bam"
    bam_path.write_bytes(b"BAM\x01" * 4096)
    bam_ref = store.put_derived("S9/S9.bam", bam_path.read_bytes())
    tasks = [
        _task("ingest-s9", "ingest", 0.01, 1, 1, [IORef(raw.uri, raw.sha256)]),
        _task("align-s9", "gx_align", 3.0, 8, 32, [IORef(bam_ref.uri, bam_ref.sha256)]),
        _task("call-s9", "gx_call", 1.5, 4, 16, []),
    ]
    claimed = 120 * GIB  # a 30x genome's reads, as the catalog recorded them
    with Catalog(settings.catalog_url).upgrade() as cat:
        cat.claim_ingest(
            raw.sha256, path="/run/S9_R1.fastq.gz", size=claimed, object_uri=raw.uri, project="alpha"
        )
        cat.mark_published(raw.sha256, event_id="e-s9", object_uri=raw.uri)
        cat.record_lineage_many(tasks)
    arrived = time.time() - 20 * DAY  # the reads arrived 20 days ago
    engine = create_engine(settings.catalog_url)
    with engine.begin() as con:
        con.execute(text("UPDATE ingested_files SET first_seen = :t"), {"t": arrived})
    engine.dispose()

    gov = Governance.open(settings)
    try:
        gov.directory.add_project("alpha", region="eu")
        gov.directory.add_user("rev")
        gov.directory.grant("rev", "alpha", "reviewer")
        _, token = gov.directory.create_token("rev")
        bam = register_file(gov, bam_path, project="alpha", kind="bam", sample="S9")
        gov.audit.record(
            "viewer", "drs.access", resource=f"object/{bam.id}", project="alpha", detail={"bytes": 3 * GIB}
        )
        gov.audit.record(
            "viewer", "drs.access", resource="object/other", project="alpha", detail={"bytes": GIB}
        )
        model = build_model(
            sample="S9", run="run9", reference="/nonexistent/ref.fa", qc={}, bins=[], variants=[], timings={},
            versions={}, lineage={"lineage_id": "align-s9"}, plot="", reference_sha256="0" * 64,
        )  # fmt: skip
        draft = register_file(
            gov, write_html(tmp_path / "S9.report.html", model), project="alpha", kind="report", sample="S9"
        )
    finally:
        gov.close()

    (tmp_path / "token").write_text(token)
    res = CliRunner().invoke(app, ["genomics", "sign", draft.id, "--token-file", str(tmp_path / "token")])
    signed_at = time.time()
    assert res.exit_code == 0, res.output
    signed_id = res.output.split("signed: ")[1].split()[0]
    gov = Governance.open(settings)
    try:
        obj = get_object(gov, signed_id)
        html = gov.store("alpha").get_bytes(obj.uri).decode()  # type: ignore[union-attr]
    finally:
        gov.close()
    cost = read_model(html)["cost"]

    compute = sum(
        h * (max(c, c / 2) * VCPU_HOUR + g * GB_RAM_HOUR)
        for h, c, g in ((0.01, 1, 1), (3.0, 8, 32), (1.5, 4, 16))
    )
    assert cost["compute_usd"] == pytest.approx(compute, rel=1e-9) and cost["tasks"] == 3
    # storage: 120 GiB hot for 20 days (plus the seconds of the test) and the BAM since its task ended
    low = claimed / GIB * HOT_GB_MONTH * 20 / 30
    high = (claimed + bam_ref.size) / GIB * HOT_GB_MONTH * (signed_at - arrived) / (30 * DAY)
    assert low <= cost["storage_usd"] <= high and cost["storage_usd"] == pytest.approx(low, rel=1e-4)
    assert cost["egress_usd"] == pytest.approx(3 * EGRESS_GB, rel=1e-12)  # only S9's object, not 'other'
    assert cost["total_usd"] == pytest.approx(cost["compute_usd"] + cost["storage_usd"] + cost["egress_usd"])
    assert cost["price_book"] == "labstream-2026-12@2026-12"
    assert "Appendix C: cost of this test" in html and f"USD {cost['total_usd']:.2f}" in html
    (tmp_path / "signed.report.html").write_text(html)  # for a look (--basetemp)
