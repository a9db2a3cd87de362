"""Names every part of the platform agrees on: the ingest topic, the event a landed file makes, and the
topic results go back to the lab on. Spelled once here so a stage never retypes them."""

from __future__ import annotations

__all__ = ["ALERTS_TOPIC", "FEEDBACK_TOPIC", "FILE_LANDED", "INGEST_TOPIC"]

INGEST_TOPIC = "ingest.files"  # every instrument file's event, keyed by its plate or sample
FILE_LANDED = "file.landed"  # the event type of a file ingested complete, with its claim check
FEEDBACK_TOPIC = "feedback"  # hit lists, follow-up layouts and reports going back to the lab
ALERTS_TOPIC = "ops.alerts"  # budget thresholds and turnaround burn-rate alerts (labstream.ops.alerts)
