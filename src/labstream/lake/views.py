"""Named SQL views over the lake tables, declared by the science modules beside their tables.

A view is created in every `LakeSQL` connection whose tables all exist, so `SELECT * FROM
phenotypic_activity_latest` or `SELECT * FROM cells_annotated` work like tables. Typical uses: the
current rows of a table that keeps every refresh (`latest_view`), a join a reader would otherwise
have to know to write.
"""

from __future__ import annotations

from dataclasses import dataclass

from labstream.core.errors import ConfigError
from labstream.lake.schema import validate_table_name

__all__ = ["LakeView", "latest_view", "register_view", "registered_views"]


@dataclass(frozen=True)
class LakeView:
    name: str
    sql: str  # one SELECT over lake tables (and views registered before it)
    tables: tuple[str, ...]  # the tables it reads: created only where all of them exist
    description: str = ""


_VIEWS: dict[str, LakeView] = {}


def register_view(view: LakeView) -> LakeView:
    """Declare a view (idempotent for an identical one; a different one of the same name is refused)."""
    validate_table_name(view.name)
    old = _VIEWS.get(view.name)
    if old is not None and old != view:
        raise ConfigError(f"view {view.name!r} is already declared differently; pick another name")
    _VIEWS[view.name] = view
    return view


def registered_views() -> list[LakeView]:
    """Every declared view, in declaration order."""
    return list(_VIEWS.values())


def latest_view(table: str, by: tuple[str, ...] = ("project",), description: str = "") -> LakeView:
    """`{table}_latest`: per `by` group, the rows of the newest lineage_id (by _ingested_at)."""
    keys = ", ".join(by)
    same = " AND ".join(f"t.{k} IS NOT DISTINCT FROM n.{k}" for k in (*by, "lineage_id"))
    sql = (
        f"WITH newest AS (SELECT {keys}, arg_max(lineage_id, _ingested_at) AS lineage_id "
        f"FROM {table} GROUP BY {keys}) "
        f"SELECT t.* FROM {table} t SEMI JOIN newest n ON {same}"
    )
    return LakeView(f"{table}_latest", sql, (table,), description or f"current rows of {table}")
