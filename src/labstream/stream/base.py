"""The stream contract every backend keeps (sqlite embedded log, Kafka protocol).

Contract:
- A topic has N partitions fixed at creation. `publish(topic, value, key)` puts records with the same key
  in the same partition (hash of the key), so per-key order holds. Records without a key are spread.
- Offsets are per partition, start at 0 and grow by one per record (gaps allowed after retention).
- A consumer in a group is assigned partitions; `poll` returns records after the group's committed
  offset (or from `auto_offset_reset`: "earliest" | "latest" when none is committed).
- `commit(offsets)` stores, per partition, the offset of the NEXT record to read. Committed offsets
  survive process restarts and belong to the group, not the consumer. Nothing is committed implicitly:
  delivery is at least once, a crash before `commit` means redelivery.
- `seek(tp, offset)` moves the read position of that consumer only.
- Retention (`retention_ms`) may delete old records; a committed offset below the log start is moved to
  the log start.
- `end_offsets` is exact when `Stream.exact_end_offsets` is True (sqlite); a Kafka broker may
  under-report it (tansu reports the base offset of the last batch + 1), so idleness also asks the
  consumers (`Consumer.caught_up`) and the runner wants two quiet rounds instead of one.
- `committed_offsets(group, topic, partitions)` reads a group's committed offsets WITHOUT joining the
  group (joining would move partitions away from the running workers); None for a partition the group
  never committed. Raises StreamError when the backend cannot answer (a broker down).
- `flush()` returns once every published record is durable; if it fails it raises StreamError and the
  caller must assume none of the unflushed records were written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

from labstream.core.errors import ConfigError, InputError
from labstream.stream.errors import StreamClosed


@dataclass(frozen=True, order=True)
class TopicPartition:
    topic: str
    partition: int


_tnew = tuple.__new__


class _RecordFields(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp_ms: int = 0
    headers: dict[str, str] = {}  # noqa: RUF012 - never used: Record.__new__ gives each its own dict


class Record(_RecordFields):
    """One record read from a topic: immutable, picklable, compared by value.

    A tuple subclass rather than a frozen dataclass because building one is on every consumer's hot
    path: `tuple.__new__(Record, fields)` (see `fast_record`) costs about a third of the dataclass's
    construction. Fields, keyword construction, `tp`, equality, repr and pickling are as before.
    """

    __slots__ = ()

    def __new__(
        cls,
        topic: str,
        partition: int,
        offset: int,
        key: str | None,
        value: bytes,
        timestamp_ms: int = 0,
        headers: dict[str, str] | None = None,
    ) -> Record:
        hdrs = {} if headers is None else headers
        return _tnew(cls, (topic, partition, offset, key, value, timestamp_ms, hdrs))

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self[0], self[1])


@runtime_checkable
class Consumer(Protocol):
    group: str

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]: ...

    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        """Commit the next offsets to read; None commits the position after everything polled so far."""

    def committed(self, tp: TopicPartition) -> int | None: ...

    def seek(self, tp: TopicPartition, offset: int) -> None: ...

    def assignment(self) -> list[TopicPartition]: ...

    def caught_up(self) -> bool:
        """True when this consumer holds its partitions and has read each to the end it knows of.

        False while a Kafka consumer is still joining its group or has not had a fetch answered for
        every partition. Together with the group's committed lag this is how "idle" is decided: the
        end offsets a broker reports may lag (tansu), a fetch response's high-water mark does not."""

    def close(self) -> None: ...


@runtime_checkable
class Stream(Protocol):
    """A topic log with consumer groups; the contract is the module docstring. Every capability the
    platform uses is declared here: nothing is looked up with getattr."""

    url: str
    exact_end_offsets: ClassVar[bool]
    """True when `end_offsets` is exact (one quiet round means idle); False when a broker may lag."""

    def create_topic(self, name: str, partitions: int = 4, retention_ms: int | None = None) -> None:
        """Create the topic if missing (idempotent)."""

    def topics(self) -> list[str]: ...

    def publish(
        self, topic: str, value: bytes, key: str | None = None, headers: dict[str, str] | None = None
    ) -> None: ...

    def flush(self, timeout: float = 30.0) -> None: ...

    def consumer(self, group: str, topics: list[str], *, auto_offset_reset: str = "earliest") -> Consumer: ...

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Next offset to be written per partition (best effort on Kafka; exact on sqlite)."""

    def committed_offsets(self, group: str, topic: str, partitions: list[int]) -> dict[int, int | None]:
        """The group's committed next offsets per partition (None: never committed), read without
        joining the group; for status pages and lag, never for the worker's own position."""

    def enforce_retention(self) -> int:
        """Delete records past retention now; returns how many were deleted (Kafka: broker-side, 0)."""

    def close(self) -> None: ...


def check_consumer_request(url: str, closed: bool, auto_offset_reset: str) -> None:
    """What every backend refuses before it builds a consumer: a closed stream, an unknown reset."""
    if closed:
        raise StreamClosed(f"stream {url}")
    if auto_offset_reset not in ("earliest", "latest"):
        raise ConfigError(f"auto_offset_reset must be 'earliest' or 'latest', not {auto_offset_reset!r}")


def check_record_value(url: str, topic: str, value: object, key: str | None) -> None:
    """A record's value is bytes on every backend: anything else is refused before it is buffered."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InputError(
            f"{url}/{topic}",
            f"record value must be bytes, got {type(value).__name__}",
            record=key,
            hint="encode it first, e.g. event.to_json()",
        )


def partition_for(key: str | None, partitions: int, counter: int = 0) -> int:
    """Stable key -> partition mapping (murmur-free: crc32 is stable across processes and runs)."""
    import zlib

    if key is None:
        return counter % partitions
    return zlib.crc32(key.encode()) % partitions


def fast_record(
    topic: str,
    partition: int,
    offset: int,
    key: str | None,
    value: bytes,
    timestamp_ms: int,
    headers: dict[str, str],
) -> Record:
    """Build a Record with every field given (no defaults to resolve): poll's hot path.

    Equal to Record(...) with the same arguments; pinned by tests/stream/test_stream_record.py.
    """
    return _tnew(Record, (topic, partition, offset, key, value, timestamp_ms, headers))
