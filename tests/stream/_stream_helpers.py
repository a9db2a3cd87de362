"""Helpers shared by the stream tests (imported by name: tests/stream is on sys.path under pytest)."""

from __future__ import annotations

import time

from labstream.stream import Consumer, Record


def drain(consumer: Consumer, n: int, timeout: float = 30.0) -> list[Record]:
    """Poll until n records arrived (the Kafka group join takes seconds) or the timeout passed."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out.extend(consumer.poll(max_records=1000, timeout=0.5))
    return out


def wait_assigned(consumer: Consumer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not consumer.assignment() and time.monotonic() < deadline:
        assert consumer.poll(timeout=0.2) == []
    assert consumer.assignment(), "consumer never got partitions"
