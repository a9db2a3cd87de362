"""Keyed state of gather stages: the members of each group and whether the group has fired."""

from __future__ import annotations

import time
from dataclasses import asdict

import sqlalchemy as sa

from labstream.catalog.connection import CatalogConnection
from labstream.catalog.models import GroupStateRow
from labstream.catalog.records import GroupMember


class GroupStateStore(CatalogConnection):
    """Group members, first-wins firing and stale-group lookup for watermarks."""

    def add_member(self, stage: str, group_key: str, member_id: str, event_json: str | bytes) -> bool:
        """Remember one member of a group; False if it was already there (a redelivery)."""
        if isinstance(event_json, bytes):
            event_json = event_json.decode()
        member = GroupMember(stage, group_key, member_id, event_json, fired=False, created_at=time.time())
        with self._tx(write=True) as conn:  # the row is the record `members` reads back
            return self._inserted(conn, GroupStateRow, asdict(member))

    def members(self, stage: str, group_key: str) -> list[GroupMember]:
        q = (
            sa.select(GroupStateRow.__table__)
            .where(GroupStateRow.stage == stage, GroupStateRow.group_key == group_key)
            .order_by(GroupStateRow.id)
        )
        with self._tx() as conn:
            rows = conn.execute(q).all()
        return [GroupMember(**{k: v for k, v in r._mapping.items() if k != "id"}) for r in rows]

    def mark_fired(self, stage: str, group_key: str) -> bool:
        """Mark the group's members fired; True for exactly one caller per set of unfired members."""
        q = (
            sa.update(GroupStateRow)
            .where(
                GroupStateRow.stage == stage,
                GroupStateRow.group_key == group_key,
                GroupStateRow.fired.is_(False),
            )
            .values(fired=True)
        )
        with self._tx(write=True) as conn:
            return bool(conn.execute(q).rowcount > 0)

    def stale_groups(self, stage: str, before: float) -> list[str]:
        """Keys of the stage's groups with no member fired whose first member was stored before
        `before` (a time.time()): what a gather watermark fires partially."""
        q = (
            sa.select(GroupStateRow.group_key)
            .where(GroupStateRow.stage == stage)
            .group_by(GroupStateRow.group_key)
            .having(
                sa.func.max(sa.case((GroupStateRow.fired.is_(True), 1), else_=0)) == 0,
                sa.func.min(GroupStateRow.created_at) < before,
            )
            .order_by(sa.func.min(GroupStateRow.created_at))
        )
        with self._tx() as conn:
            return [str(r[0]) for r in conn.execute(q).all()]

    def is_fired(self, stage: str, group_key: str) -> bool:
        """True when the group has members and all of them have fired."""
        ms = self.members(stage, group_key)
        return bool(ms) and all(m.fired for m in ms)

    def clear_group(self, stage: str, group_key: str) -> int:
        with self._tx(write=True) as conn:
            return int(
                conn.execute(
                    sa.delete(GroupStateRow).where(
                        GroupStateRow.stage == stage, GroupStateRow.group_key == group_key
                    )
                ).rowcount
            )
