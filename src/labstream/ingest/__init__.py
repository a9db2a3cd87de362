"""Ingest: instrument files into the raw zone and onto the stream, exactly once per content hash."""

from labstream.ingest.files import EVENT_TYPE, TOPIC, Ingestor, IngestResult, event_id_for, ingest_file
from labstream.ingest.watcher import Watcher

__all__ = [
    "EVENT_TYPE",
    "TOPIC",
    "IngestResult",
    "Ingestor",
    "Watcher",
    "event_id_for",
    "ingest_file",
]
