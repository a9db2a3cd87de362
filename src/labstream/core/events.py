"""Events: small, typed, JSON on the wire. Big payloads stay in the object store (claim check)."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from labstream.core.errors import InputError
from labstream.core.identifiers import check_identifier, check_key, check_sha256

# Bounds on what a decoded event may hold: events are small by design (claim checks carry the payload),
# so anything bigger is a bug or an attack, refused before it can fill a lake row or a worker's memory.
MAX_EVENT_BYTES = 1 << 20
MAX_REFS = 1000
MAX_PARENTS = 1000
MAX_URI = 2048


@dataclass(frozen=True)
class ObjectRef:
    """A claim check: where a payload lives and what it must hash to."""

    uri: str
    sha256: str
    size: int = 0
    media_type: str = "application/octet-stream"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectRef:
        return cls(
            uri=str(d["uri"]),
            sha256=str(d["sha256"]),
            size=int(d.get("size", 0)),
            media_type=str(d.get("media_type", "application/octet-stream")),
        )


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Event:
    """One fact on a topic.

    `type` names what happened (`file.landed`, `site.features`, ...); `key` orders events of one entity
    (a plate, a sample) within a partition; `refs` are the claim checks of the payload; `data` holds small
    typed fields; `parents` are the lineage ids of the tasks that produced it.
    """

    type: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)
    refs: tuple[ObjectRef, ...] = ()
    parents: tuple[str, ...] = ()
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)
    project: str = "default"

    def to_json(self) -> bytes:
        d = {
            "id": self.id,
            "type": self.type,
            "key": self.key,
            "data": self.data,
            "refs": [r.to_dict() for r in self.refs],
            "parents": list(self.parents),
            "created_at": self.created_at,
            "project": self.project,
        }
        return json.dumps(d, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str, *, source: str = "stream") -> Event:
        """Decode an event; anything malformed or out of bounds raises InputError naming the source.

        This is where events from other clients enter, so ids, types, keys, claim checks and sizes are
        checked here (see `_checked`) and a stage never sees an event it cannot trust the shape of."""
        if isinstance(raw, (bytes, str)) and len(raw) > MAX_EVENT_BYTES:
            raise InputError(
                source,
                f"event {_peek_id(raw)}of {len(raw)} bytes is over the {MAX_EVENT_BYTES}-byte limit",
                hint="put big payloads in the object store and send a claim check; it was dead-lettered",
            )
        try:
            d = json.loads(raw)
            if not isinstance(d, dict):
                raise ValueError("not a JSON object")
            return _checked(
                cls(
                    id=str(d["id"]),
                    type=str(d["type"]),
                    key=str(d["key"]),
                    data=dict(d.get("data") or {}),
                    refs=tuple(ObjectRef.from_dict(r) for r in _bounded(d.get("refs"), MAX_REFS, "refs")),
                    parents=tuple(str(p) for p in _bounded(d.get("parents"), MAX_PARENTS, "parents")),
                    created_at=float(d.get("created_at", 0.0)),
                    project=str(d.get("project", "default")),
                ),
                source,
            )
        except InputError as err:
            hint = f"{err.hint}; it was sent to the dead-letter topic".lstrip("; ")
            raise InputError(source, f"invalid event: {err.problem}", hint=hint) from err
        except (ValueError, KeyError, TypeError, RecursionError) as err:
            preview = raw[:80] if isinstance(raw, (bytes, str)) else repr(raw)[:80]
            raise InputError(
                source,
                f"malformed event ({err.__class__.__name__}: {err}); starts {preview!r}",
                hint="it was sent to the dead-letter topic",
            ) from err

    def with_data(self, **kw: Any) -> Event:
        return Event(
            type=self.type,
            key=self.key,
            data={**self.data, **kw},
            refs=self.refs,
            parents=self.parents,
            id=self.id,
            created_at=self.created_at,
            project=self.project,
        )


def _bounded(value: Any, limit: int, what: str) -> list[Any]:
    items = list(value or ())
    if len(items) > limit:
        raise ValueError(f"{len(items)} {what}, over the limit of {limit}")
    return items


def _checked(ev: Event, source: str) -> Event:
    """Check the fields of a decoded event; raise InputError naming the first bad one."""
    check_identifier(ev.id, what="event id", source=source)
    check_identifier(ev.type, what="event type", source=source)
    check_identifier(ev.project, what="project", source=source)
    check_key(ev.key, what="event key", source=source)
    for p in ev.parents:
        check_identifier(p, what="parent id", source=source)
    for r in ev.refs:
        check_sha256(r.sha256, source=source)
        if not r.uri or len(r.uri) > MAX_URI or r.size < 0:
            raise InputError(source, f"claim check {r.uri[:80]!r} has a bad URI or size")
    return ev


_PEEK_ID = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9._:-]{1,128})"')


def _peek_id(raw: bytes | str) -> str:
    """The id of an event too big to decode, for the error: looked for in its last and first 4 KB (keys
    are written sorted, so `id` follows the big `data`), else ''."""
    data = raw.encode() if isinstance(raw, str) else raw
    for part in (data[-4096:], data[:4096]):
        m = _PEEK_ID.search(part)
        if m:
            return f"{m.group(1).decode()} "
    return ""
