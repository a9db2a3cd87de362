"""Dead letters a lab can act on: list them with their reasons, and replay them after a fix.

Why replay from the dead-letter topic rather than re-ingest: the instrument file is already in the store
and its event in the log; re-ingesting would make a second ingest record and could not tell a fixed
re-run from a duplicate. A replay re-publishes the dead letter's original bytes (and key) to the stage's
input topic with a `labstream-replay` header, which tells the worker to run the task again although its
lineage says it failed (runtime/worker.py); a task that then succeeds overwrites its failed lineage
record under the same id.

Exactly once still holds: the replay consumer group commits each dead letter's offset after publishing,
so a second `replay` publishes nothing; if a crash comes between the publish and that commit, the next
replay re-publishes the same event id, and the worker finds its lineage already ok and adds no row.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

from labstream.stream.base import Stream, TopicPartition

REPLAY_HEADER = "labstream-replay"
REPLAY_GROUP = "labstream-replay"
DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class DeadItem:
    """One dead letter: where it came from, why it failed, and whether it was replayed already."""

    dlq_topic: str
    partition: int
    offset: int
    stage: str
    error_type: str
    error: str
    source: str
    event_id: str
    attempts: int
    project: str
    replayed: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _project(value: bytes) -> str:
    try:
        doc = json.loads(value)
    except ValueError:
        return ""
    return str(doc.get("project") or "default") if isinstance(doc, dict) else ""


def _read(stream: Stream, topic: str) -> list:  # type: ignore[type-arg]
    """Every record of `topic` from the start, with a throwaway group that never commits."""
    consumer = stream.consumer(f"labstream-dlq-view-{secrets.token_hex(4)}", [topic])
    try:
        out = []
        while batch := consumer.poll(max_records=500, timeout=0.3):
            out += batch
    finally:
        consumer.close()
    return sorted(out, key=lambda r: (r.partition, r.offset))


def dlq_topics(stream: Stream) -> list[str]:
    return sorted(t for t in stream.topics() if t.endswith(DLQ_SUFFIX))


def dead_letters(stream: Stream, topics: list[str] | None = None) -> list[DeadItem]:
    """Every dead letter of the `.dlq` topics (all of them by default), oldest first per partition."""
    items = []
    for topic in topics or dlq_topics(stream):
        records = _read(stream, topic)
        parts = sorted({r.partition for r in records})
        done = stream.committed_offsets(REPLAY_GROUP, topic, parts) if parts else {}
        for r in records:
            h = r.headers or {}
            items.append(
                DeadItem(
                    topic,
                    r.partition,
                    r.offset,
                    h.get("stage", ""),
                    h.get("error_type", ""),
                    h.get("error", ""),
                    h.get("source", ""),
                    h.get("event_id", ""),
                    int(h.get("attempts") or 0),
                    _project(r.value),
                    r.offset < (done.get(r.partition) or 0),
                )  # fmt: skip
            )
    return items


def replay(stream: Stream, dlq_topic: str) -> int:
    """Re-publish the not yet replayed dead letters of `dlq_topic` to its input topic; returns how many
    were published."""
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{dlq_topic!r} is not a dead-letter topic (it ends in {DLQ_SUFFIX})")
    target = dlq_topic.removesuffix(DLQ_SUFFIX)
    consumer = stream.consumer(REPLAY_GROUP, [dlq_topic])
    sent = 0
    try:
        while batch := consumer.poll(max_records=500, timeout=0.3):
            for r in batch:
                headers = {REPLAY_HEADER: f"{dlq_topic}/{r.partition}@{r.offset}"}
                stream.publish(target, r.value, key=r.key, headers=headers)
                sent += 1
            stream.flush()
            last: dict[int, int] = {}
            for r in batch:
                last[r.partition] = max(last.get(r.partition, -1), r.offset)
            consumer.commit({TopicPartition(dlq_topic, p): off + 1 for p, off in last.items()})
    finally:
        consumer.close()
    return sent


__all__ = ["REPLAY_HEADER", "DeadItem", "dead_letters", "dlq_topics", "replay"]
