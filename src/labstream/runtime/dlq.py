"""Dead letters: a message that cannot be processed goes, untouched, to `<input topic>.dlq`.

The value is the original raw bytes (so a fixed stage can replay it as is); the headers carry why:
`error`, `error_type`, `stage`, `source` (topic/partition@offset), `event_id` (when the event decoded)
and `attempts`. This mirrors Kafka Connect's dead-letter queue convention.
"""

from __future__ import annotations

from dataclasses import dataclass

from labstream.stream.base import Record


def dlq_topic(input_topic: str) -> str:
    return f"{input_topic}.dlq"


def record_source(rec: Record) -> str:
    return f"{rec.topic}/{rec.partition}@{rec.offset}"


@dataclass
class DeadLetter:
    record: Record
    stage: str
    error_type: str
    error: str
    event_id: str = ""
    attempts: int = 0

    def headers(self) -> dict[str, str]:
        return {
            "error": self.error[:4000],
            "error_type": self.error_type,
            "stage": self.stage,
            "source": record_source(self.record),
            "event_id": self.event_id,
            "attempts": str(self.attempts),
        }
