"""Ingest: take one instrument file, store it content-addressed and publish its `file.landed` event.

Exactly once per content hash across restarts and duplicate copies:
1 hash the file (streaming) and copy it into the raw zone (idempotent by content);
2 claim the hash in the catalog (atomic: only the first claimant wins);
3 publish `file.landed` with an id derived from the hash, so a re-publication is the same event;
4 mark the claim published.
A crash between 2 and 4 leaves a claim that is not yet published; the next ingest of that content (a
restart's rescan, a duplicate copy) publishes it again with the same id, and stages dedupe by event id.
Bad files (empty, unreadable, vanished, changing while read) are quarantined with a named error.
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labstream.core.errors import InputError
from labstream.core.events import Event, ObjectRef
from labstream.core.hashing import sha256_file
from labstream.core.settings import Settings
from labstream.core.topics import FILE_LANDED, INGEST_TOPIC
from labstream.ingest.detect import detect
from labstream.ingest.zarr_fields import PACKED_SUFFIX, FieldState, ZarrField, pack_field

log = logging.getLogger(__name__)

TOPIC = INGEST_TOPIC
EVENT_TYPE = FILE_LANDED
_NS = uuid.UUID("6f1c1a7e-8a8e-4b57-9d84-5b2f3c1d9e10")


def event_id_for(sha256: str) -> str:
    return uuid.uuid5(_NS, sha256).hex


@dataclass(frozen=True)
class IngestResult:
    path: str
    status: str  # published | duplicate | quarantined
    sha256: str | None = None
    event: Event | None = None
    error: str | None = None


class Ingestor:
    """Owns the backends an ingest needs; one per process (the watcher and the push API share it)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        topic: str = TOPIC,
        partitions: int = 4,
        store_for: Callable[[str], Any] | None = None,
        transform: Callable[[Event], Event] | None = None,
    ) -> None:
        """Optional hooks (governance uses both; the defaults keep plain behaviour):
        `store_for(project)` returns the object store raw files of that project go to (an encrypting
        store); `transform(event)` rewrites the landed event before anything records or publishes it
        (pseudonymized identifiers). A store with `encrypts = True` checks for files changing while
        read itself, since its refs hash the ciphertext."""
        from labstream.catalog import Catalog
        from labstream.objects import open_store
        from labstream.stream import open_stream

        self.settings = settings or Settings()
        self.settings.ensure_home()
        self.topic = topic
        self.stream = open_stream(self.settings.stream_url)
        self.stream.create_topic(topic, partitions=partitions)
        self.store = open_store(self.settings.objects_url)
        self.catalog = Catalog(self.settings.catalog_url)
        self.catalog.upgrade()
        self.quarantine_dir = self.settings.home / "quarantine"
        self.store_for = store_for
        self.transform = transform

    def ingest_file(
        self,
        path: str | Path,
        *,
        instrument: str | None = None,
        project: str = "default",
        key: str | None = None,
        data: dict | None = None,
        source: str | Path | None = None,
    ) -> IngestResult:
        """`source`: what the instrument wrote, when `path` was made from it (a packed OME-Zarr field):
        the catalog, lineage, events and errors name it instead of `path`."""
        path = Path(path)
        origin = Path(source) if source is not None else path
        started = time.time()
        try:
            ref, size = self._store(path, project)
        except InputError as err:
            if source is not None:
                err = InputError(str(origin), err.problem, hint=err.hint)
            self._quarantine(path, err)
            return IngestResult(str(origin), "quarantined", error=str(err))
        try:
            kind = detect(origin)
        except InputError as err:  # a known layout with an impossible value (channel w0, chunk 9 of 8)
            self._quarantine(path, err)
            return IngestResult(str(origin), "quarantined", error=str(err))
        lineage_id = f"ingest-{ref.sha256[:32]}"
        event = Event(
            type=EVENT_TYPE,
            key=key or kind.key,
            data={
                "path": str(origin),
                "name": origin.name,
                "instrument": instrument or kind.instrument,
                "layout": kind.layout,
                "size": size,
                **(data or {}),
            },
            refs=(ref,),
            parents=(lineage_id,),
            id=event_id_for(ref.sha256),
            project=project,
        )
        shown = origin  # the path the catalog records: as rewritten by the transform, when there is one
        if self.transform is not None:
            event = self.transform(event)
            shown = Path(str(event.data.get("path", origin)))
        first = self.catalog.claim_ingest(
            sha256=ref.sha256,
            path=str(shown),
            size=size,
            object_uri=ref.uri,
            instrument=event.data["instrument"],
            project=project,
            event_id=event.id,
        )
        if not first:
            known = self.catalog.get_ingested(ref.sha256)
            if known is not None and known.status == "published":
                return IngestResult(str(origin), "duplicate", sha256=ref.sha256)
        self._record_lineage(lineage_id, shown, ref, event, started)
        self.stream.publish(self.topic, event.to_json(), key=event.key)
        self.stream.flush()
        self.catalog.mark_published(ref.sha256, event_id=event.id, object_uri=ref.uri)
        return IngestResult(str(origin), "published", sha256=ref.sha256, event=event)

    def ingest_zarr_field(
        self,
        field: ZarrField,
        *,
        state: FieldState | None = None,
        instrument: str = "microscope",
        project: str = "default",
    ) -> IngestResult:
        """Ingest one complete OME-Zarr HCS field, packed into one deterministic zip (see zarr_fields).

        Raises FieldNotReady when the field is still being written; the watcher looks again later."""
        staging = self.settings.home / "staging"
        packed = staging / f"{uuid.uuid4().hex}{PACKED_SUFFIX}"
        try:
            man = pack_field(field, packed, state)
            return self.ingest_file(
                packed,
                instrument=instrument,
                project=project,
                key=man["plate"],
                data={**man, "plate_path": str(field.plate_path)},
                source=field.source,
            )
        finally:
            packed.unlink(missing_ok=True)

    def quarantine_source(self, err: InputError) -> IngestResult:
        """Quarantine what the ingest gave up on without a file to keep (a field that never completed)."""
        log.warning("quarantined %s", err)
        self.catalog.quarantine_error(err, stage="ingest")
        return IngestResult(err.source, "quarantined", error=str(err))

    def _record_lineage(
        self, lineage_id: str, path: Path, ref: ObjectRef, event: Event, started: float
    ) -> None:
        """The root of every lineage walk: the instrument file as it landed, and the raw object made of it."""
        from labstream.catalog.records import IORef, LineageRecord

        self.catalog.record_lineage(
            LineageRecord(
                id=lineage_id,
                stage="ingest",
                stage_version="1",
                code_version=_code_version(),
                params={"instrument": event.data["instrument"], "key": event.key},
                inputs=[IORef(f"file://{path.resolve()}", ref.sha256)],
                outputs=[IORef(ref.uri, ref.sha256)],
                event_id=event.id,
                project=event.project,
                status="ok",
                host=socket.gethostname(),
                executor="ingest",
                started_at=started,
                ended_at=time.time(),
                wall_seconds=time.time() - started,
            )
        )

    def _store(self, path: Path, project: str = "default") -> tuple[ObjectRef, int]:
        store = self.store if self.store_for is None else self.store_for(project)
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise InputError(path, "not a regular file")
            if size == 0:
                raise InputError(path, "empty file (0 bytes)", hint="the instrument wrote nothing; check it")
            digest, hashed_size = sha256_file(path)
            ref = store.put_file(path, suffix=_suffix(path))
        except FileNotFoundError as err:
            raise InputError(path, "file vanished while it was being ingested") from err
        except PermissionError as err:
            raise InputError(
                path, f"file is not readable ({err.strerror})", hint="fix its permissions"
            ) from err
        except IsADirectoryError as err:
            raise InputError(path, "is a directory, not a file") from err
        if (ref.sha256 != digest and not getattr(store, "encrypts", False)) or hashed_size != size:
            raise InputError(
                path,
                "file changed while it was being ingested",
                hint="write to a temporary name and rename when complete",
            )
        return ref, size

    def _quarantine(self, path: Path, err: InputError) -> None:
        log.warning("quarantined %s", err)
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        target = self.quarantine_dir / path.name
        try:
            if path.exists() and path.is_file():
                shutil.copy2(path, target)
        except OSError:
            target = None  # type: ignore[assignment]
        self.catalog.quarantine_error(err, stage="ingest", payload_uri=str(target) if target else None)

    def close(self) -> None:
        self.stream.close()


def _code_version() -> str:
    from labstream import __version__

    return __version__


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for double in (".fastq.gz", ".fq.gz", ".vcf.gz", ".ome.zarr", PACKED_SUFFIX):
        if name.endswith(double):
            return double
    return path.suffix.lower()


_default: Ingestor | None = None


def ingest_file(path: str | Path, settings: Settings | None = None, **kw: object) -> IngestResult:
    """Push API: ingest one file with a process-wide Ingestor for these settings."""
    global _default
    if _default is None or (settings is not None and _default.settings != settings):
        _default = Ingestor(settings)
    return _default.ingest_file(path, **kw)  # type: ignore[arg-type]
