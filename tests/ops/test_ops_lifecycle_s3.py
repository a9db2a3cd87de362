"""Lifecycle on a real S3 API server (moto): objects change storage class, an archived object read
before its restore says so (and asks for the restore), a restore makes it readable, an open case's
objects (raw and governed) never move until its report is signed, legal holds hold, and storage is
billed per tier to the sample that wrote each object; S3 Object Lock holds; a last-access rule."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from labstream.catalog import Catalog
from labstream.catalog.records import LineageRecord
from labstream.cli.main import app
from labstream.core.settings import Settings
from labstream.governance.models import DataObject, ReportVersion
from labstream.objects.fsspec_store import FsspecStore
from labstream.objects.tiers import ObjectArchived
from labstream.ops.lifecycle import load_policy
from labstream.ops.lifecycle_run import lifecycle_apply, lifecycle_plan, tier_history
from labstream.ops.pricebook import load_price_book
from labstream.ops.storage import storage_costs
from labstream.testing.s3 import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = 86400.0
GIB = float(2**30)
HOT, ARCHIVE = 0.023, 0.00099
POLICY = load_policy(
    {
        "rule": [
            {"prefix": "", "transitions": [{"days": 30, "tier": "cool"}, {"days": 90, "tier": "archive"}]}
        ],
        "holds": {"S4": "litigation hold 2026-14"},
    }
)

IDLE_POLICY = load_policy(  # archive what is 90 days old and was not read through the platform for 30
    {"rule": [{"name": "idle", "last_access_days": 30, "transitions": [{"days": 90, "tier": "archive"}]}]}
)


def _report(s: Session, oid: str, sample: str, *, signed_from: str = "") -> None:
    s.add(
        DataObject(
            id=oid,
            project="p",
            kind="report",
            uri=f"s3://elsewhere/{oid}",
            sha256="0" * 64,
            size=1,
            sample=sample,
        )
    )
    if signed_from:
        s.add(
            ReportVersion(
                object_id=oid,
                report_id=signed_from,
                version=1,
                state="signed",
                parent_id=signed_from,
                project="p",
            )
        )


def _class(server: S3Server, uri: str) -> str:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return str(server.client().head_object(Bucket=bucket, Key=key).get("StorageClass", "STANDARD"))


def test_lifecycle_moves_restores_and_holds(
    s3_bucket_url: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABSTREAM_OBJECTS_URL", f"{s3_bucket_url}/objects")
    settings = Settings()
    store = FsspecStore(settings.objects_url)
    raw = {
        s: store.put_bytes(f"@{s}\nACGT\n+\nIIII\n".encode() * 500, suffix=".fastq")
        for s in ("S1", "S2", "S3", "S4", "S5")
    }
    vcf = store.put_derived("S1/S1.vcf", b"##fileformat=VCFv4.2\n" * 300)  # a stage output of S1
    bam = store.put_derived("S2/S2.bam", b"BAM\x01" * 2000)  # a governed object of the open case S2
    t0 = time.time()
    with Catalog(settings.catalog_url).upgrade() as cat:
        for s, ref in raw.items():
            cat.claim_ingest(
                ref.sha256, path=f"/run/{s}.fastq", size=ref.size, object_uri=ref.uri, project="p"
            )
            cat.mark_published(ref.sha256, event_id=f"e-{s}", object_uri=ref.uri)
            cat.record_lineage(
                LineageRecord(
                    stage="ingest", key=s, project="p", outputs=[ref.uri], started_at=t0, ended_at=t0
                )
            )  # type: ignore[list-item]
        cat.record_lineage(
            LineageRecord(
                stage="key_summary", key="S1", project="p", outputs=[vcf.uri], started_at=t0, ended_at=t0
            )
        )  # type: ignore[list-item]
    engine = create_engine(settings.catalog_url)
    with Session(engine) as s:
        _report(s, "r1", "S1")
        _report(s, "r1-signed", "S1", signed_from="r1")  # S1's report is signed: its case is closed
        _report(s, "r2", "S2")  # S2's report is a draft: an open case
        s.add(
            DataObject(
                id="b2", project="p", kind="bam", uri=bam.uri, sha256=bam.sha256, size=bam.size, sample="S2"
            )
        )
        s.commit()
    bucket, _ = raw["S3"].uri.removeprefix("s3://").split("/", 1)
    s3_server.client().put_object_tagging(
        Bucket=bucket,
        Key=raw["S3"].uri.split(f"{bucket}/", 1)[1],
        Tagging={"TagSet": [{"Key": "legal-hold", "Value": "subpoena-7"}]},
    )

    later = t0 + 100 * DAY
    planned = {m.uri: m for m in lifecycle_plan(settings, POLICY, now=later)}
    assert {u for u, m in planned.items() if m.action == "transition"} == {
        raw["S1"].uri,
        raw["S5"].uri,
        vcf.uri,
    }
    held = {u: m.reason for u, m in planned.items() if m.action == "held"}
    assert set(held) == {raw["S2"].uri, bam.uri, raw["S3"].uri, raw["S4"].uri}
    assert "open case" in held[raw["S2"].uri] and "open case" in held[bam.uri]
    assert "subpoena-7" in held[raw["S3"].uri] and "litigation" in held[raw["S4"].uri]
    assert all(m.to_tier == "archive" for m in planned.values())

    lifecycle_apply(settings, POLICY, now=later)
    for uri in (raw["S1"].uri, raw["S5"].uri, vcf.uri):
        assert _class(s3_server, uri) == "GLACIER"
    for uri in (raw["S2"].uri, bam.uri, raw["S3"].uri, raw["S4"].uri):
        assert _class(s3_server, uri) == "STANDARD"
    assert [m.action for m in lifecycle_plan(settings, POLICY, now=later)] == ["held"] * 4  # applied once

    # reading an archived object says so and asks for the restore; once restored it reads (verified)
    with pytest.raises(
        ObjectArchived, match=r"archived \(archive.*restore requested now, ready in about 5 h"
    ) as got:
        store.get_bytes(vcf.uri)
    assert store.get_bytes(vcf.uri) == b"##fileformat=VCFv4.2\n" * 300  # moto restores at once
    # the API answers it with 503, when to come back, and never the object's URI
    from labstream.api.app import create_app

    handler = create_app(settings, announce=None).exception_handlers[ObjectArchived]
    resp = asyncio.run(handler(None, got.value))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == str(5 * 3600)
    assert b"archived" in resp.body and b"s3://" not in resp.body
    with pytest.raises(ObjectArchived), store.open(raw["S1"].uri):
        pass
    with store.local_path(raw["S1"].uri) as local:  # restored by the refused open
        assert local.read_bytes() == b"@S1\nACGT\n+\nIIII\n" * 500
    # an explicit restore through the CLI, with its retrieval fee
    res = CliRunner().invoke(app, ["lifecycle", "restore", raw["S5"].uri, "--format", "json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)
    assert row["tier"] == "archive" and row["retrieval_usd"] == pytest.approx(raw["S5"].size / GIB * 0.02)
    with store.open(raw["S5"].uri) as fh:
        assert fh.read() == b"@S5\nACGT\n+\nIIII\n" * 500

    # storage billed in the tier each object was in: 100 days hot, then archive
    history = tier_history(settings)
    with Catalog(settings.catalog_url).upgrade() as cat:
        files = cat.list_ingested()
    keys = {ref.uri: s for s, ref in raw.items()}
    got = storage_costs(files, keys, load_price_book(), region="local", now=later + 30 * DAY, history=history)
    size = raw["S1"].size / GIB
    first = next(f.first_seen for f in files if f.object_uri == raw["S1"].uri)
    assert got[("p", "S1")]["storage_hot_usd"] == pytest.approx(
        size * HOT * (later - first) / (30 * DAY), rel=1e-9
    )
    assert got[("p", "S1")]["storage_archive_usd"] == pytest.approx(size * ARCHIVE, rel=1e-9)
    assert got[("p", "S5")]["fees_usd"] == pytest.approx(raw["S5"].size / GIB * 0.02)
    assert "storage_archive_usd" not in got[("p", "S2")]  # held: hot throughout

    # the cost CLI bills the stage output to the sample that wrote it
    res = CliRunner().invoke(app, ["cost", "--by", "sample", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["sample"]: r for r in json.loads(res.output)}
    assert rows["S1"]["stored_bytes"] == raw["S1"].size + vcf.size
    assert rows["S2"]["stored_bytes"] == raw["S2"].size  # the governed BAM has no lineage task here
    for r in rows.values():
        assert r["total_usd"] == pytest.approx(r["cost_usd"] + r["storage_usd"] + r["storage_fees_usd"])

    # signing S2's report closes the case: its objects move on the next run
    with Session(engine) as s:
        _report(s, "r2-signed", "S2", signed_from="r2")
        s.commit()
    engine.dispose()
    moved = {m.uri for m in lifecycle_plan(settings, POLICY, now=later) if m.action == "transition"}
    assert moved == {raw["S2"].uri, bam.uri}


def test_object_lock_legal_hold_and_retention_never_move(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 Object Lock, read from the server (not a tag): a legal hold ON or a retention not yet over
    keeps the object where it is; a hold switched OFF lets it move on the next run."""
    import datetime as dt
    import uuid

    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    bucket = f"lock-{uuid.uuid4().hex[:12]}"
    client = s3_server.client()
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    monkeypatch.setenv("LABSTREAM_OBJECTS_URL", f"s3://{bucket}/objects")
    settings = Settings()
    store = FsspecStore(settings.objects_url)
    refs = {s: store.put_bytes(f"{s}\n".encode() * 4000, suffix=".fastq") for s in ("L1", "L2", "L3")}
    key = {s: ref.uri.split(f"{bucket}/", 1)[1] for s, ref in refs.items()}
    client.put_object_legal_hold(Bucket=bucket, Key=key["L1"], LegalHold={"Status": "ON"})
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    client.put_object_retention(
        Bucket=bucket, Key=key["L2"], Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}
    )
    later = time.time() + 100 * DAY
    planned = {m.uri: m for m in lifecycle_plan(settings, POLICY, now=later)}
    assert planned[refs["L1"].uri].action == "held" and "legal hold ON" in planned[refs["L1"].uri].reason
    assert planned[refs["L2"].uri].action == "held" and "GOVERNANCE" in planned[refs["L2"].uri].reason
    assert planned[refs["L3"].uri].action == "transition"
    lifecycle_apply(settings, POLICY, now=later)
    assert [_class(s3_server, refs[s].uri) for s in ("L1", "L2", "L3")] == ["STANDARD", "STANDARD", "GLACIER"]

    client.put_object_legal_hold(Bucket=bucket, Key=key["L1"], LegalHold={"Status": "OFF"})
    moved = {m.uri for m in lifecycle_plan(settings, POLICY, now=later) if m.action == "transition"}
    assert moved == {refs["L1"].uri}


def test_last_access_rule_moves_only_what_was_not_read(
    s3_bucket_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LABSTREAM_OBJECTS_URL", f"{s3_bucket_url}/objects")
    settings = Settings()
    store = FsspecStore(settings.objects_url)
    made = repr(time.time() - 200 * DAY)
    uris = {}
    for name in ("read", "idle"):
        ref = store.put_bytes(f"{name}\n".encode() * 500, suffix=".fastq")
        bucket, key = ref.uri.removeprefix("s3://").split("/", 1)
        store.fs.call_s3(  # its first creation 200 days ago (kept in metadata across class changes)
            "copy_object", Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
            MetadataDirective="REPLACE", Metadata={"labstream-created": made},
        )  # fmt: skip
        uris[name] = ref.uri
    res = CliRunner().invoke(app, ["lifecycle", "get", uris["read"], "-o", str(tmp_path / "got")])
    assert res.exit_code == 0, res.output
    moved = {m.uri: m.action for m in lifecycle_apply(settings, IDLE_POLICY)}
    assert moved == {uris["idle"]: "transition"}
    head = store.fs.call_s3("head_object", Bucket=bucket, Key=uris["idle"].split(f"{bucket}/", 1)[1])
    assert head["StorageClass"] == "GLACIER"
