"""Watch a folder and ingest each file once it is complete, confined to the folder.

Complete means: the writer closed it, as the OS reports it (inotify's IN_CLOSE_WRITE, through
`watchdog`, see ingest.notify), and nothing reopened it for `settle_seconds` (a writer appending in
open/close cycles is one file, not one version per cycle). Where there is no such report, complete
means: not a temporary name (instruments that write `x.tmp` then rename are picked up at the
rename) and size and mtime unchanged for `settle_seconds`. That settle rule is the fallback for
files already there at start, files renamed into the folder, platforms without close events, and
`mode="poll"`, which rescans the whole folder every `poll_interval`: what network mounts and
object-store fuse mounts need, since the kernel sees no remote writes there. With notifications an
idle watcher does nothing, and a writer that pauses longer than the settle time is still ingested
once, at its close. A file written again after it was ingested is a new version of it (see
ingest.files), not a second partial.

A file stays open for writing as long as it wants; one written-to and then silent for
`incomplete_after_s` without a close (a writer that hung) goes through the settle rule after all.

Confinement: every path is ingested relative to the watched root (`Ingestor.ingest_file(root=...)`),
which refuses links, `..` and anything outside the root and quarantines them by name, never reading
them. Links are refused even when they point inside the root (their target is ingested itself).
Restarts rescan the folder; the ingest's (identity, content) claim makes that safe (no second event).

OME-Zarr plate folders (`*.zarr`) are not walked file by file: each of their fields is one unit,
ingested once it is complete (metadata and every chunk it implies, see zarr_fields) and its files
unchanged for `settle_seconds`. A field that stays incomplete and unchanged for `incomplete_after_s`
(a chunk the microscope never wrote) is quarantined, naming the plate folder, the field and what it
lacks; the rest of the plate goes on. A field already ingested is not looked at again. With
notifications a plate is looked at only while something under it changed or a field is pending.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labstream.core.errors import InputError
from labstream.ingest.detect import is_sidecar, is_temporary
from labstream.ingest.files import Ingestor, IngestResult
from labstream.ingest.notify import ARRIVED, CLOSED, GONE, TREE, Change, Notifier
from labstream.ingest.open_files import open_for_writing
from labstream.ingest.watch_stats import WatchStats
from labstream.ingest.zarr_fields import is_zarr_root
from labstream.ingest.zarr_watch import PlateScanner

log = logging.getLogger(__name__)

MODES = ("auto", "notify", "poll")
_IDLE_WAKE_S = 1.0  # with nothing pending, wake this often only to see `stop`


@dataclass
class _Seen:
    sig: tuple[int, int]  # (size, mtime_ns) when last looked at
    since: float  # when it last changed
    done: bool = False
    writing: bool = False  # a writer has it open (notifications): wait for its close


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
        mode: str = "auto",
    ) -> None:
        """`mode`: "notify" (OS notifications, settle rule as the fallback), "poll" (rescan every
        `poll_interval`; network mounts) or "auto" (notify, else poll where the OS refuses)."""
        if mode not in MODES:
            raise ValueError(f"watch mode {mode!r} is not one of {', '.join(MODES)}")
        self.folder = Path(folder)
        self.root = Path(os.path.realpath(folder))
        self.mode = mode
        self.incomplete_after_s = incomplete_after_s
        self.plates = PlateScanner(self.root, ingestor, settle_seconds, incomplete_after_s)
        self._active_plates: set[Path] = set()
        self.ingestor = ingestor
        self.settle_seconds = settle_seconds
        self.poll_interval = poll_interval
        self.recursive = recursive
        self.on_result = on_result
        self.stats = WatchStats()
        self._seen: dict[Path, _Seen] = {}
        self._waiting: set[Path] = set()  # seen, not done: the only files a notify tick looks at
        self.notifier: Notifier | None = None

    # -- finding files -----------------------------------------------------------------------------

    def _walk(self, top: Path | None = None) -> tuple[list[Path], list[Path], list[Path]]:
        """(plain files, OME-Zarr plate folders, links) under `top` (default the root); hidden folders
        are skipped, plate folders and links are not descended into."""
        files: list[Path] = []
        plates: list[Path] = []
        links: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(top or self.root):
            here = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                if d.startswith("."):
                    continue
                if (here / d).is_symlink():
                    links.append(here / d)
                elif is_zarr_root(here / d):
                    plates.append(here / d)
                elif self.recursive:
                    keep.append(d)
            dirnames[:] = keep
            files += [here / n for n in filenames if self._wanted(here / n)]
        return sorted(files), sorted(plates), sorted(links)

    @staticmethod
    def _wanted(path: Path) -> bool:
        return not (is_temporary(path) or is_sidecar(path))

    def _candidates(self) -> list[Path]:
        return self._walk()[0]

    # -- the settle rule ---------------------------------------------------------------------------

    def _lstat(self, path: Path) -> os.stat_result | None:
        """The file's own stat (a link is not followed); None, and forgotten, once it is gone."""
        try:
            return os.lstat(path)
        except FileNotFoundError:
            self._forget(path)
            return None

    def _observe(self, path: Path, now: float, *, writing: bool = False) -> list[IngestResult]:
        """Note a file's current state; a link is refused (quarantined) at once."""
        st = self._lstat(path)
        if st is None:
            return []
        sig = (st.st_size, st.st_mtime_ns)
        seen = self._seen.get(path)
        if stat.S_ISLNK(st.st_mode):
            if seen is not None and seen.done and seen.sig == sig:
                return []
            self._seen[path] = seen = _Seen(sig, now)
            return [self._ingest(path, seen)]
        if not stat.S_ISREG(st.st_mode):  # a named pipe, socket or device: never read, said once
            if stat.S_ISDIR(st.st_mode) or (seen is not None and seen.done):
                return []
            self._seen[path] = _Seen(sig, now, done=True)
            err = InputError(
                str(path),
                "not a regular file (a named pipe, socket or device): not read",
                hint="instruments write regular files; remove it from the watched folder",
            )
            result = self.ingestor.quarantine_source(err)
            self._record(result)
            return [result]
        if seen is None or seen.sig != sig:
            self._seen[path] = _Seen(sig, now, writing=writing)
            self._waiting.add(path)
        elif writing and not seen.done:
            seen.writing = True
        return []

    def _due(self, now: float) -> list[IngestResult]:
        """Ingest every waiting file unchanged for settle_seconds (and not open for writing)."""
        ready = []
        for path in sorted(self._waiting):
            seen = self._seen[path]
            hung = self.incomplete_after_s is not None and now - seen.since >= self.incomplete_after_s
            if (seen.writing and not hung) or now - seen.since < self.settle_seconds:
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                self._forget(path)
                continue
            if (st.st_size, st.st_mtime_ns) != seen.sig:  # changed without a notification
                self._seen[path] = _Seen((st.st_size, st.st_mtime_ns), now)
                continue
            ready.append((path, seen, hung))
        # a writer pausing longer than the settle time still holds the file open (ingest.open_files)
        busy = open_for_writing(p for p, _, hung in ready if not hung)
        results = []
        for path, seen, _hung in ready:
            if path in busy:
                seen.writing = self.notifier is not None and self.notifier.closes  # then wait for the close
                seen.since = now
                continue
            results.append(self._ingest(path, seen))
        return results

    def _ingest(self, path: Path, seen: _Seen) -> IngestResult:
        result = self.ingestor.ingest_file(path, root=self.root)
        seen.done, seen.writing = True, False
        self._waiting.discard(path)
        self._record(result)
        return result

    def _forget(self, path: Path) -> None:
        self._seen.pop(path, None)
        self._waiting.discard(path)

    def scan_once(self, now: float | None = None) -> list[IngestResult]:
        """One full pass: ingest every file (and OME-Zarr field) that has been stable for settle_seconds."""
        now = time.monotonic() if now is None else now
        results = []
        files, plates, links = self._walk()
        for plate in plates:
            results += self._scan_plate(plate, now)
        for path in links + files:
            results += self._observe(path, now)
        return results + self._due(now)

    # -- notifications -----------------------------------------------------------------------------

    def _plate_of(self, path: Path) -> Path | None:
        for parent in [path, *path.parents]:
            if parent == self.root or self.root not in parent.parents:
                return None
            if is_zarr_root(parent):
                return parent
        return None

    def _on_change(self, ch: Change, now: float) -> list[IngestResult]:
        path = ch.path
        try:
            rel = path.relative_to(self.root).parts
        except ValueError:
            return []
        if not rel or any(p.startswith(".") for p in rel[:-1]) or (not self.recursive and len(rel) > 1):
            return []
        plate = self._plate_of(path)
        if plate is not None:
            self._active_plates.add(plate)
            return []
        if ch.kind == GONE:
            for p in [p for p in self._seen if p == path or path in p.parents]:
                self._forget(p)
            return []
        if ch.kind == TREE:
            files, plates, links = self._walk(path) if not path.is_symlink() else ([], [], [path])
            self._active_plates.update(plates)
            return [r for p in links + files for r in self._observe(p, now)]
        if not self._wanted(path):
            return []
        if ch.kind == CLOSED:  # complete once nothing reopens it for settle_seconds
            seen = self._seen.get(path)
            st = self._lstat(path)
            if st is None:
                return []
            sig = (st.st_size, st.st_mtime_ns)
            if seen is not None and seen.done and seen.sig == sig:
                return []  # closed without a change
            if not stat.S_ISREG(st.st_mode):
                return self._observe(path, now)
            self._seen[path] = _Seen(sig, now)
            self._waiting.add(path)
            return []
        closes = self.notifier is not None and self.notifier.closes
        return self._observe(path, now, writing=closes and ch.kind != ARRIVED)

    def _tick(self, now: float) -> list[IngestResult]:
        """One notify-mode step: drain notifications, then what is due."""
        assert self.notifier is not None
        changes, lost = self.notifier.drain()
        if lost:
            log.warning("file notifications were lost under %s: rescanning it once", self.root)
            return self.scan_once(now)
        results = []
        for ch in changes:
            results += self._on_change(ch, now)
        for plate in sorted(self._active_plates):
            results += self._scan_plate(plate, now)
            if self.plates.all_done(plate):
                self._active_plates.discard(plate)
        return results + self._due(now)

    def _start_notifier(self) -> bool:
        if self.mode == "poll":
            return False
        try:
            notifier = Notifier(self.root, recursive=self.recursive)
            notifier.start()
        except (ImportError, OSError) as err:
            if self.mode == "notify":
                raise
            log.warning(
                "no file notifications for %s (%s): polling every %s s", self.root, err, self.poll_interval
            )
            return False
        self.notifier = notifier
        return True

    def _scan_plate(self, plate: Path, now: float) -> list[IngestResult]:
        results = self.plates.scan(plate, now)
        for result in results:
            self._record(result)
        return results

    def _record(self, result: IngestResult) -> None:
        self.stats.record(result)  # bounded: counts, a recent window, a per-layout tally (watch_stats)
        if self.on_result:
            self.on_result(result)

    def run(self, stop: threading.Event, *, until_idle_seconds: float | None = None) -> WatchStats:
        """Watch until `stop` is set (or, with until_idle_seconds, until nothing new came for that long)."""
        notify = self._start_notifier()
        last_activity = time.monotonic()
        try:
            if notify:
                self.scan_once()  # what is there already; the notifier started first, so nothing is missed
            while not stop.is_set():
                if (self._tick if notify else self.scan_once)(time.monotonic()):
                    last_activity = time.monotonic()
                elif until_idle_seconds is not None and time.monotonic() - last_activity > until_idle_seconds:
                    break
                if not notify:
                    stop.wait(self.poll_interval)
                    continue
                busy = self._active_plates or any(not self._seen[p].writing for p in self._waiting)
                wait = self.poll_interval if busy else _IDLE_WAKE_S
                if until_idle_seconds is not None:
                    wait = min(wait, max(self.poll_interval, until_idle_seconds / 4))
                self.notifier.wait(wait)  # type: ignore[union-attr]
        finally:
            if self.notifier is not None:
                self.notifier.stop()
                self.notifier = None
        return self.stats
