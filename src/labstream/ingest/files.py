"""Ingest: take one instrument file, store it content-addressed and publish its `file.landed` event.

A file is WHAT it is (its identity: the relative path under the watched folder, `file_identity`) plus
WHAT it holds (sha256). Exactly once per (identity, content) across restarts and duplicate copies:
1 open the file (confined to the watched root when there is one: no link, no `..`), check its image
  header (no decompression bomb), hash it and copy it into the raw zone (idempotent by content);
2 claim (project, identity, sha256) in the catalog (atomic: only the first claimant wins);
3 publish `file.landed` with an id derived from project, identity and hash, so a re-publication is the
  same event;
4 mark the claim published.
Equal bytes at two identities (two blank channels of two sites) are two files, two events; the raw
zone stores the bytes once. The same identity with new bytes (a re-export, a file rewritten after it
was ingested) is a new version: a new event with the new sha256 and `version`/`supersedes` in its data
and in the catalog. The same bytes at the same identity again are a duplicate: nothing is published.
A crash between 2 and 4 leaves a claim that is not yet published; the next ingest of that file (a
restart's rescan, a duplicate copy) publishes it again with the same id, and stages dedupe by event id.
Bad files (empty, unreadable, vanished, changing while read, links, bombs) are quarantined with a
named error.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labstream.catalog.records import IORef
from labstream.core.errors import InputError
from labstream.core.events import Event, ObjectRef
from labstream.core.hashing import sha256_stream
from labstream.core.settings import Settings
from labstream.core.topics import FILE_LANDED, INGEST_TOPIC
from labstream.ingest.confine import file_identity, open_confined
from labstream.ingest.consistency import check_at_start
from labstream.ingest.detect import detect, run_listing
from labstream.ingest.image_limits import check_image_header
from labstream.ingest.zarr_fields import PACKED_SUFFIX, FieldState, ZarrField, pack_field
from labstream.layouts.illumina_run import RUN_COMPLETE
from labstream.objects.base import ObjectStore

log = logging.getLogger(__name__)

TOPIC = INGEST_TOPIC
EVENT_TYPE = FILE_LANDED
_NS = uuid.UUID("6f1c1a7e-8a8e-4b57-9d84-5b2f3c1d9e10")


def event_id_for(sha256: str, identity: str | None = None, project: str = "default") -> str:
    """Deterministic: the same file version always gets the same event id, so a re-publication after
    a crash is the same event. Without `identity`, the content-only id of events before identities."""
    if identity is None:
        return uuid.uuid5(_NS, sha256).hex
    return uuid.uuid5(_NS, f"{project}\0{identity}\0{sha256}").hex


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
        store_for: Callable[[str], ObjectStore] | None = None,
        transform: Callable[[Event], Event] | None = None,
    ) -> None:
        """Optional hooks (governance uses both; the defaults keep plain behaviour):
        `store_for(project)` returns the object store raw files of that project go to (an encrypting
        store); `transform(event)` rewrites the landed event before anything records or publishes it
        (pseudonymized identifiers). A store whose `encrypts` is True checks for files changing while
        read itself, since its refs hash the ciphertext."""
        from labstream.catalog import open_catalog
        from labstream.objects import open_store
        from labstream.stream import open_stream

        self.settings = settings or Settings()
        self.settings.ensure_home()
        self.topic = topic
        self.stream = open_stream(self.settings.stream_url)
        self.stream.create_topic(topic, partitions=partitions)
        self.store = open_store(self.settings.objects_url)
        self.catalog = open_catalog(self.settings.catalog_url)
        self.catalog.upgrade()
        # a lost catalog is rebuilt from the stream, a lost stream refused (see ingest.consistency)
        self.rebuilt_claims = check_at_start(
            self.catalog,
            self.stream,
            topic,
            catalog_url=self.settings.catalog_url,
            stream_url=self.settings.stream_url,
            lake_url=self.settings.lake_url,
        )
        self.quarantine_dir = self.settings.home / "quarantine"
        self.store_for = store_for
        self.transform = transform

    def ingest_file(
        self,
        path: str | Path,
        *,
        root: str | Path | None = None,
        identity: str | None = None,
        instrument: str | None = None,
        project: str = "default",
        key: str | None = None,
        data: dict | None = None,
        source: str | Path | None = None,
    ) -> IngestResult:
        """`root`: the watched folder `path` must stay inside (no link, no `..`); its identity is then
        its relative path under it. Without a root (push API) the identity is the file name.
        `identity` overrides both. `source`: what the instrument wrote, when `path` was made from it
        (a packed OME-Zarr field): the catalog, lineage, events and errors name it instead of `path`."""
        path = Path(path)
        origin = Path(source) if source is not None else path
        started = time.time()
        try:
            ident = identity or (file_identity(root, path) if root is not None else path.name)
            ref, size, digest = self._store(path, project, root=root, origin=origin)
        except InputError as err:
            if source is not None:
                err = InputError(str(origin), err.problem, hint=err.hint)
            self._quarantine(path, err, root=root)
            return IngestResult(str(origin), "quarantined", error=str(err))
        try:
            kind = detect(origin)
        except InputError as err:  # a known layout with an impossible value (channel w0, chunk 9 of 8)
            self._quarantine(path, err, root=root)
            return IngestResult(str(origin), "quarantined", error=str(err))
        if kind.get("file") == "run_complete" and root is not None:  # the run's files, for its gathers
            data = {**(data or {}), "run_files": run_listing(Path(root), origin.parent)}
        lineage_id = f"ingest-{ref.sha256[:32]}"  # the root of lineage is per content (run_executor)
        event = Event(
            type=EVENT_TYPE,
            key=key or kind.key,
            data={
                "path": str(origin),
                "name": origin.name,
                "identity": ident,
                "instrument": instrument or kind.instrument,
                "layout": kind.layout,
                "size": size,
                **(data or {}),
            },
            refs=(ref,),
            parents=(lineage_id,),
            id=event_id_for(ref.sha256, ident, project),
            project=project,
        )
        shown = origin  # the path the catalog records: as rewritten by the transform, when there is one
        if self.transform is not None:
            event = self.transform(event)
            shown = Path(str(event.data.get("path", origin)))
            ident = str(event.data.get("identity", ident))  # pseudonymised too: the catalog keeps this
        first = self.catalog.claim_ingest(
            sha256=ref.sha256,
            path=str(shown),
            size=size,
            identity=ident,
            object_uri=ref.uri,
            instrument=event.data["instrument"],
            project=project,
            event_id=event.id,
        )
        known = self.catalog.get_ingested(ref.sha256, identity=ident, project=project)
        if not first and known is not None and known.status == "published":
            return IngestResult(str(origin), "duplicate", sha256=ref.sha256)
        if known is not None and known.version > 1:  # a re-export: say which version it replaces
            event = event.with_data(version=known.version, supersedes=known.supersedes)
        landed = IORef(f"file://{shown.resolve()}", digest)  # the file's own sha256, encrypted or not
        self._record_lineage(lineage_id, landed, ref, event, started)
        self.stream.publish(self.topic, event.to_json(), key=event.key)
        self.stream.flush()
        self.catalog.mark_published(
            ref.sha256, event_id=event.id, object_uri=ref.uri, identity=ident, project=project
        )
        return IngestResult(str(origin), "published", sha256=ref.sha256, event=event)

    def ingest_zarr_field(
        self,
        field: ZarrField,
        *,
        state: FieldState | None = None,
        instrument: str = "microscope",
        project: str = "default",
        identity: str | None = None,
    ) -> IngestResult:
        """Ingest one complete OME-Zarr HCS field, packed into one deterministic zip (see zarr_fields).

        `identity`: the field's relative path under the watched folder (default: the plate folder's
        name and the field inside it). Raises FieldNotReady when the field is still being written;
        the watcher looks again later."""
        staging = self.settings.home / "staging"
        packed = staging / f"{uuid.uuid4().hex}{PACKED_SUFFIX}"
        try:
            man = pack_field(field, packed, state)
            return self.ingest_file(
                packed,
                instrument=instrument,
                project=project,
                identity=identity or f"{field.plate_path.name}/{field.rel}",
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
        self, lineage_id: str, landed: IORef, ref: ObjectRef, event: Event, started: float
    ) -> None:
        """The root of every lineage walk: the instrument file as it landed (its own sha256, also when the
        stored object is encrypted: a walk ends at the file the instrument wrote), and the raw object."""
        from labstream.catalog.records import LineageRecord

        self.catalog.record_lineage(
            LineageRecord(
                id=lineage_id,
                stage="ingest",
                stage_version="1",
                code_version=_code_version(),
                params={"instrument": event.data["instrument"], "key": event.key},
                inputs=[landed],
                outputs=[IORef(ref.uri, ref.sha256)],
                event_id=event.id,
                project=event.project,
                status="ok",
                host=socket.gethostname(),
                executor="ingest",
                started_at=started,
                ended_at=time.time(),
                wall_seconds=time.time() - started,
                key=event.key,
            )
        )

    def _store(
        self,
        path: Path,
        project: str = "default",
        *,
        root: str | Path | None = None,
        origin: Path | None = None,
    ) -> tuple[ObjectRef, int, str]:
        """Hash and store the file through one descriptor: confined to `root` when given, so what is
        stored is the file inside the root even if its name is swapped for a link meanwhile."""
        store = self.store if self.store_for is None else self.store_for(project)
        try:
            fd = open_confined(root, path) if root is not None else os.open(path, os.O_RDONLY)
        except FileNotFoundError as err:
            raise InputError(path, "file vanished while it was being ingested") from err
        except PermissionError as err:
            raise InputError(
                path, f"file is not readable ({err.strerror})", hint="fix its permissions"
            ) from err
        except IsADirectoryError as err:
            raise InputError(path, "is a directory, not a file") from err
        st = os.fstat(fd)
        if not _is_regular(st.st_mode):
            os.close(fd)
            raise InputError(path, "not a regular file (a directory or a device?)")
        with os.fdopen(fd, "rb") as fh:
            size = st.st_size
            if size == 0 and (origin or path).name not in RUN_COMPLETE:  # an end marker is often empty
                raise InputError(path, "empty file (0 bytes)", hint="the instrument wrote nothing; check it")
            check_image_header(fh, origin or path)  # 1 before anything decodes it
            fh.seek(0)
            digest, hashed_size = sha256_stream(fh)
            try:
                ref = store.put_file(_same_file(fd, path), suffix=_suffix(path))
            except FileNotFoundError as err:
                raise InputError(path, "file vanished while it was being ingested") from err
        if (ref.sha256 != digest and not store.encrypts) or hashed_size != size:
            raise InputError(
                path,
                "file changed while it was being ingested",
                hint="write to a temporary name and rename when complete",
            )
        return ref, size, digest

    def _quarantine(self, path: Path, err: InputError, *, root: str | Path | None = None) -> None:
        """Keep a copy of a refused file, read through the same confinement as the ingest: a link or a
        file outside the root is named in the catalog but its bytes are never read."""
        log.warning("quarantined %s", err)
        self.quarantine_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target: Path | None = self.quarantine_dir / path.name
        try:
            fd = open_confined(root, path) if root is not None else os.open(path, os.O_RDONLY | _NOFOLLOW)
            with os.fdopen(fd, "rb") as src:
                if not _is_regular(os.fstat(fd).st_mode):
                    raise OSError("not a regular file")
                mode = os.fstat(fd).st_mode & 0o640
                with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as dst:  # type: ignore[arg-type]
                    shutil.copyfileobj(src, dst)
        except (OSError, InputError):
            target = None
        self.catalog.quarantine_error(err, stage="ingest", payload_uri=str(target) if target else None)

    def close(self) -> None:
        """Close what it opened: a process that goes on (the API, a second run in-process) keeps no
        connection to this home's catalog or stream."""
        self.stream.close()
        self.catalog.close()


def _code_version() -> str:
    from labstream import __version__

    return __version__


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _same_file(fd: int, path: Path) -> Path:
    """A name that opens the very file behind `fd` (Linux: its /proc magic link), so the store copies
    what was confined and hashed, not whatever the name points to now; `path` where there is none
    (then the hash comparison after the copy catches a swap)."""
    proc = Path(f"/proc/self/fd/{fd}")
    return proc if proc.exists() else path


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
