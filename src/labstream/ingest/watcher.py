"""Watch a folder and ingest each file once it is complete.

Complete means: not a temporary name (instruments that write `x.tmp` then rename are picked up at the
rename), and its size and mtime unchanged for `settle_seconds`. Polling rather than inotify because
it also works on network mounts and object-store fuse mounts where instruments usually write.
Restarts rescan the folder; the ingest's content-hash claim makes that safe (no second event).

OME-Zarr plate folders (`*.zarr`) are not walked file by file: each of their fields is one unit,
ingested once it is complete (metadata and every chunk it implies, see zarr_fields) and its files
unchanged for `settle_seconds`. A field that stays incomplete and unchanged for `incomplete_after_s`
(a chunk the microscope never wrote) is quarantined, naming the plate folder, the field and what it
lacks; the rest of the plate goes on. A field already ingested is not looked at again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labstream.core.errors import InputError
from labstream.ingest.detect import is_sidecar, is_temporary
from labstream.ingest.files import Ingestor, IngestResult
from labstream.ingest.zarr_fields import (
    FieldNotReady,
    ZarrField,
    check_field,
    find_fields,
    is_zarr_root,
    read_attrs,
)

log = logging.getLogger(__name__)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float
    done: bool = False


@dataclass
class _FieldSeen:
    signature: tuple[tuple[str, int, int], ...]
    since: float
    done: bool = False


@dataclass
class WatchStats:
    published: int = 0
    duplicate: int = 0
    quarantined: int = 0
    results: list[IngestResult] = field(default_factory=list)


class Watcher:
    def __init__(
        self,
        folder: str | Path,
        ingestor: Ingestor,
        *,
        settle_seconds: float = 0.3,
        poll_interval: float = 0.1,
        recursive: bool = True,
        on_result: Callable[[IngestResult], None] | None = None,
        incomplete_after_s: float | None = 600.0,
    ) -> None:
        self.folder = Path(folder)
        self.incomplete_after_s = incomplete_after_s
        self._fields: dict[ZarrField, _FieldSeen] = {}
        self._not_plates: set[Path] = set()
        self.ingestor = ingestor
        self.settle_seconds = settle_seconds
        self.poll_interval = poll_interval
        self.recursive = recursive
        self.on_result = on_result
        self.stats = WatchStats()
        self._seen: dict[Path, _Seen] = {}

    def _walk(self) -> tuple[list[Path], list[Path]]:
        """(plain files, OME-Zarr plate folders) under the folder; hidden folders are skipped and
        plate folders are not descended into."""
        files: list[Path] = []
        plates: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(self.folder):
            here = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                if d.startswith("."):
                    continue
                if is_zarr_root(here / d):
                    plates.append(here / d)
                elif self.recursive:
                    keep.append(d)
            dirnames[:] = keep
            files += [here / n for n in filenames if not (is_temporary(here / n) or is_sidecar(here / n))]
        return sorted(files), sorted(plates)

    def _candidates(self) -> list[Path]:
        return self._walk()[0]

    def scan_once(self, now: float | None = None) -> list[IngestResult]:
        """One pass: ingest every file (and OME-Zarr field) that has been stable for settle_seconds."""
        now = time.monotonic() if now is None else now
        results = []
        files, plates = self._walk()
        for plate in plates:
            results += self._scan_plate(plate, now)
        for path in files:
            try:
                st = path.stat()
            except FileNotFoundError:
                self._seen.pop(path, None)
                continue
            seen = self._seen.get(path)
            if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
                self._seen[path] = _Seen(st.st_size, st.st_mtime_ns, now)
                if self.settle_seconds > 0:
                    continue
                seen = self._seen[path]
            if seen.done or now - seen.since < self.settle_seconds:
                continue
            result = self.ingestor.ingest_file(path)
            seen.done = True
            self._record(result)
            results.append(result)
        return results

    def _scan_plate(self, plate: Path, now: float) -> list[IngestResult]:
        if plate in self._not_plates:
            return []
        attrs = read_attrs(plate)
        if attrs is not None and "plate" not in attrs:  # complete metadata, but not an HCS plate
            self._not_plates.add(plate)
            err = InputError(
                str(plate),
                "a zarr folder without OME-Zarr HCS plate metadata: not ingested",
                hint="stream plates as plate/row/column/field with `plate` metadata at the root",
            )
            result = self.ingestor.quarantine_source(err)
            self._record(result)
            return [result]
        results = []
        for fld in find_fields(plate):
            seen = self._fields.get(fld)
            if seen is not None and seen.done:
                continue
            state = check_field(fld)
            if seen is None or seen.signature != state.signature:
                seen = self._fields[fld] = _FieldSeen(state.signature, now)
                if self.settle_seconds > 0:
                    continue
            stable_for = now - seen.since
            if not state.ready:
                if self.incomplete_after_s is not None and stable_for >= self.incomplete_after_s:
                    lacks = ", ".join(state.waiting_for[:8]) + (" ..." if len(state.waiting_for) > 8 else "")
                    err = InputError(
                        fld.source,
                        f"OME-Zarr field incomplete after {stable_for:.0f} s without change: lacks {lacks}",
                        hint="the microscope did not finish writing it; re-acquire or rewrite the field",
                    )
                    seen.done = True
                    results.append(self.ingestor.quarantine_source(err))
                    self._record(results[-1])
                continue
            if stable_for < self.settle_seconds:
                continue
            try:
                result = self.ingestor.ingest_zarr_field(fld, state=state)
            except FieldNotReady:
                self._fields.pop(fld, None)  # it changed under us: start settling again
                continue
            seen.done = True
            self._record(result)
            results.append(result)
        return results

    def _record(self, result: IngestResult) -> None:
        if result.status == "published":
            self.stats.published += 1
        elif result.status == "duplicate":
            self.stats.duplicate += 1
        else:
            self.stats.quarantined += 1  # the ingestor has logged the named error
        self.stats.results.append(result)
        if self.on_result:
            self.on_result(result)

    def run(self, stop: threading.Event, *, until_idle_seconds: float | None = None) -> WatchStats:
        """Poll until `stop` is set (or, with until_idle_seconds, until nothing new arrived for that long)."""
        last_activity = time.monotonic()
        while not stop.is_set():
            if self.scan_once():
                last_activity = time.monotonic()
            elif until_idle_seconds is not None and time.monotonic() - last_activity > until_idle_seconds:
                break
            stop.wait(self.poll_interval)
        return self.stats
