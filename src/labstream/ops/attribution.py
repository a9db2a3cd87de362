"""Who ran a task and with which labels: cost per user and per tag, from the runs submitted through
the API or WES (governance `gov_runs`: the submitting user, the run's `tags`).

A submitted run records the lineage ids of its tasks (`outputs.lineage_ids`); the ingest tasks of its
inputs are their parents. Those tasks are the run's, and carry its user and tags. A task no submitted
run claims (a watched folder's) belongs to user "" and has no tags: it stays in the roll-up, in the
'' row, so each roll-up sums to the whole bill (nothing unattributed, nothing counted twice).

Tags follow OpenCost's labels: `--by tag` gives one row per (tag, value) and, for each tag, a task
without it counts under value ''; so the rows of any one tag sum to the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from labstream.core.settings import Settings

__all__ = ["Owner", "run_owners", "with_owners"]

Owner = tuple[str, Mapping[str, str]]  # (user, tags)


def run_owners(settings: Settings) -> dict[str, Owner]:
    """lineage id -> (user, tags) of the submitted run that ran the task."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from labstream.catalog import open_catalog
    from labstream.governance.models import RunRow
    from labstream.ops._db import catalog_engine, has_table

    engine = catalog_engine(settings.catalog_url)
    if not has_table(engine, RunRow.__tablename__):
        return {}
    with Session(engine) as s:
        runs = list(s.scalars(select(RunRow)))
    owners: dict[str, Owner] = {}
    claimed: dict[str, Owner] = {}
    for run in sorted(runs, key=lambda r: r.created_at):
        owner = (run.user, {str(k): str(v) for k, v in dict(run.tags or {}).items()})
        for lid in (run.outputs or {}).get("lineage_ids", []):
            claimed.setdefault(str(lid), owner)
    if not claimed:
        return {}
    with open_catalog(settings.catalog_url).upgrade() as cat:
        tasks = cat.get_lineage_many(sorted(claimed))
    for lid, owner in claimed.items():
        owners.setdefault(lid, owner)
        rec = tasks.get(lid)
        for parent in rec.parent_ids if rec else ():
            if parent.startswith("ingest-"):  # the run's inputs
                owners.setdefault(parent, owner)
    return owners


def with_owners(costs: pa.Table, owners: Mapping[str, Owner], by: str) -> pa.Table:
    """`costs` with a `user` column (by="user"), or exploded to one row per task and tag with `tag`
    and `value` columns (by="tag"); a table without tags keeps one row per task under tag ''."""
    ids = costs["lineage_id"].to_pylist()
    if by == "user":
        return costs.append_column("user", pa.array([owners.get(i, ("", {}))[0] for i in ids], pa.string()))
    names = sorted({k for _, tags in owners.values() for k in tags}) or [""]
    parts = []
    for name in names:
        values: list[Any] = [dict(owners.get(i, ("", {}))[1]).get(name, "") if name else "" for i in ids]
        part = costs.append_column("tag", pa.array([name] * len(ids), pa.string()))
        parts.append(part.append_column("value", pa.array(values, pa.string())))
    return pa.concat_tables(parts)
