"""Tokens, pseudonyms, residency, audit counts and the canary patient identifier, through the API."""

from __future__ import annotations

import time

import pytest

from conftest import CANARY, World, auth
from labstream.core.errors import AccessDenied
from labstream.governance.auth import Principal, hash_token


def test_tokens_are_stored_hashed_expire_and_revoke(client, world: World) -> None:
    d = world.gov.directory
    tid, token = d.create_token("viewer_alpha", ttl_seconds=3600)
    raw = b"".join(f.read_bytes() for f in world.home.glob("catalog.db*"))  # the database and its WAL
    assert token.encode() not in raw and hash_token(token).encode() in raw
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=h).status_code == 200
    d.revoke_token(tid)
    assert client.get("/api/v1/me", headers=h).status_code == 401
    _, short = d.create_token("viewer_alpha", ttl_seconds=0.01)
    time.sleep(0.05)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {short}"}).status_code == 401


def test_n_patient_linked_reads_give_exactly_n_audit_records(client, world: World) -> None:
    obj = world.objects["alpha"]["report"]
    before = world.gov.audit.last_seq()
    n = 17
    for _ in range(n):
        assert client.get(f"/api/v1/reports/{obj}", headers=auth(world, "viewer_alpha")).status_code == 200
    denied = client.get(f"/api/v1/reports/{obj}", headers=auth(world, "viewer_beta"))
    assert denied.status_code == 404
    recs = world.gov.audit.query(since_seq=before)
    reads = [r for r in recs if r.action == "reports.get" and r.outcome == "allowed"]
    assert len(reads) == n and all(r.actor == "viewer_alpha" and r.project == "alpha" for r in reads)
    assert all(r.detail.get("patient_linked") for r in reads)
    assert [(r.actor, r.outcome, r.project) for r in recs if r.outcome != "allowed"] == [
        ("viewer_beta", "denied", "alpha")
    ]
    assert len(recs) == n + 1
    assert world.gov.audit.verify().ok


def test_reidentification_needs_the_right_and_is_audited(client, world: World) -> None:
    p = world.pseudonym("alpha")
    assert client.get(f"/api/v1/pseudonyms/{p}", headers=auth(world, "scientist_alpha")).status_code == 403
    assert client.get(f"/api/v1/pseudonyms/{p}", headers=auth(world, "admin_beta")).status_code == 403
    before = world.gov.audit.last_seq()
    r = client.get(f"/api/v1/pseudonyms/{p}", headers=auth(world, "admin_alpha"))
    assert r.status_code == 200 and r.json()["value"] == CANARY
    recs = world.gov.audit.query(since_seq=before)
    assert [(x.actor, x.action, x.outcome, x.project) for x in recs] == [
        ("admin_alpha", "pseudonym.reidentify", "allowed", "alpha")
    ]


def test_residency_refuses_and_audits(client, world: World) -> None:
    res = world.gov.residency
    res.add_site("eu-cluster", "eu")
    res.add_site("us-cluster", "us")
    before = world.gov.audit.last_seq()
    r = client.post(
        "/api/v1/runs",
        headers=auth(world, "scientist_alpha"),
        json={"project": "alpha", "pipeline": "filestats", "params": {"site": "us-cluster"}},
    )
    assert r.status_code == 403 and "region" in r.json()["detail"]
    ok = client.post(
        "/api/v1/runs",
        headers=auth(world, "scientist_alpha"),
        json={"project": "alpha", "pipeline": "filestats", "params": {"site": "eu-cluster"}},
    )
    assert ok.status_code == 201
    with pytest.raises(AccessDenied):
        res.check_copy("alpha", "us", actor="sync", uri="s3://bucket/x")
    denied = [x for x in world.gov.audit.query(since_seq=before) if x.outcome == "denied"]
    assert {(x.action, x.project) for x in denied} >= {
        ("residency.place", "alpha"),
        ("residency.copy", "alpha"),
    }


def test_break_glass_is_read_only_and_carries_the_reason(client, world: World) -> None:
    d = world.gov.directory
    d.add_user("root", superuser=True)
    _, token = d.create_token("root")
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/samples", headers=h).status_code == 403
    before = world.gov.audit.last_seq()
    h["X-Break-Glass"] = "patient in ICU, on-call clinician request #4411"
    r = client.get("/api/v1/samples?project=beta", headers=h)
    assert r.status_code == 200 and {x["project"] for x in r.json()["items"]} == {"beta"}
    assert client.post("/api/v1/sql", headers=h, json={"sql": "select 1"}).status_code == 403
    recs = world.gov.audit.query(since_seq=before)
    assert recs[0].reason.startswith("patient in ICU") and recs[0].actor == "root"
    assert Principal("x", break_glass="why").projects("read", ["a"]) == []  # not a superuser: no effect


def test_canary_patient_id_never_in_plaintext(client, world: World, tmp_path, caplog) -> None:
    """The canary went in as a patient id (conftest); pseudonymized at ingest, encrypted in the mapping
    table. Publish a sample event too, read everything back through the API, then search every byte."""
    import logging

    from labstream.core.events import Event
    from labstream.stream import open_stream

    caplog.set_level(logging.DEBUG)
    record = world.gov.pseudonyms.pseudonymize_record(
        {"patient_id": CANARY, "sample_id": "S-canary"}, "alpha"
    )
    stream = open_stream(world.settings.stream_url)
    stream.create_topic("samples", partitions=1)
    stream.publish(
        "samples",
        Event(type="sample.registered", key=record["sample_id"], data=record, project="alpha").to_json(),
    )
    stream.flush()
    stream.close()
    world.gov.store("alpha").put_bytes(repr(record).encode(), suffix=".json")
    for u in ("viewer_alpha", "scientist_alpha"):
        client.get("/api/v1/samples", headers=auth(world, u))
        client.post("/api/v1/sql", headers=auth(world, u), json={"sql": "select * from samples"})
    logging.getLogger("labstream").info("ingested %s", record)
    needle = CANARY.encode()
    hits = [str(f) for f in world.home.rglob("*") if f.is_file() and needle in f.read_bytes()]
    assert hits == []
    assert CANARY not in caplog.text
    assert any(f.name == "stream.db" for f in world.home.rglob("*"))  # the stream really is under home
