"""Pipeline status from persisted state only, so it is right whichever process runs the workers.

Per stage: processed / failed / quarantined come from the catalog's lineage records of the caller's
projects; consumed and lag (end offset minus the stage group's committed offset) and dlq (records in
`<input topic>.dlq`) come from the stream and are platform-wide counters: stream offsets carry no
project, and they reveal volumes only, never data. Lake tables: the Delta version (platform-wide) and
the number of rows of the caller's projects.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import pyarrow.compute as pc
import sqlalchemy as sa

from labstream.governance.scoped_sql import TableSource
from labstream.governance.service import Governance
from labstream.stream.base import Stream

log = logging.getLogger("labstream.api.dashboard")


@dataclass(frozen=True)
class KnownStage:
    pipeline: str
    stage: str
    input_topic: str


@dataclass
class StageStatus:
    stage: str
    pipeline: str
    input_topic: str | None
    processed: int = 0
    failed: int = 0
    quarantined: int = 0
    dlq: int | None = None  # platform-wide; shared by stages that read the same input topic
    consumed: int | None = None  # platform-wide: committed offsets of the stage's consumer group
    lag: int | None = None  # platform-wide: end minus committed offsets; None: group never committed


@dataclass
class TableStatus:
    table: str
    version: int | None
    rows: int  # rows of the caller's projects only


@lru_cache(maxsize=1)
def known_stages() -> tuple[KnownStage, ...]:
    """Stages of every registered pipeline, from its contract (imported once, lazily: science modules
    are heavy). A pipeline whose optional dependencies are missing is left out with a warning."""
    from labstream.pipelines import get_contract, names

    found: list[KnownStage] = []
    for name in names():
        try:
            found += [KnownStage(name, s.name, s.input_topic) for s in get_contract(name).stages()]
        except ImportError as err:  # pragma: no cover - optional science dependencies missing
            log.warning("%s stages unavailable: %s", name, err)
    return tuple(found)


@lru_cache(maxsize=1)
def declared_panels() -> list[str]:
    """The science panels the registered pipelines' contracts ask the dashboard to show."""
    from labstream.pipelines import contracts

    return sorted({panel for c in contracts() for panel in c.faces.dashboard})


def _lineage_counts(gov: Governance, projects: list[str]) -> dict[tuple[str, str], int]:
    from labstream.catalog.models import LineageRow

    if not projects:
        return {}
    q = (
        sa.select(LineageRow.stage, LineageRow.status, sa.func.count())
        .where(LineageRow.project.in_(projects))
        .group_by(LineageRow.stage, LineageRow.status)
    )
    with gov.sessions() as s:
        return {(stage, status): int(n) for stage, status, n in s.execute(q)}


def committed_offsets(stream: Stream, group: str, topic: str, partitions: list[int]) -> dict[int, int | None]:
    """A group's committed offsets, read without joining the group (which would move partitions away
    from the running workers): Kafka asks the group coordinator through the admin client; the
    embedded log answers a consumer subscribed to no topic, which takes no partitions
    (`Stream.committed_offsets`)."""
    return stream.committed_offsets(group, topic, partitions)


def _stream_counters(stream_url: str, stages: list[StageStatus]) -> None:
    """Fill consumed / lag / dlq from the stream, reading offsets without joining any group's
    assignment (a consumer subscribed to no topic) and without creating topics."""
    from labstream.stream import open_stream

    try:
        stream = open_stream(stream_url)
    except Exception as err:  # noqa: BLE001 - status must render even when the stream is down
        log.warning("stream unavailable for the dashboard: %s", err)
        return
    try:
        topics = set(stream.topics())
        ends: dict[str, dict[int, int]] = {}
        for st in stages:
            topic = st.input_topic
            if topic is None or topic not in topics:
                continue
            end = ends.setdefault(topic, stream.end_offsets(topic))
            got = committed_offsets(stream, st.stage, topic, list(end))
            dlq = f"{topic}.dlq"
            st.dlq = sum(stream.end_offsets(dlq).values()) if dlq in topics else 0
            if all(v is None for v in got.values()):
                continue  # the stage's group never committed: not deployed here, lag unknown
            committed = {p: v or 0 for p, v in got.items()}
            st.consumed = sum(committed.values())
            st.lag = sum(max(0, end[p] - committed[p]) for p in end)
    except Exception as err:  # noqa: BLE001 - best effort: a broker hiccup leaves the numbers unknown
        log.warning("cannot read stream offsets for the dashboard: %s", err)
    finally:
        stream.close()


def stage_status(gov: Governance, stream_url: str, projects: list[str]) -> list[StageStatus]:
    counts = _lineage_counts(gov, projects)
    known = {k.stage: k for k in known_stages()}
    seen = {stage for stage, _ in counts if stage != "ingest"}
    names = [k.stage for k in known.values()] + sorted(seen - set(known))
    out = []
    for name in names:
        k = known.get(name)
        out.append(
            StageStatus(
                stage=name,
                pipeline=k.pipeline if k else "",
                input_topic=k.input_topic if k else None,
                processed=counts.get((name, "ok"), 0),
                failed=counts.get((name, "failed"), 0),
                quarantined=counts.get((name, "quarantined"), 0),
            )
        )
    _stream_counters(stream_url, out)
    return out


def table_status(lake: TableSource | None, projects: list[str]) -> list[TableStatus]:
    if lake is None:
        return []
    out = []
    for table in lake.tables():
        if "project" not in lake.schema(table).names:
            continue  # fail closed: tables without a project column are not shown
        rows = 0
        if projects:
            rows = lake.read(table, filter=pc.field("project").isin(projects), columns=["project"]).num_rows
        out.append(TableStatus(table, lake.version(table), rows))
    return out


def catalog_counts(gov: Governance, projects: list[str]) -> dict[str, int]:
    """Files ingested, quarantined and lineage records of the caller's projects."""
    from labstream.catalog.models import IngestedFileRow, LineageRow, QuarantineRow

    def count(model: Any) -> int:
        q = sa.select(sa.func.count()).select_from(model).where(model.project.in_(projects))
        with gov.sessions() as s:
            return int(s.scalar(q) or 0)

    if not projects:
        return {"ingested": 0, "quarantined": 0, "lineage": 0}
    return {
        "ingested": count(IngestedFileRow),
        "quarantined": count(QuarantineRow),
        "lineage": count(LineageRow),
    }


def recent_runs(gov: Governance, projects: list[str], limit: int = 10) -> list[dict[str, Any]]:
    """The newest runs submitted through the API or WES, newest first."""
    from labstream.governance.models import RunRow

    if not projects:
        return []
    q = (
        sa.select(RunRow)
        .where(RunRow.project.in_(projects))
        .order_by(RunRow.created_at.desc(), RunRow.id.desc())
        .limit(limit)
    )
    with gov.sessions() as s:
        return [
            {
                "id": r.id,
                "project": r.project,
                "user": r.user,
                "pipeline": r.pipeline,
                "state": r.state,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
            }
            for r in s.scalars(q)
        ]


def as_dicts(items: list[Any]) -> list[dict[str, Any]]:
    return [asdict(i) for i in items]


__all__ = [
    "KnownStage",
    "StageStatus",
    "TableStatus",
    "as_dicts",
    "catalog_counts",
    "committed_offsets",
    "known_stages",
    "recent_runs",
    "stage_status",
    "table_status",
]


def dead_letters(stream_url: str, projects: list[str], limit: int = 50) -> list[dict[str, Any]]:
    """The newest dead letters of the caller's projects, with their reasons (`labstream replay` re-runs
    them after a fix)."""
    from labstream.runtime.replay import dead_letters as read_dead
    from labstream.stream import open_stream

    stream = open_stream(stream_url)
    try:
        items = [d for d in read_dead(stream) if d.project in projects]
    finally:
        stream.close()
    return [
        {"stage": d.stage, "error": d.error[:500], "source": d.source, "project": d.project,
         "state": "replayed" if d.replayed else "waiting"}
        for d in items[-limit:]
    ]  # fmt: skip
