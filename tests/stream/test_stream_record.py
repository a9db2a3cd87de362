"""Records, the registry and the Protocol conformance of both backends."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from labstream.core.errors import ConfigError
from labstream.stream import Consumer, Record, Stream, TopicPartition, open_stream
from labstream.stream.base import fast_record
from labstream.stream.kafka import KafkaStream, parse_kafka_url
from labstream.stream.sqlite import SqliteStream


def test_fast_record_is_a_plain_record() -> None:
    args = ("t", 2, 7, "k", b"v", 123, {"h": "1"})
    fast, slow = fast_record(*args), Record(*args)
    assert fast == slow and hash(fast.tp) == hash(slow.tp) and repr(fast) == repr(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow
    with pytest.raises(AttributeError):
        fast.offset = 8  # type: ignore[misc]


def test_record_fields_defaults_and_keywords() -> None:
    a = Record("t", 0, 1, None, b"x")
    b = Record(topic="t", partition=0, offset=1, key=None, value=b"x", timestamp_ms=0, headers={})
    assert a == b and a.timestamp_ms == 0 and a.headers == {} and a.key is None
    assert a.headers is not Record("t", 0, 2, None, b"y").headers  # each record has its own dict
    assert a.tp == TopicPartition("t", 0) and Record("u", 3, 0, "k", b"").tp.partition == 3
    assert a != Record("t", 0, 2, None, b"x") and a != Record("t", 0, 1, None, b"x", headers={"h": "1"})
    assert pickle.loads(pickle.dumps(b)).headers == {} and repr(a).startswith("Record(topic='t'")


def test_registry_picks_backend_by_scheme(tmp_path: Path) -> None:
    stream = open_stream(f"sqlite:///{tmp_path}/s.db")
    assert isinstance(stream, SqliteStream) and isinstance(stream, Stream)
    assert isinstance(stream.consumer("g", ["t"]), Consumer)
    stream.close()
    kafka = open_stream("kafka://127.0.0.1:1?session_timeout_ms=3000&client.id=x")
    assert isinstance(kafka, KafkaStream) and isinstance(kafka, Stream)
    kafka.close()  # no client was started: nothing to wait for
    with pytest.raises(ConfigError, match="unknown stream URL scheme"):
        open_stream("amqp://x")


def test_kafka_url_options() -> None:
    assert parse_kafka_url("kafka://h1:1,h2:2?a.b=c") == ("h1:1,h2:2", {"a.b": "c"})
    with pytest.raises(ConfigError):
        parse_kafka_url("kafka://")
    with pytest.raises(ConfigError, match="unknown option"):
        KafkaStream("kafka://h:1?colour=blue")
