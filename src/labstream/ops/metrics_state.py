"""What `/metrics` reports, kept current by folding in only the lineage written since the last scrape.

Why: a scrape used to read and JSON-decode every lineage record of the history and re-price and
re-clock all of them, so each scrape (every 15-60 s) cost more as the platform aged. `MetricsState`
holds per (project, stage, status) task counts, duration buckets, the latest ok end, the cost per
(project, stage) and per (project, month), and each entity's milestones; `fold` reads
`CatalogStore.lineage_changes(after=watermark)` (catalog revision 0008), so a scrape reads what was
written since the previous one plus the whole lineage of the entities those writes touched (their
clocks are recomputed with `clock_rows`, the one definition of a clock).

A rewrite (a replayed failed->ok task keeps its id) first takes the record's earlier contribution
out, from a small per-record memo (project, stage, status, wall, end, cost), then adds the
new one, so every number equals a recomputation from the current records, as before. The state is
kept for every project; scoping to the caller's projects happens when rendering (ops.metrics).
Memory: one memo tuple per lineage record and one small dict per entity, no decoded records: about
0.4 KB a record measured, so ~400 MB for a million records (counts, buckets and latest ends could come
from one GROUP BY in the catalog instead, leaving only the cost per record in memory).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from sys import intern
from typing import Any, NamedTuple

from labstream.catalog.records import LineageRecord
from labstream.core.settings import Settings
from labstream.ops._pipelines import StagePipelines, milestones
from labstream.ops.budget import month_start
from labstream.ops.cost import site_cost_rows
from labstream.ops.pricebook import PriceBook, load_price_book
from labstream.ops.slo import SLO, parse_slo
from labstream.ops.slo_index import SloIndex
from labstream.ops.turnaround import clock_rows

__all__ = ["BUCKETS", "LINEAGE_BATCH", "Hist", "MetricsState", "state_for"]

BUCKETS = (0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, float("inf"))
LINEAGE_BATCH = 5000
_KEEP = 8  # states kept per process (one per catalog and pricing: a test suite opens many homes)


class _Task(NamedTuple):
    """What one lineage record contributes: enough to take it out again when it is rewritten."""

    project: str
    stage: str
    status: str
    wall: float
    ended_at: float
    cost: float | None  # None: not priced (running)


class Hist:
    """Cumulative counts per bound of BUCKETS (v <= bound), the number and the sum of the values."""

    __slots__ = ("buckets", "n", "total")

    def __init__(self) -> None:
        self.buckets = [0] * len(BUCKETS)
        self.n = 0
        self.total = 0.0

    def add(self, value: float, sign: int) -> None:
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.buckets[i] += sign
        self.n += sign
        self.total += sign * value


class Entity(NamedTuple):
    """An entity's pipeline and the time it reached each milestone (its `turnaround` rows)."""

    pipeline: str
    reached: dict[str, float]


class MetricsState:
    """The scrape's aggregates over every project, folded from `lineage_changes` (see module docstring)."""

    def __init__(self, settings: Settings, book: PriceBook) -> None:
        self.settings = settings
        self.book = book
        self.stages = StagePipelines()
        self.lock = threading.Lock()
        self._slos: dict[str, list[SLO]] = {}
        self.decoded = 0  # lineage records read so far (tests and the bench watch it)
        self._empty()

    def _empty(self) -> None:
        self.watermark = 0
        self.memo: dict[str, _Task] = {}
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self.hist: dict[tuple[str, str], Hist] = defaultdict(Hist)
        self.last_ok: dict[tuple[str, str], float] = {}
        self.spend: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])  # [tasks, usd]
        # (project, month start) -> [tasks, usd, latest end seen]
        self.month: dict[tuple[str, float], list[float]] = defaultdict(lambda: [0, 0.0, float("-inf")])
        self.entities: dict[tuple[str, str], Entity] = {}
        self.pipelines: dict[tuple[str, str], int] = defaultdict(int)  # (project, pipeline) -> entities
        self.events: dict[tuple[str, str, str], SloIndex] = {}  # (project, pipeline, SLO text)

    def fold(self, cat: Any) -> None:
        """Fold in every lineage write after the watermark, in batches of LINEAGE_BATCH.

        The first read starts at the watermark's own write: a catalog that still holds it (or its
        rewrite, numbered later) is the one folded so far; one that holds nothing from there on was
        replaced (restored from a backup, recreated at the same URL), so everything is read again."""
        after = self.watermark - 1 if self.watermark else 0
        while True:
            changes = cat.lineage_changes(after, limit=LINEAGE_BATCH)
            self.decoded += len(changes)
            if self.watermark and after < self.watermark:
                if not changes:
                    self._empty()
                    after = 0
                    continue
                changes = [c for c in changes if c.seq != self.watermark]
            if not changes:
                return
            recs = [c.record for c in changes]
            try:
                self._tasks(recs)
                self._clocks(cat, recs)
            except BaseException:  # half a batch folded: start again from nothing on the next scrape
                self._empty()
                raise
            self.watermark = after = changes[-1].seq

    def _tasks(self, recs: Sequence[LineageRecord]) -> None:
        priced = site_cost_rows(recs, self.book, self.settings, self.stages, now=0.0)
        cost = dict(zip(priced["lineage_id"].to_pylist(), priced["cost_usd"].to_pylist(), strict=True))
        for r in recs:
            old = self.memo.get(r.id)
            if old is not None:
                self._apply(old, -1)
            # names repeat across records: one string object each keeps the memo small (~0.4 KB a record)
            names = (intern(r.project), intern(r.stage), intern(r.status))
            task = _Task(*names, r.wall_seconds, r.ended_at, cost.get(r.id))
            self.memo[r.id] = task
            self._apply(task, 1)

    def _apply(self, t: _Task, sign: int) -> None:
        group = (t.project, t.stage)
        self.counts[(*group, t.status)] += sign
        if not self.counts[(*group, t.status)]:
            del self.counts[(*group, t.status)]
        self.hist[group].add(t.wall, sign)
        if not self.hist[group].n:
            del self.hist[group]
        if t.status == "ok":
            if sign > 0:
                self.last_ok[group] = max(self.last_ok.get(group, 0.0), t.ended_at)
            elif self.last_ok.get(group) == t.ended_at:  # the latest ok task was rewritten: look again
                ends = [
                    m.ended_at
                    for m in self.memo.values()
                    if (m.project, m.stage, m.status) == (*group, "ok") and m is not t
                ]
                self.last_ok.pop(group)
                if ends:
                    self.last_ok[group] = max(0.0, *ends)
        if t.cost is not None:
            spent = self.spend[(t.project, self.stages.get(t.stage))]
            spent[0] += sign
            spent[1] += sign * t.cost
            month = self.month[(t.project, month_start(t.ended_at))]
            month[0] += sign
            month[1] += sign * t.cost
            month[2] = max(month[2], t.ended_at)

    def _clocks(self, cat: Any, recs: Sequence[LineageRecord]) -> None:
        """Recompute the clocks of the entities these records touch, from their whole lineage."""
        touched = {(r.project, k) for r in recs if (k := _key(r))}
        if not touched:
            return
        mine = {r.id: r for r in cat.list_lineage(keys=sorted({k for _, k in touched}))}
        self.decoded += len(mine)
        for r in recs:  # a record whose key is only in its params; the catalog's copy is the newest
            mine.setdefault(r.id, r)
        ordered = sorted(
            (r for r in mine.values() if (r.project, _key(r)) in touched),
            key=lambda r: (r.started_at, r.id),
        )
        rows = clock_rows(ordered, stage_pipeline=self.stages, milestones=milestones, now=0.0)
        fresh: dict[tuple[str, str], Entity] = {}
        for row in rows.to_pylist():
            ent = fresh.setdefault((row["project"], row["key"]), Entity(row["pipeline"], {}))
            ent.reached[row["milestone"]] = row["reached_at"]
        for ent in touched:
            gone = self.entities.pop(ent, None)
            if gone is not None:
                self._entity(ent[0], gone, -1)
            if ent in fresh:
                self.entities[ent] = fresh[ent]
                self._entity(ent[0], fresh[ent], 1)

    def _entity(self, project: str, e: Entity, sign: int) -> None:
        """Add or take out an entity's pipeline and its events of the pipeline's SLOs."""
        if not e.pipeline:
            return
        self.pipelines[(project, e.pipeline)] += sign
        if not self.pipelines[(project, e.pipeline)]:
            del self.pipelines[(project, e.pipeline)]
        for slo in self.slos(e.pipeline):
            start = e.reached.get(slo.start)
            if start is not None:
                index = self.events.setdefault((project, e.pipeline, slo.text), SloIndex(slo))
                index.add(start, e.reached.get(slo.end), sign)

    def slos(self, pipeline: str) -> list[SLO]:
        """The SLOs a pipeline's contract declares, parsed once."""
        if pipeline not in self._slos:
            from labstream.pipelines import get_contract

            self._slos[pipeline] = [parse_slo(pipeline, t) for t in get_contract(pipeline).slos]
        return self._slos[pipeline]

    def month_spend(self, now: float, mine: Any) -> dict[str, float]:
        """Cost per project of the tasks that ended in `now`'s month, up to `now` (budget.month_spend)."""
        start = month_start(now)
        out: dict[str, float] = {}
        for (project, month), (tasks, usd, latest) in self.month.items():
            if month != start or not tasks or not mine(project):
                continue
            if latest > now:  # tasks stamped after `now` (clock skew): add up the ones up to `now`
                costs = [
                    t.cost
                    for t in self.memo.values()
                    if t.project == project and t.cost is not None and start <= t.ended_at <= now
                ]
                if not costs:
                    continue
                usd = sum(costs)
            out[project] = usd
        return out


def _key(r: LineageRecord) -> str:
    return r.key or str(r.params.get("key", ""))


_STATES: OrderedDict[tuple[str, ...], MetricsState] = OrderedDict()
_STATES_LOCK = threading.Lock()


def state_for(settings: Settings) -> MetricsState:
    """The process's state for this catalog and pricing (made on first use, then kept). The price book
    is read on each call, as before: a book edited in place prices every task again (a new state)."""
    book = load_price_book(settings.price_book or None)
    ident = (
        settings.catalog_url,
        str(settings.price_book or ""),
        settings.region,
        settings.compute_class,
    )
    with _STATES_LOCK:
        state = _STATES.pop(ident, None)
        if state is None or state.book != book:
            state = MetricsState(settings, book)
        _STATES[ident] = state
        while len(_STATES) > _KEEP:
            _STATES.popitem(last=False)
        return state
