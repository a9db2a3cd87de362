"""The stream leg of edge-to-cloud replication: the replicator publishes one event per edge record to
the cloud site's own stream, and the cloud's runner consumes it there (labstream.sites.cloud).

Exactly once into the cloud topic, by a destination cursor: every cloud record carries the edge
(partition, offset) it came from in its headers. On every (re)connect the replicator reads the cloud
topic back and skips the edge records already in it, so a crash or a cut link between publishing and
committing the edge offsets publishes nothing twice; the edge keeps everything until its offsets are
committed, so nothing is lost. Each cloud event also has an id derived from the edge record, so a
duplicate the broker might still take in (a producer retry) is one event to the cloud's runner, which
drops repeated event ids (runtime/worker.py).

The cursor is read from the whole topic (a set of pairs): enough for a site's topic with retention;
a topic too long to scan would keep the pairs per cloud partition and read only its tail.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable

from labstream.core.errors import StorageError
from labstream.core.events import Event
from labstream.stream import open_stream
from labstream.stream.base import Record

__all__ = ["EDGE_OFFSET", "EDGE_PARTITION", "CloudStreamLeg", "cloud_event_id"]

EDGE_PARTITION, EDGE_OFFSET = "edge-partition", "edge-offset"


def cloud_event_id(edge_site: str, topic: str, partition: int, offset: int) -> str:
    """The cloud event's id: the same edge record always makes the same id."""
    return hashlib.sha256(f"{edge_site}:{topic}:{partition}:{offset}".encode()).hexdigest()[:32]


class CloudStreamLeg:
    """The cloud topic, opened per connection, with the set of edge records it already holds."""

    def __init__(self, url: str, topic: str, *, cursor_timeout: float = 60.0) -> None:
        self.url = url
        self.topic = topic
        self.cursor_timeout = cursor_timeout
        self.stream = open_stream(url)
        self.stream.create_topic(topic)
        self.done: set[tuple[int, int]] = self._read_cursor()

    def _read_cursor(self) -> set[tuple[int, int]]:
        """(edge partition, edge offset) of every record in the cloud topic, read with a throwaway group
        (never committed)."""
        consumer = self.stream.consumer(f"relay-cursor-{uuid.uuid4().hex}", [self.topic])
        seen: set[tuple[int, int]] = set()
        deadline = time.monotonic() + self.cursor_timeout
        try:
            while True:
                recs = consumer.poll(1000, timeout=0.3)
                seen.update(_edge_position(r) for r in recs if EDGE_OFFSET in (r.headers or {}))
                if not recs and consumer.caught_up():
                    return seen
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"could not read the cloud topic {self.topic!r} of {self.url} to its end within "
                        f"{self.cursor_timeout:g} s; check the cloud stream and retry"
                    )
        finally:
            consumer.close()

    def publish(self, items: Iterable[tuple[int, int, Event]]) -> int:
        """Publish (edge partition, edge offset, event) items not in the cloud yet; flush; how many."""
        n = 0
        for partition, offset, ev in items:
            if (partition, offset) in self.done:
                continue
            headers = {EDGE_PARTITION: str(partition), EDGE_OFFSET: str(offset)}
            self.stream.publish(self.topic, ev.to_json(), key=ev.key, headers=headers)
            n += 1
        self.stream.flush()
        self.done.update((p, o) for p, o, _ in items)
        return n

    def close(self) -> None:
        self.stream.close()


def _edge_position(r: Record) -> tuple[int, int]:
    h = r.headers or {}
    return int(h[EDGE_PARTITION]), int(h[EDGE_OFFSET])
