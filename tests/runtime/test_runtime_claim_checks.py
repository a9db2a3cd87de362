"""Claim checks are verified where stages read them: a forged event published by another client on the
stream is dead-lettered and quarantined, and the good events around it still land in the lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import runtime_stages as rs

from labstream.core.events import Event, ObjectRef
from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.runtime import PipelineRunner
from labstream.stream import open_stream

FORGED_SHA = "b" * 64


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def landed(name: str, uri: str, sha256: str) -> Event:
    return Event(type="file.landed", key=name, data={"name": name}, refs=(ObjectRef(uri, sha256, 10),))


def test_forged_claim_checks_go_to_the_dlq_and_the_rest_lands(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "instrument"
    folder.mkdir()
    good_refs = []
    ingestor = Ingestor(settings)
    for i in range(3):
        (folder / f"run{i}.csv").write_text(f"s0,{i}\ns1,{i + 1}\n")
        res = ingestor.ingest_file(folder / f"run{i}.csv")
        assert res.status == "published"
        good_refs.append(res.event.refs[0])
    real = good_refs[0]
    store_root = real.uri.split("/raw/sha256/")[0]
    forged = [
        landed("etc-hostname.csv", "file:///etc/hostname", FORGED_SHA),  # outside the store
        landed("wrong-sha.csv", real.uri, FORGED_SHA),  # inside the store, sha256 does not match
        landed("dotdot.csv", f"{store_root}/raw/sha256/../../../../etc/hostname", FORGED_SHA),
        landed("other-scheme.csv", "memory://bucket/x.csv", FORGED_SHA),
    ]
    stream = open_stream(settings.stream_url)
    for ev in forged:  # another client publishing on the input topic
        stream.publish("ingest.files", ev.to_json(), key=ev.key)
    stream.flush()
    stream.close()

    with PipelineRunner(settings, rs.two_stage(), "local?cpu=2") as runner:
        status = runner.run_until_idle(timeout=120)["rt_parse"]
        assert status["processed"] == 3 and status["dlq"] == 4 and status["quarantined"] == 4
        files = set(runner.lake.read("rt_measure").column("file").to_pylist())
        assert files == {"run0.csv", "run1.csv", "run2.csv"}
        quarantined = {q.source: q.problem for q in runner.catalog.list_quarantine()}
        assert any(
            s == "file:///etc/hostname" and "outside the object store" in p for s, p in quarantined.items()
        )
        assert any("claim check says " + FORGED_SHA in p for p in quarantined.values())
        assert any("'..'" in p for p in quarantined.values())
        assert any("memory:// is not this store's scheme" in p for p in quarantined.values())

    consumer = open_stream(settings.stream_url).consumer("dlq-reader", ["ingest.files.dlq"])
    dead = []
    while batch := consumer.poll(max_records=100, timeout=0.5):
        dead += batch
    names = sorted(json.loads(r.value)["data"]["name"] for r in dead)
    assert names == sorted(ev.data["name"] for ev in forged)
    assert all(r.headers["error_type"] in ("OutsideStore", "ClaimMismatch") for r in dead)
    assert all(r.headers["attempts"] == "1" for r in dead)  # bad input: never retried
