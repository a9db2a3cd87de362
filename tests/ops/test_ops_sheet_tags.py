"""Cost per tag from the lab's own sheets (an Illumina SampleSheet's Sample_Project and custom columns,
a platemap's plate-level columns), and storage in the roll-ups by stage, run, user and tag: each object
billed to the task that brought or wrote it, so every roll-up sums to the same bill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.catalog.records import IORef, LineageRecord
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.layouts.sample_sheet import SheetSample, write_sample_sheet
from labstream.objects.fsspec_store import FsspecStore
from labstream.ops.cost import task_cost
from labstream.ops.entity_tags import platemap_tags, sheet_tags
from labstream.ops.pricebook import load_price_book

# a bcl2fastq-era sheet as a core exports it: indexes and IDs are not tags, Study and Grant are
SHEET_V1 = """[Header]
IEMFileVersion,5
Experiment Name,RUN-0042
[Reads]
151
151
[Data]
Lane,Sample_ID,Sample_Name,Sample_Plate,Sample_Well,I7_Index_ID,index,I5_Index_ID,index2,Sample_Project,Study,Grant
1,S1,S1,PL1,A01,D701,ATTACTCG,D501,TATAGCCT,oncology,BRCA-2026,G-17
1,S2,S2,PL1,B01,D702,TCCGGAGA,D502,ATAGAGGC,cardio,,G-17
"""
PLATEMAP = """plate,well,perturbation,role,batch,cell_line,compound_dose
P1,A01,DMSO,negcon,B7,U2OS,0
P1,A02,taxol,treated,B7,U2OS,1.5
P2,A01,DMSO,negcon,B8,A549,0
"""


def test_sheet_and_platemap_tags_are_parsed() -> None:
    tags = sheet_tags(SHEET_V1)
    assert tags["S1"] == {
        "Sample_Plate": "PL1",
        "Sample_Well": "A01",
        "Sample_Project": "oncology",
        "Study": "BRCA-2026",
        "Grant": "G-17",
    }
    assert "Study" not in tags["S2"] and tags["S2"]["Sample_Project"] == "cardio"
    v2 = write_sample_sheet([SheetSample("X1", "neuro"), SheetSample("X2", "")], version=2)
    assert sheet_tags(v2) == {"X1": {"Sample_Project": "neuro"}, "X2": {}}  # project from [Cloud_Data]
    # a column with one value per plate is the plate's tag; one that varies by well is not
    assert platemap_tags(PLATEMAP) == {
        "P1": {"batch": "B7", "cell_line": "U2OS"},
        "P2": {"batch": "B8", "cell_line": "A549"},
    }


def _task(lid: str, stage: str, key: str, wall: float, outputs: list[IORef], **params: str) -> LineageRecord:
    return LineageRecord(
        id=lid, stage=stage, key=key, project="p", status="ok", wall_seconds=wall, cpu_seconds=wall / 2,
        started_at=100.0, ended_at=100.0 + wall, outputs=outputs, request={"cpu": 1, "memory_mb": 2048},
        params={**params, "run": "run-7" if key.startswith("S") else "plates"},
    )  # fmt: skip


@pytest.mark.slow
def test_cost_by_sheet_tags_and_storage_by_stage(home: Path, tmp_path: Path) -> None:
    settings = Settings()
    store = FsspecStore(settings.objects_url)
    sheet = store.put_bytes(SHEET_V1.encode(), suffix=".csv")
    raw = {
        k: store.put_bytes(f"{k}\n".encode() * (1000 * (i + 1)), suffix=".bin")
        for i, k in enumerate(("S1", "S2", "P1"))
    }
    bam = store.put_derived("S1/S1.bam", b"BAM\x01" * 5000)
    platemap = tmp_path / "platemap.csv"
    platemap.write_text(PLATEMAP)
    records = [
        _task("ingest-s1", "ingest", "S1", 2.0, [IORef(raw["S1"].uri, raw["S1"].sha256)]),
        _task("ingest-s2", "ingest", "S2", 2.0, [IORef(raw["S2"].uri, raw["S2"].sha256)]),
        _task("ingest-p1", "ingest", "P1", 2.0, [IORef(raw["P1"].uri, raw["P1"].sha256)]),
        _task("align-s1", "gx_align", "S1", 1800.0, [IORef(bam.uri, bam.sha256)]),
        _task("align-s2", "gx_align", "S2", 900.0, []),
        _task("profile-p1", "ph_profile", "P1", 600.0, [], platemap=str(platemap)),
    ]
    with Catalog(settings.catalog_url).upgrade() as cat:
        for ref, path in [(sheet, "/runs/RUN-0042/SampleSheet.csv")] + [
            (r, f"/in/{k}.bin") for k, r in raw.items()
        ]:
            cat.claim_ingest(ref.sha256, path=path, size=ref.size, object_uri=ref.uri, project="p")
            cat.mark_published(ref.sha256, event_id=f"e-{ref.sha256[:8]}", object_uri=ref.uri)
        cat.record_lineage_many(records)

    book = load_price_book("labstream-2026-12")
    by_hand = {r.id: task_cost(r, book.compute("local", "standard"))["cost_usd"] for r in records}
    total = sum(by_hand.values())
    res = CliRunner().invoke(app, ["cost", "--by", "tag", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    for name in ("Sample_Project", "Study", "Grant", "batch", "cell_line"):  # each tag sums to the bill
        assert sum(r["cost_usd"] for r in rows if r["tag"] == name) == pytest.approx(total, rel=1e-12)
    got = {(r["tag"], r["value"]): r for r in rows}
    assert "compound_dose" not in {r["tag"] for r in rows} and "index" not in {r["tag"] for r in rows}
    assert got[("Sample_Project", "oncology")]["cost_usd"] == pytest.approx(
        by_hand["ingest-s1"] + by_hand["align-s1"], rel=1e-12
    )
    assert got[("Study", "BRCA-2026")]["tasks"] == 2 and got[("Study", "")]["tasks"] == 4
    assert got[("Grant", "G-17")]["tasks"] == 4
    assert got[("batch", "B7")]["cost_usd"] == pytest.approx(by_hand["ingest-p1"] + by_hand["profile-p1"])
    # storage rides with the tag: oncology holds S1's raw reads and its BAM
    assert got[("Sample_Project", "oncology")]["stored_bytes"] == raw["S1"].size + bam.size

    res = CliRunner().invoke(app, ["cost", "--by", "sample", "--format", "json"])
    samples = json.loads(res.output)
    for by, key in (("stage", "stage"), ("run", "run"), ("user", "user")):
        res = CliRunner().invoke(app, ["cost", "--by", by, "--format", "json"])
        assert res.exit_code == 0, res.output
        grouped = {r[key]: r for r in json.loads(res.output)}
        # the same objects, billed once, whichever way the bill is cut (the sheet itself is no task's)
        assert sum(r["stored_bytes"] for r in grouped.values()) == sum(raw[k].size for k in raw) + bam.size
        assert sum(r["storage_usd"] for r in grouped.values()) == pytest.approx(
            sum(r["storage_usd"] for r in samples if r["sample"]), rel=1e-6
        )
        for r in grouped.values():
            assert r["total_usd"] == pytest.approx(r["cost_usd"] + r["storage_usd"] + r["storage_fees_usd"])
        if by == "stage":
            assert grouped["ingest"]["stored_bytes"] == sum(raw[k].size for k in raw)
            assert grouped["gx_align"]["stored_bytes"] == bam.size
            assert grouped["ph_profile"]["stored_bytes"] == 0
