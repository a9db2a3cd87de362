"""The canary patient identifier on a real Kafka-protocol broker: a governed ingest and a governed
pipeline run over Kafka, then every record of every topic they used is read back from the broker; the
canary is in none of them (value, key or headers), while its pseudonym is."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from labstream.core.settings import Settings
from labstream.governance.governed import GovernedIngest, runner_options
from labstream.governance.service import Governance
from labstream.pipelines.filestats import pipeline as filestats
from labstream.runtime.dlq import dlq_topic
from labstream.runtime.runner import PipelineRunner
from labstream.stream import open_stream

CANARY = "CANARY-PATIENT-kafka-9e21"
pytestmark = pytest.mark.integration


def test_canary_never_in_plaintext_on_the_broker(kafka_url: str, tmp_path: Path) -> None:
    gov = Governance.open(Settings(home=tmp_path / "home", stream_url=kafka_url))
    gov.directory.add_project("alpha")
    topic = f"ingest.canary.{uuid.uuid4().hex[:8]}"
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        f = src / f"{CANARY}-run{i}.txt"  # the identifier is even in the file name
        f.write_text(f"reads of {CANARY}\n" * (i + 2))
        (src / (f.name + ".meta.json")).write_text(json.dumps({"patient_id": CANARY, "sample_id": f"S{i}"}))
    ing = GovernedIngest(gov, topic=topic, partitions=1)
    results = [ing.ingest_file(f, project="alpha", key=f.stem) for f in sorted(src.glob("*.txt"))]
    ing.close()
    assert [r.status for r in results] == ["published"] * 3
    pipe = filestats(input_topic=topic)
    with PipelineRunner(gov.settings, pipe, "local?cpu=1", **runner_options(gov)) as runner:
        status = runner.run_until_idle(timeout=60)
    assert status["file_stats"]["processed"] == 3

    topics = [topic, "filestats.out", dlq_topic(topic), dlq_topic("filestats.out")]
    stream = open_stream(kafka_url)
    consumer = stream.consumer(f"canary-check-{uuid.uuid4().hex[:8]}", topics)
    records = []
    idle = 0
    while idle < 3:  # until three polls in a row bring nothing (the first ones wait for the group join)
        got = consumer.poll(max_records=500, timeout=2.0 if not records else 0.5)
        records.extend(got)
        idle = 0 if got else idle + 1
    consumer.close()
    stream.close()
    mine = [r for r in records if r.topic == topic]
    assert len(mine) == 3
    pseudonym = gov.pseudonyms.pseudonym("patient_id", CANARY, "alpha")
    assert all(pseudonym.encode() in r.value for r in mine)  # the records were read, and carry the pseudonym
    downstream = [r for r in records if r.topic == "filestats.out" and b'"alpha"' in r.value]
    assert len(downstream) >= 3
    needle = CANARY.encode()
    leaks = [
        (r.topic, r.offset)
        for r in records
        if needle in r.value
        or needle in (r.key or "").encode()
        or any(needle in f"{k}={v}".encode() for k, v in r.headers.items())
    ]
    assert leaks == []
    # nor anywhere under the platform's home: objects, lake files, catalog (recorded paths), audit
    hits = [str(f) for f in gov.settings.home.rglob("*") if f.is_file() and needle in f.read_bytes()]
    assert hits == []
    gov.close()
