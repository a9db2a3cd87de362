"""Gather stages: keyed state in the catalog so a stage fires once when a group is complete.

Each arriving member is stored in the catalog's `group_state` (stage, group key, member id, event), so
a group survives restarts and redeliveries (adding a member twice is a no-op). The record that brings
the group to its expected size makes it fire: the task runs on all member events and is attributed to
that record's offset, so the Delta transaction of the commit covers it on a replay. After the commit
publishes, the group is marked fired; members arriving later (late or duplicated) do not fire it again.
"""

from __future__ import annotations

from labstream.catalog import Catalog
from labstream.core.errors import InputError
from labstream.core.events import Event
from labstream.runtime.dlq import record_source
from labstream.runtime.stage import Stage
from labstream.stream.base import Record


def collect_group(
    catalog: Catalog, stage: Stage, event: Event, rec: Record, fired_in_batch: set[str]
) -> tuple[str, list[Event]] | None:
    """Store `event` as a member; return (group key, member events) when its group fires now."""
    spec = stage.gather
    assert spec is not None
    try:
        key = str(spec.group_key(event))
        member = str(spec.member_id(event))
        expected = int(spec.expected(event))
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(
            record_source(rec),
            f"event {event.id} lacks what gather stage {stage.name!r} "
            f"groups by ({type(err).__name__}: {err})",
            record=event.id,
        ) from err
    catalog.add_member(stage.name, key, member, event.to_json())
    if key in fired_in_batch:
        return None
    members = catalog.members(stage.name, key)
    if any(m.fired for m in members) or len(members) < expected:
        return None
    fired_in_batch.add(key)
    events = [
        Event.from_json(m.event_json, source=f"group_state {stage.name}/{key}/{m.member_id}")
        for m in sorted(members, key=lambda m: m.member_id)
    ]
    return key, events
