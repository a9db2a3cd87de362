"""Stream backbone: one Protocol, backends chosen by URL scheme."""

from __future__ import annotations

from labstream.core.registry import load
from labstream.stream.base import Consumer, Record, Stream, TopicPartition

REGISTRY: dict[str, tuple[str, str]] = {
    "sqlite": ("labstream.stream.sqlite:SqliteStream", "core"),
    "kafka": ("labstream.stream.kafka:KafkaStream", "core"),
}


def open_stream(url: str) -> Stream:
    """`sqlite:///path/stream.db` (embedded, durable) or `kafka://host:port[,host:port]`."""
    cls = load(REGISTRY, url, "stream")
    return cls(url)  # type: ignore[no-any-return]


__all__ = ["Consumer", "Record", "Stream", "TopicPartition", "open_stream"]
