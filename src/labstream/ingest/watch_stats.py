"""What a watcher has ingested so far, in memory bounded for a watch that runs for weeks.

A lab's `labstream watch` runs for a month and ingests hundreds of thousands of files; keeping every
`IngestResult` (path, event and its data) grew the process by ~1 KB a file for its whole life. The
stats keep what is read of them instead: the counts per outcome, the last `RECENT` results (a live view,
a test's look at what just landed) and, per layout, how many files and the first `NAMES_KEPT` names
(what `labstream watch`'s end-of-run note about files its pipeline does not read shows). Layouts are a
fixed, small set (labstream.layouts), so the per-layout tally is bounded too.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from labstream.ingest.files import IngestResult

__all__ = ["NAMES_KEPT", "RECENT", "LayoutSeen", "WatchStats"]

RECENT = 1000  # results kept for a live view
NAMES_KEPT = 3  # file names kept per layout (the end-of-run note names at most this many)


@dataclass
class LayoutSeen:
    """Files of one layout ingested: how many, and the names of the first few."""

    count: int = 0
    names: list[str] = field(default_factory=list)


@dataclass
class WatchStats:
    published: int = 0
    duplicate: int = 0
    quarantined: int = 0
    recent: deque[IngestResult] = field(default_factory=lambda: deque(maxlen=RECENT))
    layouts: dict[str, LayoutSeen] = field(default_factory=dict)

    def record(self, result: IngestResult) -> None:
        """Count one result (any outcome); a result with an event is tallied under its layout."""
        if result.status == "published":
            self.published += 1
        elif result.status == "duplicate":
            self.duplicate += 1
        else:
            self.quarantined += 1  # the ingestor has logged the named error
        self.recent.append(result)
        layout = result.event.data.get("layout") if result.event is not None else None
        if layout:
            seen = self.layouts.setdefault(str(layout), LayoutSeen())
            seen.count += 1
            if len(seen.names) < NAMES_KEPT:
                seen.names.append(Path(result.path).name)
