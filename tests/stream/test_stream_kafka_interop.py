"""Mixed producers keep per-key order: labstream (librdkafka) and kafka-python put the same key on the
same partition (issue 11: librdkafka's default CRC32 partitioner differs from murmur2)."""

from __future__ import annotations

import uuid

import pytest
from _stream_helpers import drain

from labstream.stream import open_stream

pytestmark = pytest.mark.integration
KEYS = [f"plate-{i}" for i in range(40)] + [f"sample/{i:03d}" for i in range(40)] + ["", "ü-key"]


def test_same_key_same_partition_from_librdkafka_and_kafka_python(kafka_url: str) -> None:
    kafka = pytest.importorskip("kafka")
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    stream = open_stream(kafka_url)
    stream.create_topic(topic, partitions=8)
    for key in KEYS:
        stream.publish(topic, f"lab:{key}".encode(), key=key)
    stream.flush()

    producer = kafka.KafkaProducer(bootstrap_servers=kafka_url.removeprefix("kafka://"))
    try:
        by_java_hash = {}
        for key in KEYS:
            meta = producer.send(topic, key=key.encode(), value=f"kp:{key}".encode()).get(timeout=30)
            by_java_hash[key] = meta.partition
        producer.flush()
    finally:
        producer.close()

    consumer = stream.consumer(f"interop-{uuid.uuid4().hex[:6]}", [topic])
    records = drain(consumer, 2 * len(KEYS))
    consumer.close()
    stream.close()
    by_labstream = {r.value.decode()[4:]: r.partition for r in records if r.value.startswith(b"lab:")}
    by_reader = {r.value.decode()[3:]: r.partition for r in records if r.value.startswith(b"kp:")}
    assert by_reader == by_java_hash  # what kafka-python said is what a reader sees
    assert by_labstream == by_java_hash
    assert len(set(by_java_hash.values())) > 4  # the keys really spread over the partitions
