"""Storage tiers on the local object store (file://): tier roots and a simulated restore delay, so a
lab without S3 runs the same lifecycle policies and sees the same archived-object behaviour.

Layout under the store root:
    <path>                              a hot or cool object (cool is readable, as S3 Standard-IA)
    .tiers/<archive|deep_archive>/<path>  an archived object: moved out of its path, so it cannot be read
    .tiers/index/<path>.json            its tier, when it entered it, its first creation, its restore

A restore is ready `LABSTREAM_RESTORE_DELAY_S` seconds after it was asked (default: the hours S3's
Standard retrieval takes, `RESTORE_HOURS`); the first read or stat after that puts a copy back at the
object's path, readable for the restore's days, and removes it when they are over. Why a delay at all:
the platform's answer to a read before the restore is ready ("archived, ready in about N") is part of
what a lab must be able to test without a cloud account.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labstream.core.errors import ConfigError
from labstream.objects.tiers import (
    ARCHIVE_TIERS,
    RESTORE_HOURS,
    S3_CLASS,
    TIERS,
    ObjectArchived,
    RestoreState,
    StoredObject,
)

__all__ = ["DELAY_ENV", "TIERS_DIR", "LocalTiers"]

TIERS_DIR = ".tiers"
DELAY_ENV = "LABSTREAM_RESTORE_DELAY_S"


class LocalTiers:
    """The tier operations of S3Tiers on a local FsspecStore (see the module docstring)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.root = Path(store.root)
        self.base = self.root / TIERS_DIR

    def _rel(self, uri: str) -> str:
        return str(self.store.path_of(uri))[len(str(self.root)) + 1 :]

    def _index_path(self, rel: str) -> Path:
        return self.base / "index" / f"{rel}.json"

    def _index(self, rel: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self._index_path(rel).read_text()))
        except FileNotFoundError:
            return {}

    def _save(self, rel: str, idx: dict[str, Any]) -> None:
        path = self._index_path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(idx))
        os.replace(tmp, path)

    def _delay(self, tier: str) -> float:
        raw = os.environ.get(DELAY_ENV, "")
        try:
            return float(raw) if raw else RESTORE_HOURS.get(tier, 5.0) * 3600.0
        except ValueError:
            raise ConfigError(f"{DELAY_ENV}={raw!r} is not a number of seconds; set e.g. 2") from None

    def stat(self, uri: str, *, tags: bool = True) -> StoredObject:
        from labstream.objects.errors import ObjectNotFound

        rel = self._rel(uri)
        idx = self._index(rel)
        tier = str(idx.get("tier", "hot"))
        here = self.root / rel
        held = self.base / tier / rel if tier in ARCHIVE_TIERS else here
        if not held.is_file():
            raise ObjectNotFound(uri)
        since = float(idx.get("tier_since", held.stat().st_mtime))
        state = self._restore_state(rel, idx, held)
        return StoredObject(
            uri=uri,
            size=held.stat().st_size,
            tier=tier,
            tier_since=since,
            created=float(idx.get("created", since)),
            tags=dict(idx.get("tags", {})) if tags else {},
            restore=state,
        )

    def _restore_state(self, rel: str, idx: dict[str, Any], held: Path) -> RestoreState:
        ready = idx.get("restore_ready_at")
        if ready is None:
            return RestoreState()
        now = time.time()
        until = float(ready) + float(idx.get("restore_days", 7)) * 86400.0
        here = self.root / rel
        if now < float(ready):
            return RestoreState(ongoing=True)
        if now >= until:  # the restored copy's days are over: the object is archived again
            here.unlink(missing_ok=True)
            idx.pop("restore_ready_at", None)
            self._save(rel, idx)
            return RestoreState()
        if not here.exists():
            tmp = here.with_name(f".{here.name}.restore-tmp")
            here.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(held, tmp)
            os.replace(tmp, here)
        return RestoreState(readable_until=until)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        seen: set[str] = set()
        roots = [self.root] + [self.base / t for t in TIERS if t in ARCHIVE_TIERS]
        for top in roots:
            start = top / prefix.lstrip("/") if prefix and top == self.root else top
            for dirpath, dirs, files in os.walk(top):
                if top == self.root:
                    dirs[:] = [d for d in dirs if d != TIERS_DIR]
                for name in sorted(files):
                    full = Path(dirpath) / name
                    if name.startswith(".") or not str(full).startswith(str(start)):
                        continue
                    rel = str(full)[len(str(top)) + 1 :]
                    if rel in seen or (
                        top != self.root and prefix and not rel.startswith(prefix.lstrip("/"))
                    ):
                        continue
                    seen.add(rel)
                    yield self.stat(self.store.uri(str(self.root / rel)))

    def transition(self, uri: str, tier: str) -> StoredObject:
        if tier not in S3_CLASS:
            raise ConfigError(f"unknown storage tier {tier!r}; use one of {', '.join(TIERS)}")
        now = self.stat(uri)
        rel = self._rel(uri)
        idx = self._index(rel)
        src = self.base / now.tier / rel if now.tier in ARCHIVE_TIERS else self.root / rel
        if tier in ARCHIVE_TIERS and src != self.base / tier / rel:
            dst = self.base / tier / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            (self.root / rel).unlink(missing_ok=True)  # a restored copy goes with it
            idx.pop("restore_ready_at", None)
        idx.update(tier=tier, tier_since=time.time(), created=now.created)
        self._save(rel, idx)
        return self.stat(uri)

    def restore(self, uri: str, *, days: int = 7, speed: str = "Standard") -> RestoreState:
        obj = self.stat(uri)
        if obj.tier not in ARCHIVE_TIERS or obj.restore.ongoing or obj.restore.readable:
            return obj.restore
        rel = self._rel(uri)
        idx = self._index(rel)
        idx.update(restore_ready_at=time.time() + self._delay(obj.tier), restore_days=int(days))
        self._save(rel, idx)
        st = self.stat(uri).restore
        return RestoreState(st.ongoing, st.readable_until, requested_now=True)

    def expire(self, uri: str) -> None:
        rel = self._rel(uri)
        for path in [self.root / rel, self._index_path(rel)] + [self.base / t / rel for t in ARCHIVE_TIERS]:
            path.unlink(missing_ok=True)

    def archived_error(self, uri: str) -> ObjectArchived | None:
        """After a read found nothing at the object's path: ObjectArchived (asking for the restore if
        none is under way), or None when the object is not archived or its restore is now readable."""
        from labstream.objects.errors import ObjectNotFound

        try:
            obj = self.stat(uri, tags=False)
        except ObjectNotFound:
            return None
        if obj.tier not in ARCHIVE_TIERS or obj.restore.readable:
            return None
        state = obj.restore if obj.restore.ongoing else self.restore(uri)
        if state.readable:
            return None
        ready = float(self._index(self._rel(uri)).get("restore_ready_at", time.time()))
        return ObjectArchived(uri, obj.tier, state, ready_in_s=max(0.0, ready - time.time()))
