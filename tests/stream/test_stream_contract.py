"""The stream contract (labstream.stream.base), run against every backend: sqlite and a real Kafka broker."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from _stream_helpers import drain

from labstream.stream import Stream, TopicPartition, open_stream


def _publish(stream: Stream, topic: str, n: int, keys: int = 5, tag: str = "a") -> list[bytes]:
    values = []
    for i in range(n):
        value = f"{tag}:{i % keys}:{i}".encode()
        stream.publish(topic, value, key=f"k{i % keys}")
        values.append(value)
    stream.flush()
    return values


def test_create_topic_is_idempotent(stream_url: str, names: dict[str, str]) -> None:
    stream = open_stream(stream_url)
    try:
        stream.create_topic(names["topic"], partitions=3)
        stream.create_topic(names["topic"], partitions=3)
        stream.create_topic(names["topic"], partitions=7)  # exists: partitions stay as created
        assert names["topic"] in stream.topics()
        assert sorted(stream.end_offsets(names["topic"])) == [0, 1, 2]
    finally:
        stream.close()


def test_per_key_order_offsets_and_headers(stream_url: str, names: dict[str, str]) -> None:
    stream = open_stream(stream_url)
    topic = names["topic"]
    try:
        stream.create_topic(topic, partitions=3)
        sent = _publish(stream, topic, 300, keys=7)
        stream.publish(topic, b"with-headers", key="h", headers={"trace": "abc", "kind": "x"})
        stream.flush()
        got = drain(stream.consumer(names["group"], [topic]), len(sent) + 1)
        assert sorted(r.value for r in got) == sorted([*sent, b"with-headers"])
        by_key: dict[str, list[int]] = defaultdict(list)
        partition_of: dict[str, set[int]] = defaultdict(set)
        by_partition: dict[int, list[int]] = defaultdict(list)
        for r in got:
            assert r.topic == topic and r.tp == TopicPartition(topic, r.partition)
            partition_of[r.key].add(r.partition)
            by_partition[r.partition].append(r.offset)
            if r.key != "h":
                by_key[r.key].append(int(r.value.split(b":")[2]))
        assert all(len(p) == 1 for p in partition_of.values()), "a key was spread over partitions"
        assert all(seq == sorted(seq) for seq in by_key.values()), "per-key order broken"
        for offsets in by_partition.values():
            assert offsets == list(range(len(offsets))), "offsets must start at 0 and grow by one"
        (hdr,) = [r for r in got if r.value == b"with-headers"]
        assert hdr.headers == {"trace": "abc", "kind": "x"} and hdr.key == "h"
        assert all(r.timestamp_ms > 1_600_000_000_000 for r in got)
    finally:
        stream.close()


def test_commit_survives_restart(stream_url: str, names: dict[str, str]) -> None:
    topic, group = names["topic"], names["group"]
    stream = open_stream(stream_url)
    stream.create_topic(topic, partitions=2)
    first = _publish(stream, topic, 80, tag="first")
    consumer = stream.consumer(group, [topic])
    got = drain(consumer, len(first))
    assert sorted(r.value for r in got) == sorted(first)
    consumer.commit()  # everything polled so far
    ends: dict[TopicPartition, int] = {}
    for r in got:
        ends[r.tp] = max(ends.get(r.tp, 0), r.offset + 1)
    assert {tp: consumer.committed(tp) for tp in ends} == ends
    second = _publish(stream, topic, 30, tag="second")
    stream.close()

    reopened = open_stream(stream_url)  # a restart: new clients, same log and group
    try:
        again = reopened.consumer(group, [topic])
        assert {tp: again.committed(tp) for tp in ends} == ends
        got2 = drain(again, len(second))
        assert sorted(r.value for r in got2) == sorted(second), "resumed at the wrong place"
        assert again.poll(timeout=0.5) == []
    finally:
        reopened.close()


def test_uncommitted_records_are_redelivered(stream_url: str, names: dict[str, str]) -> None:
    topic, group = names["topic"], names["group"]
    stream = open_stream(stream_url)
    try:
        stream.create_topic(topic, partitions=2)
        sent = _publish(stream, topic, 60)
        consumer = stream.consumer(group, [topic])
        got = drain(consumer, len(sent))
        per_tp: dict[TopicPartition, list] = defaultdict(list)
        for r in got:
            per_tp[r.tp].append(r)
        half = {tp: rs[len(rs) // 2 - 1].offset + 1 for tp, rs in per_tp.items()}
        consumer.commit(half)  # processed the first half of each partition, then "crashed"
        consumer.close()
        expected = sorted(r.value for r in got if r.offset >= half[r.tp])
        redelivered = drain(stream.consumer(group, [topic]), len(expected))
        assert sorted(r.value for r in redelivered) == expected
    finally:
        stream.close()


def test_groups_are_isolated(stream_url: str, names: dict[str, str]) -> None:
    topic = names["topic"]
    stream = open_stream(stream_url)
    try:
        stream.create_topic(topic, partitions=2)
        sent = _publish(stream, topic, 40)
        one = stream.consumer(names["group"], [topic])
        assert sorted(r.value for r in drain(one, len(sent))) == sorted(sent)
        one.commit()
        two = stream.consumer(names["group2"], [topic])
        assert sorted(r.value for r in drain(two, len(sent))) == sorted(sent)
        assert two.committed(TopicPartition(topic, 0)) is None
    finally:
        stream.close()


def test_seek_rereads_and_pending_seek(stream_url: str, names: dict[str, str]) -> None:
    topic = names["topic"]
    stream = open_stream(stream_url)
    try:
        stream.create_topic(topic, partitions=1)
        sent = _publish(stream, topic, 20, keys=1)
        tp = TopicPartition(topic, 0)
        fresh = stream.consumer(names["group2"], [topic])
        fresh.seek(tp, 15)  # before any assignment: applied when the partition arrives
        assert [r.offset for r in drain(fresh, 5)] == [15, 16, 17, 18, 19]

        consumer = stream.consumer(names["group"], [topic])
        assert [r.value for r in drain(consumer, len(sent))] == sent
        consumer.seek(tp, 5)
        again = drain(consumer, 15)
        assert [r.offset for r in again] == list(range(5, 20))
        assert [r.value for r in again] == sent[5:]
    finally:
        stream.close()


def test_latest_reset_skips_old_records(
    stream_url: str, names: dict[str, str], request: pytest.FixtureRequest
) -> None:
    if stream_url.startswith("kafka"):
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="tansu under-reports high-water marks (last batch's base offset + 1), so a 'latest' "
                "reset starts inside the old records; passes on brokers that report them right",
            )
        )
    topic = names["topic"]
    stream = open_stream(stream_url)
    try:
        stream.create_topic(topic, partitions=2)
        old = _publish(stream, topic, 10, tag="old")
        consumer = stream.consumer(names["group"], [topic], auto_offset_reset="latest")
        deadline = time.monotonic() + 30
        early = []
        while not consumer.assignment() and time.monotonic() < deadline:
            early.extend(consumer.poll(timeout=0.2))
        new = _publish(stream, topic, 10, tag="new")
        seen = {r.value for r in early}
        while not set(new) <= seen and time.monotonic() < deadline:
            seen.update(r.value for r in consumer.poll(timeout=0.5))
        seen.update(r.value for r in consumer.poll(timeout=0.5))
        assert set(new) <= seen
        assert not seen & set(old), "a 'latest' consumer received old records"
    finally:
        stream.close()


def _caught_up_within(consumer, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll (so a Kafka consumer joins and fetches) until caught_up() holds; records must not arrive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert consumer.poll(max_records=10, timeout=0.2) == []
        if consumer.caught_up():
            return True
    return False


def test_caught_up_only_after_reading_to_the_end(stream_url: str, names: dict[str, str]) -> None:
    stream = open_stream(stream_url)
    topic = names["topic"]
    try:
        stream.create_topic(topic, partitions=2)
        sent = _publish(stream, topic, 40, keys=4)  # one producer batch per partition
        consumer = stream.consumer(names["group"], [topic])
        assert not consumer.caught_up()  # nothing read yet (Kafka: not even in the group)
        got: list = []
        deadline = time.monotonic() + 30
        while len(got) < len(sent) and time.monotonic() < deadline:
            batch = consumer.poll(max_records=7, timeout=0.5)
            got += batch
            if batch and len(got) < len(sent):
                assert not consumer.caught_up(), f"caught up after {len(got)} of {len(sent)} records"
        assert sorted(r.value for r in got) == sorted(sent)
        assert _caught_up_within(consumer)
        consumer.commit()
        # a new record: a fresh member of the same group resumes at the commit and is not caught up
        # until it has read it
        _publish(stream, topic, 1, tag="late")
        consumer.close()
        again = stream.consumer(names["group"], [topic])
        late = drain(again, 1)
        assert [r.value for r in late] == [b"late:0:0"]
        assert _caught_up_within(again)
    finally:
        stream.close()


def test_committed_offsets_read_without_joining_the_group(stream_url: str, names: dict[str, str]) -> None:
    """`Stream.committed_offsets` answers for any group and leaves a running member's partitions alone."""
    stream = open_stream(stream_url)
    topic = names["topic"]
    try:
        stream.create_topic(topic, partitions=2)
        sent = _publish(stream, topic, 10)
        member = stream.consumer(names["group"], [topic])
        got = drain(member, len(sent))
        member.commit()
        before = sorted(member.assignment())
        assert stream.committed_offsets(names["group2"], topic, [0, 1]) == {0: None, 1: None}
        offsets = stream.committed_offsets(names["group"], topic, [0, 1])
        assert sum(v or 0 for v in offsets.values()) == len(got) == 10
        member.poll(10, 0.2)
        assert sorted(member.assignment()) == before == [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        assert isinstance(type(stream).exact_end_offsets, bool)  # declared on every backend
        member.close()
    finally:
        stream.close()
