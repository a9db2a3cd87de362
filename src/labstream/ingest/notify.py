"""OS file notifications for the watcher, through `watchdog`: what changed, and when a writer closed.

Why: a watcher that rescans a folder of 20,000 files every 0.1 s burns most of a core doing nothing,
and a size/mtime "settle" rule cannot tell a finished file from a writer pausing longer than the
settle time. The kernel can: on Linux inotify's IN_CLOSE_WRITE (watchdog's FileClosedEvent) says a
writer closed the file. `Notifier` turns watchdog's callbacks (on its own thread) into a drained set
of `Change`s and wakes the watcher; the watcher does the rest on its thread.

`closes` says whether this platform's observer reports closes (inotify does; FSEvents, kqueue and
Windows do not): without it every change goes through the settle rule, still without rescans.
Overflow (the kernel dropped events) is reported so the watcher can rescan once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITTEN = "written"  # created or modified: a writer is (or was) at work
CLOSED = "closed"  # a writer closed it: complete, as far as that writer is concerned
ARRIVED = "arrived"  # renamed into place: complete unless something writes it again
GONE = "gone"  # deleted or renamed away
TREE = "tree"  # a folder appeared or was moved in: look inside it


@dataclass(frozen=True)
class Change:
    path: Path
    kind: str


class Notifier:
    """Collects watchdog events under `root` until `drain()`; `wait()` sleeps until one arrives."""

    def __init__(self, root: Path, *, recursive: bool = True) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        self.root = root
        self._lock = threading.Lock()
        self._pending: dict[Path, str] = {}
        self._overflow = False
        self._wake = threading.Event()
        notifier = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                notifier._on_event(event)

        self.observer = Observer()
        self.closes = type(self.observer).__name__ == "InotifyObserver"
        self.observer.schedule(_Handler(), str(root), recursive=recursive)

    def start(self) -> None:
        """Start watching (raises OSError when the OS refuses, e.g. inotify's watch limit)."""
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)

    def _on_event(self, event: Any) -> None:
        kind = event.event_type
        is_dir = bool(event.is_directory)
        changes: list[tuple[str, str]] = []
        if kind == "events_lost":
            with self._lock:
                self._overflow = True
            self._wake.set()
            return
        if kind == "moved":
            changes.append((event.src_path, GONE))
            changes.append((event.dest_path, TREE if is_dir else ARRIVED))
        elif is_dir:
            if kind == "created":
                changes.append((event.src_path, TREE))
            elif kind == "deleted":
                changes.append((event.src_path, GONE))
            else:
                return  # a folder's own mtime or attributes: its files report themselves
        elif kind in ("created", "modified"):
            changes.append((event.src_path, WRITTEN))
        elif kind == "closed":
            changes.append((event.src_path, CLOSED))
        elif kind == "deleted":
            changes.append((event.src_path, GONE))
        else:
            return  # opened, closed_no_write (our own reads), attrib
        with self._lock:
            for path, what in changes:
                self._pending[Path(path if isinstance(path, str) else path.decode())] = what
        self._wake.set()

    def drain(self) -> tuple[list[Change], bool]:
        """(changes since the last drain in arrival order, whether events were lost meanwhile)."""
        with self._lock:
            changes = [Change(p, k) for p, k in self._pending.items()]
            lost = self._overflow
            self._pending.clear()
            self._overflow = False
            self._wake.clear()
        return changes, lost

    def wait(self, timeout: float) -> bool:
        """Sleep until an event arrives or `timeout` seconds pass; True when one arrived."""
        return self._wake.wait(timeout)


__all__ = ["ARRIVED", "CLOSED", "GONE", "TREE", "WRITTEN", "Change", "Notifier"]
