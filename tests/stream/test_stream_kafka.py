"""Kafka-only behaviour against a real tansu broker: close never hangs when the broker is gone; idleness
is not fooled by under-reported end offsets."""

from __future__ import annotations

import time
import uuid

import pytest
from _stream_helpers import drain

from labstream.stream import open_stream
from labstream.stream.errors import PublishError
from labstream.testing.kafka import start_tansu


@pytest.mark.integration
def test_close_never_hangs_on_a_dead_broker() -> None:
    broker = start_tansu()
    try:
        stream = open_stream(broker.url + "?session_timeout_ms=3000")
        stream.create_topic("t", partitions=1)
        stream.publish("t", b"delivered")
        stream.flush()
        consumer = stream.consumer("g", ["t"])
        assert [r.value for r in drain(consumer, 1, timeout=20)] == [b"delivered"]
    finally:
        broker.stop()
    stream.publish("t", b"stuck")  # buffered, the broker is gone
    started = time.monotonic()
    with pytest.raises(PublishError, match="1 buffered record"):
        stream.close()
    assert time.monotonic() - started < 15
    stream.close()  # idempotent


@pytest.mark.integration
def test_flush_reports_undelivered_records() -> None:
    stream = open_stream("kafka://127.0.0.1:9?message.timeout.ms=500&idempotence=false")
    stream.publish("t", b"x")
    with pytest.raises(PublishError):
        stream.flush(timeout=3)
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 10


@pytest.mark.integration
def test_caught_up_sees_records_the_reported_end_offsets_hide(kafka_url: str) -> None:
    """tansu reports a partition's end as the last batch's base offset + 1: after reading 10 of 50
    records sent in one batch, lag from end offsets is 0, yet the consumer is not caught up."""
    stream = open_stream(kafka_url + "?session_timeout_ms=3000")
    topic = f"cu-{uuid.uuid4().hex[:8]}"
    try:
        stream.create_topic(topic, partitions=1)
        for i in range(50):
            stream.publish(topic, str(i).encode(), key="k")
        stream.flush()
        consumer = stream.consumer(f"g-{topic}", [topic])
        first: list = []
        deadline = time.monotonic() + 20
        while len(first) < 10 and time.monotonic() < deadline:
            first += consumer.poll(max_records=10 - len(first), timeout=0.5)
        consumer.commit()
        assert [int(r.value) for r in first] == list(range(10))
        assert not consumer.caught_up()
        rest = drain(consumer, 40)
        assert [int(r.value) for r in rest] == list(range(10, 50))
        consumer.commit()
        deadline = time.monotonic() + 10
        while not consumer.caught_up():
            assert consumer.poll(timeout=0.2) == [] and time.monotonic() < deadline
    finally:
        stream.close()
