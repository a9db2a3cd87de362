"""Gather stages: keyed state in the catalog so a stage fires once when a group is complete.

Each arriving member is stored in the catalog's `group_state` (stage, group key, member id, event), so
a group survives restarts and redeliveries (adding a member twice is a no-op). The record that brings
the group to its expected size makes it fire: the task runs on all member events and is attributed to
that record's offset, so the Delta transaction of the commit covers it on a replay. After the commit
publishes, the group is marked fired; members arriving later (late or duplicated) do not fire it again.

Watermark (GatherSpec.timeout_s): `expired_groups` finds groups with no fired member whose first member
was stored more than `timeout_s` ago; the worker fires them with what they have, even when no record
arrives. Such a task has no record of its own to carry its Delta transaction, so it gets one app id per
group (`watermark_app_id`): a replay after a crash between the lake commit and the lineage record adds
no rows.
"""

from __future__ import annotations

from labstream.catalog import CatalogStore
from labstream.core.errors import InputError
from labstream.core.events import Event
from labstream.runtime.dlq import record_source
from labstream.runtime.stage import GatherSpec, Stage
from labstream.stream.base import Record


def collect_group(
    catalog: CatalogStore, stage: Stage, event: Event, rec: Record, fired_in_batch: set[str]
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
    if any(m.fired for m in members) or len(members) < max(expected, 1):
        return None
    events = [
        Event.from_json(m.event_json, source=f"group_state {stage.name}/{key}/{m.member_id}")
        for m in sorted(members, key=lambda m: m.member_id)
    ]
    if len(members) < _group_size(spec, events, expected):
        return None
    fired_in_batch.add(key)
    return key, events


def _group_size(spec: GatherSpec, events: list[Event], stated: int) -> int:
    """The largest size any member states (0 from all: not known yet, so the group waits)."""
    sizes = [stated]
    for e in events:
        try:
            sizes.append(int(spec.expected(e)))
        except (KeyError, TypeError, ValueError):
            continue
    return max(sizes) or 1 << 62


def watermark_app_id(stage: Stage, key: str) -> str:
    """The Delta application-transaction id of a group fired on its watermark."""
    return f"{stage.name}:watermark:{key}"


def expired_groups(
    catalog: CatalogStore, stage: Stage, now: float, *, all_open: bool = False
) -> list[tuple[str, list[Event], bool]]:
    """(group key, member events, partial) of every group whose watermark has passed at `now`; with
    `all_open`, of every group not fired yet (the input is known to be complete: end of a batch run)."""
    spec = stage.gather
    if spec is None or (spec.timeout_s is None and not all_open):
        return []
    before = float("inf") if all_open else now - float(spec.timeout_s or 0.0)
    out: list[tuple[str, list[Event], bool]] = []
    for key in catalog.stale_groups(stage.name, min(before, 1e300)):
        members = catalog.members(stage.name, key)
        if not members or any(m.fired for m in members):
            continue
        events = [
            Event.from_json(m.event_json, source=f"group_state {stage.name}/{key}/{m.member_id}")
            for m in sorted(members, key=lambda m: m.member_id)
        ]
        partial = len(events) < _group_size(spec, events, 0)
        out.append((key, events, partial))
    return out
