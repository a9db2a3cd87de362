"""Keeps the `costs` and `turnaround` lake tables in step with the lineage, and reads them back.

    refresh(settings)            -> {"costs": rows added, "turnaround": rows added}
    costs_table(settings)        -> every cost row (pyarrow), after a refresh
    turnaround_table(settings)   -> the current clock rows (latest per project, key, milestone)

Why rows in the lake and not a query over the catalog: the lake is where scientists and finance
query with SQL, next to the results, and a cost row, once written, keeps the price book that priced
it even after the book changes. A task is priced once (its lineage id is its row's `lineage_id`), so
refreshing twice, or from two processes in turn, adds nothing the second time.

A refresh reads only the lineage written since the last one (catalog revision 0008's write order, a
watermark committed with the cost rows; see `_Fold.batch`): `watch` refreshes every 5 s for weeks,
and a tick that re-read the whole lineage grew with the lab's history (0.6 s a tick at 10,000 tasks).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from labstream.catalog.base import CatalogStore
from labstream.catalog.records import LineageRecord
from labstream.core.settings import Settings
from labstream.lake.base import LakeTables
from labstream.ops._db import release
from labstream.ops._pipelines import StagePipelines, milestones
from labstream.ops.budget import month_start
from labstream.ops.clinical import after_pipeline, received_at
from labstream.ops.cost import site_cost_rows
from labstream.ops.maintenance import MAINTAIN_INTERVAL_S, maintain
from labstream.ops.pricebook import PriceBook, load_price_book
from labstream.ops.storage import object_keys
from labstream.ops.tables import COSTS, TURNAROUND
from labstream.ops.turnaround import clock_rows

__all__ = [
    "REFRESH_INTERVAL_S",
    "LineageCursor",
    "alert_costs",
    "costs_table",
    "refresh",
    "refresh_forever",
    "turnaround_table",
]

log = logging.getLogger(__name__)
REFRESH_INTERVAL_S = 5.0
COSTS_TXN = "labstream.ops.costs"  # Delta application id of the costs table's writers
# ... and the lineage `seq` the costs rows were priced up to (catalog revision 0008), committed with them
LINEAGE_TXN = "labstream.ops.costs.lineage"
LINEAGE_BATCH = 5000  # lineage writes folded per batch: one batch's work is bounded, history or not


def _open(settings: Settings) -> tuple[CatalogStore, LakeTables]:
    from labstream.catalog import open_catalog
    from labstream.lake import open_lake

    return open_catalog(settings.catalog_url).upgrade(), open_lake(settings.lake_url)


@dataclass
class LineageCursor:
    """A refresher's position in the lineage write order (catalog `seq`) between ticks, in memory: the
    durable position is the `costs` table's LINEAGE_TXN, committed with the rows it priced. Kept so
    that a tick whose new lineage priced nothing (only rewrites of priced tasks) is not read again."""

    seq: int | None = None


def refresh(
    settings: Settings,
    *,
    catalog: CatalogStore | None = None,
    lake: LakeTables | None = None,
    book: PriceBook | None = None,
    now: float | None = None,
    cursor: LineageCursor | None = None,
) -> dict[str, int]:
    """Fold in the lineage written since the last refresh: price each finished task not yet in `costs`,
    re-read the clock of each entity with a task written since, or a new signed/delivered time; append
    both. Returns the rows added per table.

    Incremental: it reads the lineage writes past its watermark (`CatalogStore.lineage_changes`, at
    most LINEAGE_BATCH at a time, each batch committed on its own), the whole lineage of the entities
    they touch, and their ingested files; never the whole lineage. The watermark is committed with the
    cost rows it priced (the Delta application transaction LINEAGE_TXN), so a restart resumes after
    the last committed batch: no task priced twice or skipped (see `_fold`)."""
    own = catalog is None
    if catalog is None or lake is None:
        opened = _open(settings)
        catalog, lake = catalog or opened[0], lake or opened[1]
    try:
        lake.ensure_table(COSTS)
        lake.ensure_table(TURNAROUND)
        fold = _Fold(
            catalog,
            lake,
            book or load_price_book(settings.price_book or None),
            settings,
            time.time() if now is None else now,
            cursor if cursor is not None else LineageCursor(),
        )
        after = after_pipeline(settings)  # signed / delivered: they write no lineage of the sample
        moved = _moved(lake, after)
        added = {"costs": 0, "turnaround": 0}
        while True:
            costs, clocks, more = fold.batch(after, moved)
            added["costs"] += costs
            added["turnaround"] += clocks
            moved = set()  # their clocks are in the first batch's rows
            if not more:
                return added
    finally:
        if own:
            catalog.close()


@dataclass
class _Fold:
    catalog: CatalogStore
    lake: LakeTables
    book: PriceBook
    settings: Settings
    stamp: float
    cursor: LineageCursor
    stages: StagePipelines = field(default_factory=StagePipelines)

    def batch(
        self, after: dict[tuple[str, str], list[tuple[str, float]]], moved: set[tuple[str, str]]
    ) -> tuple[int, int, bool]:
        """Fold one batch of lineage writes in: (cost rows, clock rows, more to read).

        Why no task is priced twice or skipped, across restarts and two refreshers:
        1. `done` (COSTS_TXN) is read BEFORE the lineage: a refresher that raced another and lost
           commits nothing (append returns False) and goes back to the durable watermark.
        2. The writes past `start` are read in `seq` order. Writes commit in `seq` order, so a write
           committed later has a greater `seq`: nothing is left behind the watermark.
        3. A record first written after `start` was in no committed batch: it is not priced. One
           written before (a rewrite: a replayed task) may be: its id is looked up in `costs`. A lake
           priced by the refresher before the watermark existed (COSTS_TXN but no LINEAGE_TXN) has
           every id looked up, once.
        4. Clocks are appended before costs: a crash between the two re-reads the batch on restart
           and appends its clocks again (the latest `computed_at` wins; nothing double-counts).
        5. Costs and the new watermark commit in one Delta version."""
        lake, start_mark = self.lake, self.lake.txn_version("costs", LINEAGE_TXN)
        done = lake.txn_version("costs", COSTS_TXN) or 0
        start = max(start_mark or 0, self.cursor.seq or 0)
        legacy = start_mark is None and done > 0
        changes = self.catalog.lineage_changes(start, limit=LINEAGE_BATCH)
        if not changes and not moved:
            return 0, 0, False
        top = changes[-1].seq if changes else start
        seen = [c.record.id for c in changes if legacy or c.first_seq <= start]
        priced = _priced_ids(lake, seen)
        fresh = [c.record for c in changes if c.record.id not in priced]
        costs = site_cost_rows(fresh, self.book, self.settings, self.stages, now=self.stamp)
        clocks = self._clocks([c.record for c in changes], after, moved)
        self.stamp += 1e-3  # a later batch's clock of the same entity is the latest (turnaround_table)
        if clocks.num_rows:
            lake.append("turnaround", clocks)  # a lost commit race is retried by Lake.commit itself
        if not costs.num_rows:
            self.cursor.seq = top  # nothing to commit it with; a restart reads this batch again
        elif lake.append("costs", costs, txn=(COSTS_TXN, done + 1), also={LINEAGE_TXN: top}):
            self.cursor.seq = top
        else:  # another refresher priced them first: go on from its watermark
            costs, self.cursor.seq = costs.slice(0, 0), None
        return costs.num_rows, clocks.num_rows, len(changes) == LINEAGE_BATCH

    def _clocks(
        self,
        changed: list[LineageRecord],
        after: dict[tuple[str, str], list[tuple[str, float]]],
        moved: set[tuple[str, str]],
    ) -> pa.Table:
        """The clock rows of every entity with a changed task or a moved signed/delivered time, from
        that entity's whole lineage (the `key` column) and its ingested files."""
        touched = {(r.project, _key(r)) for r in changed if _key(r)} | moved
        if not touched:
            return TURNAROUND.arrow_schema.empty_table()
        records = {r.id: r for r in changed if (r.project, _key(r)) in touched}
        keys = sorted({k for _, k in touched})
        for i in range(0, len(keys), 500):
            for r in self.catalog.list_lineage(keys=keys[i : i + 500]):
                if (r.project, _key(r)) in touched:
                    records.setdefault(r.id, r)
        ordered = sorted(records.values(), key=lambda r: (r.started_at, r.id))
        uris = object_keys(ordered)
        shas = [ref.sha256 for r in ordered if r.stage == "ingest" for ref in (*r.inputs, *r.outputs)]
        files = self.catalog.list_ingested(sha256s=[s for s in shas if s]) if uris else []
        return clock_rows(
            ordered,
            stage_pipeline=self.stages,
            milestones=milestones,
            now=self.stamp,
            received=received_at(files, uris),
            after=after,
        )


def _priced_ids(lake: LakeTables, ids: list[str]) -> set[str]:
    """Which of these lineage ids have a `costs` row (a filtered read of one column)."""
    if not ids:
        return set()
    rows = lake.read("costs", filter=pc.field("lineage_id").isin(ids), columns=["lineage_id"])
    return set(rows["lineage_id"].to_pylist())


def refresh_forever(
    settings: Settings, stop: threading.Event, *, interval_s: float = REFRESH_INTERVAL_S
) -> None:
    """`refresh` every `interval_s` until `stop` is set, and once more after: beside a running
    pipeline (`labstream watch`), a sample's cost and clock are in the lake within about
    `interval_s` of its last task. Each tick also publishes budget and burn-rate alerts that started
    or stopped firing to the `ops.alerts` topic (labstream.ops.alerts). A failed tick is logged and
    tried again on the next."""
    from labstream.ops.alerts import AlertState, publish_alerts
    from labstream.stream import open_stream

    catalog, lake = _open(settings)
    stream = open_stream(settings.stream_url)
    state = AlertState()
    cursor = LineageCursor()
    maintained = time.monotonic()
    try:
        while True:
            stopping = stop.wait(interval_s)
            try:
                refresh(settings, catalog=catalog, lake=lake, cursor=cursor)
                now = time.time()
                costs, clocks = alert_costs(settings, lake, now), turnaround_table(settings, lake=lake)
                publish_alerts(settings, stream, state, costs, clocks, _slos, now=now)
            except Exception:  # keep refreshing; the next tick re-reads everything not yet priced
                log.exception("ops refresh failed; retrying in %.1f s", interval_s)
            if time.monotonic() - maintained >= MAINTAIN_INTERVAL_S and not stopping:
                maintained = time.monotonic()
                try:  # the small files of an hour of batches and refreshes, folded (ops.maintenance)
                    maintain(lake)
                except Exception:
                    log.exception("lake maintenance failed; trying again in %.0f s", MAINTAIN_INTERVAL_S)
            if stopping:
                return
    finally:
        stream.close()
        catalog.close()
        release(settings.catalog_url)


def alert_costs(settings: Settings, lake: LakeTables, now: float) -> pa.Table:
    """The cost rows the budget alerts read: none without budgets, else the tasks that ended in `now`'s
    calendar month (a filtered read: Delta skips the files of earlier months by their statistics),
    not every cost row of the lab's history at every tick."""
    if not settings.budgets or not lake.exists("costs"):
        return COSTS.arrow_schema.empty_table()
    since = month_start(now)
    return lake.read("costs", filter=(pc.field("ended_at") >= since) & (pc.field("ended_at") <= now))


def _slos(pipeline: str) -> tuple[str, ...]:
    from labstream.pipelines import get_contract

    return get_contract(pipeline).slos


def _moved(lake: LakeTables, after: dict[tuple[str, str], list[tuple[str, float]]]) -> set[tuple[str, str]]:
    """Entities whose signed / delivered times are not yet those of their current clock rows."""
    if not after:
        return set()
    rows = lake.read(
        "turnaround",
        filter=pc.field("milestone").isin(["signed", "delivered"]),
        columns=["project", "key", "milestone", "reached_at"],
    )
    known = set(zip(*(rows[c].to_pylist() for c in rows.column_names), strict=True))
    return {ent for ent, marks in after.items() if any((*ent, m, at) not in known for m, at in marks)}


def _key(rec: LineageRecord) -> str:
    return rec.key or str(rec.params.get("key", ""))


def costs_table(settings: Settings, *, lake: LakeTables | None = None) -> pa.Table:
    from labstream.lake import open_lake

    lake = lake or open_lake(settings.lake_url)
    return lake.read("costs") if lake.exists("costs") else COSTS.arrow_schema.empty_table()


def turnaround_table(settings: Settings, *, lake: LakeTables | None = None) -> pa.Table:
    """The current clock rows: per (project, key, milestone) the greatest `computed_at`."""
    from labstream.lake import open_lake

    lake = lake or open_lake(settings.lake_url)
    if not lake.exists("turnaround"):
        return TURNAROUND.arrow_schema.empty_table()
    return latest_clocks(lake.read("turnaround"))


def latest_clocks(rows: pa.Table) -> pa.Table:
    if rows.num_rows == 0:
        return rows
    best = rows.group_by(["project", "key", "milestone"]).aggregate([("computed_at", "max")])
    joined = rows.join(best, ["project", "key", "milestone"])
    keep = joined.filter(pc.equal(joined["computed_at"], joined["computed_at_max"]))
    order = pc.sort_indices(keep, [("project", "ascending"), ("key", "ascending"), ("position", "ascending")])
    out: Any = keep.take(order)
    return out.select(rows.schema.names)
