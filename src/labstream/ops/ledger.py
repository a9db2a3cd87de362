"""Keeps the `costs` and `turnaround` lake tables in step with the lineage, and reads them back.

    refresh(settings)            -> {"costs": rows added, "turnaround": rows added}
    costs_table(settings)        -> every cost row (pyarrow), after a refresh
    turnaround_table(settings)   -> the current clock rows (latest per project, key, milestone)

Why rows in the lake and not a query over the catalog: the lake is where scientists and finance
query with SQL, next to the results, and a cost row, once written, keeps the price book that priced
it even after the book changes. A task is priced once (its lineage id is its row's `lineage_id`), so
refreshing twice, or from two processes in turn, adds nothing the second time.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from labstream.catalog.base import CatalogStore
from labstream.catalog.records import LineageRecord
from labstream.core.settings import Settings
from labstream.lake.base import LakeTables
from labstream.ops._db import release
from labstream.ops._pipelines import StagePipelines, milestones
from labstream.ops.clinical import after_pipeline, received_at
from labstream.ops.cost import cost_rows
from labstream.ops.maintenance import MAINTAIN_INTERVAL_S, maintain
from labstream.ops.pricebook import PriceBook, load_price_book
from labstream.ops.storage import object_keys
from labstream.ops.tables import COSTS, TURNAROUND
from labstream.ops.turnaround import clock_rows

__all__ = ["REFRESH_INTERVAL_S", "costs_table", "refresh", "refresh_forever", "turnaround_table"]

log = logging.getLogger(__name__)
REFRESH_INTERVAL_S = 5.0
COSTS_TXN = "labstream.ops.costs"  # Delta application id of the costs table's writers


def _open(settings: Settings) -> tuple[CatalogStore, LakeTables]:
    from labstream.catalog import open_catalog
    from labstream.lake import open_lake

    return open_catalog(settings.catalog_url).upgrade(), open_lake(settings.lake_url)


def refresh(
    settings: Settings,
    *,
    catalog: CatalogStore | None = None,
    lake: LakeTables | None = None,
    book: PriceBook | None = None,
    now: float | None = None,
) -> dict[str, int]:
    """Price every finished task not yet in `costs` and re-read the clock of every entity that has a
    task not yet priced; append both. Returns the rows added per table."""
    own = catalog is None
    if catalog is None or lake is None:
        opened = _open(settings)
        catalog, lake = catalog or opened[0], lake or opened[1]
    try:
        stamp = time.time() if now is None else now
        records = catalog.list_lineage()
        lake.ensure_table(COSTS)
        lake.ensure_table(TURNAROUND)
        # Two refreshers (two `watch` processes) must not price a task twice: the append carries a
        # Delta application transaction whose version is read BEFORE the priced set, so a refresher
        # that raced another and lost commits nothing (append returns False) and retries next tick.
        done = lake.txn_version("costs", COSTS_TXN) or 0
        priced = set(lake.read("costs", columns=["lineage_id"])["lineage_id"].to_pylist())
        fresh = [r for r in records if r.id not in priced]
        stages = StagePipelines()
        costs = cost_rows(
            fresh,
            book or load_price_book(settings.price_book or None),
            region=settings.region,
            compute_class=settings.compute_class,
            stage_pipeline=stages,
            now=stamp,
        )
        touched = {(r.project, _key(r)) for r in fresh}
        after = after_pipeline(settings)  # signed / delivered: they write no lineage of the sample
        touched |= _moved(lake, after)
        clocks = clock_rows(
            (r for r in records if (r.project, _key(r)) in touched),
            stage_pipeline=stages,
            milestones=milestones,
            now=stamp,
            received=received_at(catalog.list_ingested(), object_keys(records)) if touched else {},
            after=after,
        )
        if costs.num_rows and not lake.append("costs", costs, txn=(COSTS_TXN, done + 1)):
            costs = costs.slice(0, 0)  # another refresher priced them first
        if clocks.num_rows:
            lake.append("turnaround", clocks)  # a lost commit race is retried by Lake.commit itself
        return {"costs": costs.num_rows, "turnaround": clocks.num_rows}
    finally:
        if own:
            catalog.close()


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
    maintained = time.monotonic()
    try:
        while True:
            stopping = stop.wait(interval_s)
            try:
                refresh(settings, catalog=catalog, lake=lake)
                costs, clocks = costs_table(settings, lake=lake), turnaround_table(settings, lake=lake)
                publish_alerts(settings, stream, state, costs, clocks, _slos)
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
