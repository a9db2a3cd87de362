"""Catalog records: plain dataclasses, the typed face of the catalog tables.

Timestamps are float seconds since the epoch (UTC), as `time.time()` and ResourceUsage give them, so
turnaround time and cost are plain subtraction and multiplication on every database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from labstream.core.events import ObjectRef, new_id


@dataclass
class IngestedFile:
    """One version of one instrument file: `identity` (what it is, e.g. its path under the watched
    folder) holding `sha256` (what it holds), first seen at `path`. The same identity with the same
    bytes again only bumps `duplicate_count`; with new bytes it is a new row, `version` + 1, naming the
    version it `supersedes` (a re-export). Equal bytes at two identities are two rows (two files).

    status: "claimed" (this ingester owns it, nothing published yet) → "published" (event sent).
    """

    sha256: str
    path: str
    size: int
    media_type: str = "application/octet-stream"
    object_uri: str = ""
    instrument: str = ""
    project: str = "default"
    event_id: str = ""
    status: str = "claimed"
    first_seen: float = 0.0
    last_seen: float = 0.0
    duplicate_count: int = 0
    identity: str = ""
    version: int = 1
    supersedes: str | None = None


@dataclass
class IORef:
    """An input or output of a task: where it lives and what it hashes to."""

    uri: str
    sha256: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"uri": self.uri, "sha256": self.sha256}

    @classmethod
    def of(cls, value: IORef | ObjectRef | dict[str, Any] | str) -> IORef:
        if isinstance(value, IORef):
            return value
        if isinstance(value, ObjectRef):
            return cls(value.uri, value.sha256)
        if isinstance(value, dict):
            return cls(str(value["uri"]), str(value.get("sha256", "")))
        return cls(str(value))


@dataclass
class LineageRecord:
    """One task: what went in, what came out, with which code and parameters, and what it cost.

    `parent_ids` are the lineage ids of the tasks whose outputs this task consumed; the ingest task of
    an instrument file has none, so walking parents always ends at the instrument file.
    """

    stage: str
    stage_version: str = ""
    code_version: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    model_version: str | None = None
    inputs: list[IORef] = field(default_factory=list)
    outputs: list[IORef] = field(default_factory=list)
    parent_ids: list[str] = field(default_factory=list)
    event_id: str = ""
    project: str = "default"
    status: str = "ok"  # ok | failed | quarantined | running
    error: str | None = None
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    peak_rss_bytes: int = 0
    gpu_seconds: float = 0.0
    host: str = ""
    executor: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0
    id: str = field(default_factory=new_id)
    # What the task asked for (ResourceRequest as a dict: cpu, gpu, memory_mb, custom): cost bills
    # max(request, use). `key` is the entity served (sample, plate): the event key. `attempts` holds
    # the usage of earlier attempts of a retried task (the fields above are its last attempt's), so
    # failed attempts are billed too.
    request: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inputs = [IORef.of(x) for x in self.inputs]
        self.outputs = [IORef.of(x) for x in self.outputs]
        self.parent_ids = [str(p) for p in self.parent_ids]


class LineageChange(NamedTuple):
    """One write of a lineage record, in write order (catalog revision 0008): `seq` this write's,
    `first_seq` the record's first write's (equal for a record written once; smaller for a rewrite,
    e.g. a replayed task)."""

    seq: int
    first_seq: int
    record: LineageRecord


@dataclass
class QuarantineRecord:
    """Bad input set aside with the reason, so nothing else is blocked and nothing is lost."""

    source: str  # file path or event id
    problem: str
    stage: str | None = None
    payload_uri: str | None = None
    project: str = "default"
    created_at: float = field(default_factory=time.time)
    id: str = field(default_factory=new_id)


@dataclass
class RunRecord:
    """One pipeline run (a demo, a replay, a batch of plates)."""

    pipeline: str
    status: str = "running"  # running | succeeded | failed | cancelled
    params: dict[str, Any] = field(default_factory=dict)
    project: str = "default"
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    id: str = field(default_factory=new_id)


@dataclass
class GroupMember:
    """One member of a gather stage's group (a site of a plate, a chunk of a sample)."""

    stage: str
    group_key: str
    member_id: str
    event_json: str
    fired: bool = False
    created_at: float = 0.0


__all__ = [
    "GroupMember",
    "IORef",
    "IngestedFile",
    "LineageChange",
    "LineageRecord",
    "QuarantineRecord",
    "RunRecord",
]
