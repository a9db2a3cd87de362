"""Events: small, typed, JSON on the wire. Big payloads stay in the object store (claim check)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from labstream.core.errors import InputError


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
        """Decode an event; anything malformed raises InputError naming the source (for the DLQ)."""
        try:
            d = json.loads(raw)
            if not isinstance(d, dict):
                raise ValueError("not a JSON object")
            return cls(
                id=str(d["id"]),
                type=str(d["type"]),
                key=str(d["key"]),
                data=dict(d.get("data") or {}),
                refs=tuple(ObjectRef.from_dict(r) for r in d.get("refs") or ()),
                parents=tuple(str(p) for p in d.get("parents") or ()),
                created_at=float(d.get("created_at", 0.0)),
                project=str(d.get("project", "default")),
            )
        except (ValueError, KeyError, TypeError) as err:
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
