"""The catalog contract: the platform's metadata (ingested files, quarantine, runs, lineage, gather
state), as every catalog backend keeps it.

Contract:
- Every claim-like method is one atomic statement, correct when many processes race on one catalog:
  `claim_ingest` is True for the first claimant of a content hash only; `add_member` is False for a
  member already stored (a redelivery); `mark_fired` is True for exactly one caller per set of unfired
  members.
- `record_lineage` / `record_lineage_many` insert or replace by lineage id (a retried task keeps its
  id and overwrites), the batch form in one transaction: the worker's exactly-once argument reads
  "lineage recorded with status ok" as "its rows are in the lake" (see runtime/worker.py).
- `get_lineage_many` returns only the ids that exist, in one query.
- Every lineage write takes the next `seq` in commit order (a write committed later never has a smaller
  one), so `lineage_changes(after)` with `after` = the greatest `seq` read is a watermark that loses
  nothing: what an incremental reader (ops' refresher) folds in.
- Reads return plain records (`labstream.catalog.records`), never ORM rows.
- A database that cannot be reached or written raises StorageError (with the URL, password hidden);
  `upgrade()` applies the packaged migrations and is idempotent.

One implementation today, `labstream.catalog.db.Catalog` (SQLAlchemy), chosen for `sqlite://` and
`postgresql://` URLs by `open_catalog`; another backend implements this Protocol and is one registry
line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, Self, TypedDict, Unpack, runtime_checkable

from labstream.catalog.records import (
    GroupMember,
    IngestedFile,
    LineageChange,
    LineageRecord,
    QuarantineRecord,
    RunRecord,
)
from labstream.core.errors import InputError


class QuarantinePlace(TypedDict, total=False):
    """Where a quarantined input was stopped: the keyword arguments of `quarantine` and
    `quarantine_error` (which passes them on as given)."""

    stage: str | None  # the stage that refused it (None: ingest before any stage)
    payload_uri: str | None  # where its bytes are kept (a dead-letter topic, an object)
    project: str  # "default" when not given


class IngestedRow(TypedDict, total=False):
    """Which row of some bytes: `get_ingested`'s and `mark_published`'s keyword arguments. Not given (or
    None), a key does not narrow: every row holding the bytes (get_ingested: the first one claimed)."""

    identity: str | None  # the file's stable name in its project ('' for a content-only claim)
    project: str | None


class LineageFilter(TypedDict, total=False):
    """`list_lineage`'s keyword arguments: records oldest first; a key not given (or None) does not narrow."""

    stage: str | None
    event_id: str | None
    project: str | None
    since: float | None  # started at or after (epoch seconds)
    keys: Sequence[str] | None  # the records of these entities (the `key` column: sample, plate)
    limit: int | None  # at most this many records


@runtime_checkable
class CatalogStore(Protocol):
    """Every catalog capability the platform uses; see the module docstring for the contract."""

    url: str

    # -- lifecycle
    def upgrade(self, revision: str = "head") -> Self: ...

    def current_revision(self) -> str | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    # -- ingested files
    def claim_ingest(
        self,
        sha256: str,
        *,
        path: str,
        size: int,
        identity: str | None = None,
        media_type: str = "application/octet-stream",
        object_uri: str = "",
        instrument: str = "",
        project: str = "default",
        event_id: str = "",
    ) -> bool: ...

    def mark_published(
        self, sha256: str, *, event_id: str, object_uri: str | None = None, **row: Unpack[IngestedRow]
    ) -> None: ...

    def get_ingested(self, sha256: str, **row: Unpack[IngestedRow]) -> IngestedFile | None: ...

    def count_ingested(self) -> int: ...

    def list_ingested(
        self,
        *,
        status: str | None = None,
        project: str | None = None,
        sha256s: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[IngestedFile]: ...

    # -- quarantine
    def quarantine(self, source: str, problem: str, **where: Unpack[QuarantinePlace]) -> QuarantineRecord: ...

    def quarantine_error(self, err: InputError, **where: Unpack[QuarantinePlace]) -> QuarantineRecord: ...

    def list_quarantine(
        self, *, stage: str | None = None, limit: int | None = None
    ) -> list[QuarantineRecord]: ...

    def quarantine_counts(self) -> dict[tuple[str, str], int]: ...

    # -- runs
    def start_run(
        self,
        pipeline: str,
        params: dict[str, Any] | None = None,
        *,
        project: str = "default",
        run_id: str | None = None,
    ) -> RunRecord: ...

    def finish_run(self, run_id: str, status: str = "succeeded") -> None: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def list_runs(self, *, pipeline: str | None = None, limit: int | None = None) -> list[RunRecord]: ...

    # -- lineage
    def record_lineage(self, rec: LineageRecord) -> None: ...

    def record_lineage_many(self, recs: Sequence[LineageRecord]) -> None: ...

    def get_lineage(self, lineage_id: str) -> LineageRecord | None: ...

    def get_lineage_many(self, ids: Sequence[str]) -> dict[str, LineageRecord]: ...

    def walk_lineage(self, lineage_id: str) -> list[LineageRecord]: ...

    def lineage_for_object(self, uri_or_sha256: str, direction: str = "out") -> list[LineageRecord]: ...

    def list_lineage(self, **where: Unpack[LineageFilter]) -> list[LineageRecord]: ...

    def lineage_changes(self, after: int = 0, *, limit: int | None = None) -> list[LineageChange]: ...

    def executors_used(self) -> list[tuple[str, int, int]]: ...

    # -- gather state (keyed groups of a stage)
    def add_member(self, stage: str, group_key: str, member_id: str, event_json: str | bytes) -> bool: ...

    def members(self, stage: str, group_key: str) -> list[GroupMember]: ...

    def mark_fired(self, stage: str, group_key: str) -> bool: ...

    def stale_groups(self, stage: str, before: float) -> list[str]: ...

    def is_fired(self, stage: str, group_key: str) -> bool: ...

    def clear_group(self, stage: str, group_key: str) -> int: ...


__all__ = ["CatalogStore", "IngestedRow", "LineageFilter", "QuarantinePlace"]
