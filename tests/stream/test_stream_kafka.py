"""Kafka-only behaviour against a real tansu broker: close never hangs when the broker is gone."""

from __future__ import annotations

import time

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
