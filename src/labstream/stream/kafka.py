"""The scale-out stream: any Kafka-protocol broker (Apache Kafka, Confluent, Redpanda, MSK, Tansu)
through confluent-kafka (librdkafka).

URL: `kafka://host:port[,host:port]` with optional query parameters: `session_timeout_ms` (default 6000;
tansu lets a consumer join its group after about half of it), `idempotence` (true | false, default true:
the producer never duplicates or reorders on retry; set false for a broker without idempotent producers),
and any librdkafka property by its dotted name (e.g. `security.protocol=SSL`), passed to every client.

Mapping of the contract: the producer is idempotent and batches (`linger.ms`); per-key order comes from
the key-hash partitioner, set to `murmur2_random`: the hash of the Java clients and kafka-python, so a
key lands on the same partition whichever client produced it (librdkafka's default, CRC32-based, does
not: with mixed producers per-key order would be lost). A URL `partitioner=...` overrides it. Consumers
never auto-commit: `commit` stores the next offsets synchronously. `seek` on a partition not assigned
yet (the group join is asynchronous) is kept and applied when the partition is assigned. `end_offsets`
is what the broker reports; tansu under-reports high-water marks (it answers the last batch's base
offset + 1), so do not compute lag from it in assertions: `KafkaConsumer.caught_up` compares the read
position with the high-water mark of the last fetch response instead, and the runtime's idle check uses
both. Retention is the broker's job (`retention.ms` topic config): `enforce_retention` returns 0.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlparse

from confluent_kafka import OFFSET_STORED, ConsumerGroupTopicPartitions, KafkaError, KafkaException, Producer
from confluent_kafka import Consumer as _RdConsumer
from confluent_kafka import TopicPartition as _RdTp
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from labstream.core.errors import ConfigError, StreamError
from labstream.stream.base import Record, TopicPartition, check_consumer_request, check_record_value
from labstream.stream.errors import CommitError, PublishError, StreamClosed

__all__ = ["KafkaConsumer", "KafkaStream", "parse_kafka_url"]

_tnew = tuple.__new__

_CLOSE_TIMEOUT_S = 5.0


def parse_kafka_url(url: str) -> tuple[str, dict[str, str]]:
    """`kafka://h1:9092,h2:9092?opt=v` -> ("h1:9092,h2:9092", {"opt": "v"})."""
    parsed = urlparse(url)
    if parsed.scheme != "kafka" or not parsed.netloc:
        raise ConfigError(f"stream URL {url!r} must look like kafka://host:port[,host:port]")
    return parsed.netloc, {k: v[-1] for k, v in parse_qs(parsed.query).items()}


def _close_within(fn, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """Run a librdkafka close in a daemon thread so a dead broker can never hang the caller."""
    worker = threading.Thread(target=fn, daemon=True, name="labstream-kafka-close")
    worker.start()
    worker.join(timeout)
    return not worker.is_alive()


class KafkaStream:
    """Kafka-protocol stream; see the module docstring for options and how the contract maps."""

    exact_end_offsets = False  # brokers may under-report high-water marks (tansu does)

    def __init__(self, url: str) -> None:
        self.url = url
        self.bootstrap, opts = parse_kafka_url(url)
        try:
            self.session_timeout_ms = int(opts.pop("session_timeout_ms", 6000))
        except ValueError as err:
            raise ConfigError(f"{url}: session_timeout_ms must be an integer") from err
        self.idempotence = opts.pop("idempotence", "true").lower() not in ("0", "false", "no")
        self._extra = {k: v for k, v in opts.items() if "." in k}
        unknown = sorted(set(opts) - set(self._extra))
        if unknown:
            raise ConfigError(
                f"{url}: unknown option(s) {unknown}; use session_timeout_ms, idempotence "
                "or dotted librdkafka properties"
            )
        self._base = {"bootstrap.servers": self.bootstrap, "log.connection.close": False, **self._extra}
        self._producer: Producer | None = None
        self._admin: AdminClient | None = None
        self._errors: list[str] = []
        self._fatal: str | None = None
        self._since_poll = 0
        self._consumers: list[KafkaConsumer] = []
        self._closed = False

    # ---- clients ------------------------------------------------------------------------------
    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = f"{err.name()}: {err.str()}"

    def _on_delivery(self, err: KafkaError | None, msg: object) -> None:
        if err is not None:
            self._errors.append(f"{err.name()}: {err.str()}")

    def _get_producer(self) -> Producer:
        if self._closed:
            raise StreamClosed(f"stream {self.url}")
        if self._producer is None:
            self._producer = Producer(
                {
                    "partitioner": "murmur2_random",  # same partition per key as Java/kafka-python
                    **self._base,
                    "enable.idempotence": self.idempotence,
                    "linger.ms": 5,
                    "batch.size": 1 << 20,
                    "queue.buffering.max.messages": 500_000,
                    "delivery.report.only.error": True,
                    "on_delivery": self._on_delivery,
                    "error_cb": self._on_error,
                }
            )
        return self._producer

    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(dict(self._base))
        return self._admin

    # ---- topics -------------------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 4, retention_ms: int | None = None) -> None:
        config = {"retention.ms": str(int(retention_ms))} if retention_ms is not None else {}
        futures = self.admin().create_topics([NewTopic(name, num_partitions=partitions, config=config)])
        for fut in futures.values():
            try:
                fut.result(timeout=30)
            except KafkaException as err:
                if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise StreamError(f"{self.url}: could not create topic {name!r}: {err}") from err
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # metadata is eventually consistent
            if name in self.topics():
                return
            time.sleep(0.05)

    def topics(self) -> list[str]:
        try:
            meta = self.admin().list_topics(timeout=10)
        except KafkaException as err:
            raise StreamError(f"{self.url}: cannot list topics ({err}); is the broker up?") from err
        return sorted(t for t in meta.topics if not t.startswith("__"))

    def _partitions(self, topic: str) -> list[int]:
        meta = self.admin().list_topics(topic, timeout=10)
        info = meta.topics.get(topic)
        if info is None or info.error is not None:
            raise StreamError(f"{self.url}: topic {topic!r} is unknown; create it with create_topic()")
        return sorted(info.partitions)

    # ---- publish ------------------------------------------------------------------------------
    def publish(
        self, topic: str, value: bytes, key: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        producer = self._producer or self._get_producer()
        if self._fatal:
            raise PublishError(
                self.url,
                1,
                f"producer failed fatally: {self._fatal}; "
                "if the broker lacks idempotent producers add ?idempotence=false to the URL",
            )
        check_record_value(self.url, topic, value, key)
        hdrs = list(headers.items()) if headers else None
        while True:
            try:
                producer.produce(topic, value, key, headers=hdrs)
                break
            except BufferError:  # local queue full: let librdkafka drain it
                producer.poll(0.05)
        self._since_poll += 1
        if self._since_poll >= 1000:
            self._since_poll = 0
            producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every record to be acknowledged; raises PublishError naming how many were not."""
        if self._producer is None:
            return
        left = self._producer.flush(timeout)
        errors, self._errors = self._errors, []
        if self._fatal:
            raise PublishError(self.url, left + len(errors), f"producer failed fatally: {self._fatal}")
        if left:
            raise PublishError(self.url, left, f"not acknowledged within {timeout} s")
        if errors:
            raise PublishError(self.url, len(errors), errors[0])

    # ---- consume ------------------------------------------------------------------------------
    def consumer(
        self, group: str, topics: list[str], *, auto_offset_reset: str = "earliest"
    ) -> KafkaConsumer:
        check_consumer_request(self.url, self._closed, auto_offset_reset)
        c = KafkaConsumer(self, group, topics, auto_offset_reset)
        self._consumers.append(c)
        return c

    def end_offsets(self, topic: str) -> dict[int, int]:
        """High-water marks as the broker reports them (tansu may under-report: best effort)."""
        query = {_RdTp(topic, p): OffsetSpec.latest() for p in self._partitions(topic)}
        out: dict[int, int] = {}
        for tp, fut in self.admin().list_offsets(query, request_timeout=10).items():
            try:
                out[tp.partition] = int(fut.result(timeout=15).offset)
            except KafkaException as err:
                raise StreamError(f"{self.url}: cannot read end offsets of {topic!r}: {err}") from err
        return out

    def committed_offsets(self, group: str, topic: str, partitions: list[int]) -> dict[int, int | None]:
        """Asked of the group coordinator through the admin client (no consumer joins the group)."""
        request = [ConsumerGroupTopicPartitions(group, [_RdTp(topic, p) for p in partitions])]
        try:
            fut = self.admin().list_consumer_group_offsets(request, request_timeout=10)[group]
            result = fut.result(timeout=15)
        except KafkaException as err:
            raise StreamError(f"{self.url}: cannot read committed offsets of group {group!r}: {err}") from err
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in result.topic_partitions}

    def enforce_retention(self) -> int:
        return 0  # the broker deletes by the topic's retention.ms

    def close(self) -> None:
        """Close consumers, deliver what is buffered (at most ~5 s each); never hangs on a dead broker."""
        if self._closed:
            return
        self._closed = True
        for c in self._consumers:
            c.close()
        producer, self._producer, self._admin = self._producer, None, None
        if producer is not None:
            left = producer.flush(_CLOSE_TIMEOUT_S)
            if left:
                producer.purge()
                producer.flush(0)
                raise PublishError(self.url, left, "broker unreachable while closing")


class KafkaConsumer:
    """A consumer-group member; no auto-commit, positions tracked so commit() needs no arguments."""

    def __init__(self, stream: KafkaStream, group: str, topics: list[str], reset: str) -> None:
        self.group = group
        self._url = stream.url
        self._reset = reset
        sto = stream.session_timeout_ms
        self._c = _RdConsumer(
            {
                **stream._base,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": reset,
                "session.timeout.ms": sto,
                "heartbeat.interval.ms": max(100, sto // 3),
                "enable.partition.eof": False,
            }
        )
        self._pending_seeks: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        self._closed = False
        self._c.subscribe(
            list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )

    def _on_assign(self, consumer: _RdConsumer, partitions: list[_RdTp]) -> None:
        self._assigned = {TopicPartition(p.topic, p.partition) for p in partitions}
        if self._pending_seeks:
            for p in partitions:
                off = self._pending_seeks.pop(TopicPartition(p.topic, p.partition), None)
                if off is not None:
                    p.offset = off
            consumer.assign(partitions)

    def _on_revoke(self, consumer: _RdConsumer, partitions: list[_RdTp]) -> None:
        for p in partitions:
            self._assigned.discard(TopicPartition(p.topic, p.partition))

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        if self._closed:
            raise StreamClosed(f"consumer of group {self.group!r}")
        msgs = self._c.consume(max_records, timeout)
        out: list[Record] = []
        append = out.append
        make, cls = _tnew, Record  # inlined base.fast_record: the hot path
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.fatal():
                    raise StreamError(f"{self._url}: consumer of group {self.group!r} failed: {err.str()}")
                continue  # transient (e.g. topic not yet created): librdkafka retries by itself
            key = m.key()
            hdrs = m.headers()
            append(
                make(
                    cls,
                    (
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        key.decode() if key is not None else None,
                        m.value(),
                        m.timestamp()[1],
                        {k: v.decode() for k, v in hdrs} if hdrs else {},
                    ),
                )
            )
        return out

    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        if self._closed:
            raise StreamClosed(f"consumer of group {self.group!r}")
        try:
            if offsets is None:  # librdkafka tracks the position after the last record handed out
                todo = [p for p in self._c.position(self._c.assignment()) if p.offset >= 0]
            else:
                todo = [_RdTp(tp.topic, tp.partition, int(o)) for tp, o in offsets.items()]
            if todo:
                self._c.commit(offsets=todo, asynchronous=False)
        except KafkaException as err:
            raise CommitError(self._url, self.group, str(err)) from err

    def committed(self, tp: TopicPartition) -> int | None:
        try:
            got = self._c.committed([_RdTp(tp.topic, tp.partition)], timeout=10)
        except KafkaException as err:
            raise StreamError(f"{self._url}: cannot read committed offset of {tp}: {err}") from err
        return got[0].offset if got and got[0].offset >= 0 else None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Move the read position; kept and applied on assignment if the partition is not assigned yet."""
        if tp not in self._assigned:
            self._pending_seeks[tp] = int(offset)
            return
        try:
            self._c.seek(_RdTp(tp.topic, tp.partition, int(offset)))
            return
        except KafkaException:
            pass  # assigned but not fetching yet: restart the assignment at the wanted offsets
        current = self._c.position([_RdTp(t.topic, t.partition) for t in sorted(self._assigned)])
        self._c.assign(
            [
                _RdTp(
                    p.topic,
                    p.partition,
                    int(offset)
                    if (p.topic, p.partition) == (tp.topic, tp.partition)
                    else (p.offset if p.offset >= 0 else OFFSET_STORED),
                )
                for p in current
            ]
        )

    def assignment(self) -> list[TopicPartition]:
        return sorted(TopicPartition(p.topic, p.partition) for p in self._c.assignment())

    def caught_up(self) -> bool:
        """Partitions assigned, a fetch answered for each, and the read position at its high-water mark.

        The high-water mark here is the one the last fetch response carried (librdkafka caches it,
        and updates it before it queues that response's records), so no broker round trip is needed
        unless nothing was read yet since the assignment; then the committed offset is the position."""
        parts = self._c.assignment()
        if not parts:
            return False  # still joining the group (tansu: about half of session.timeout.ms)
        unknown: list[tuple[_RdTp, int, int]] = []
        for p in self._c.position(parts):
            low, high = self._c.get_watermark_offsets(p, cached=True)
            if high < 0:
                return False  # no fetch answered for this partition yet
            if p.offset >= 0:
                if p.offset < high:
                    return False
            else:
                unknown.append((p, low, high))
        if unknown:
            try:
                got = self._c.committed([_RdTp(p.topic, p.partition) for p, _, _ in unknown], timeout=10)
            except KafkaException as err:
                raise StreamError(f"{self._url}: cannot read committed offsets: {err}") from err
            for c, (_, low, high) in zip(got, unknown, strict=True):
                start = c.offset if c.offset >= 0 else (low if self._reset == "earliest" else high)
                if start < high:
                    return False
        return True

    def close(self) -> None:
        """Leave the group without committing; gives up after a few seconds if the broker is gone."""
        if self._closed:
            return
        self._closed = True
        _close_within(self._c.close, _CLOSE_TIMEOUT_S)
