"""Watch a folder and ingest each file once it is complete.

Complete means: not a temporary name (instruments that write `x.tmp` then rename are picked up at the
rename), and its size and mtime unchanged for `settle_seconds`. Polling rather than inotify because
it also works on network mounts and object-store fuse mounts where instruments usually write.
Restarts rescan the folder; the ingest's content-hash claim makes that safe (no second event).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labstream.ingest.detect import is_temporary
from labstream.ingest.files import Ingestor, IngestResult

log = logging.getLogger(__name__)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
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
    ) -> None:
        self.folder = Path(folder)
        self.ingestor = ingestor
        self.settle_seconds = settle_seconds
        self.poll_interval = poll_interval
        self.recursive = recursive
        self.on_result = on_result
        self.stats = WatchStats()
        self._seen: dict[Path, _Seen] = {}

    def _candidates(self) -> list[Path]:
        it = self.folder.rglob("*") if self.recursive else self.folder.glob("*")
        out = []
        for p in it:
            if is_temporary(p) or any(part.startswith(".") for part in p.relative_to(self.folder).parts):
                continue
            try:
                if p.is_file():
                    out.append(p)
            except OSError:
                continue
        return sorted(out)

    def scan_once(self, now: float | None = None) -> list[IngestResult]:
        """One pass: ingest every file that has been stable for settle_seconds."""
        now = time.monotonic() if now is None else now
        results = []
        for path in self._candidates():
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
