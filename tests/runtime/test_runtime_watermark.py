"""Gather watermark: an incomplete group fires with what it has after GatherSpec.timeout_s, on idle
worker steps too, once, across restarts, and without duplicate rows after a crash mid-commit."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.lake import TableSchema, register_schema
from labstream.runtime import PipelineRunner
from labstream.runtime.stage import GatherSpec, Pipeline, Stage, StageOutput, TaskContext
from labstream.stream import open_stream

register_schema(
    TableSchema(
        "rt_wm_plate",
        pa.schema(
            [
                ("plate", pa.string()),
                ("sites", pa.int64()),
                ("site_ids", pa.string()),
                ("partial", pa.bool_()),
            ]
        ),
    )
)

TIMEOUT = 1.0


def plate_rows(ctx: TaskContext) -> StageOutput:
    plate = ctx.events[0].data["plate"]
    sites = sorted(e.data["site"] for e in ctx.events)
    row = {"plate": plate, "sites": len(sites), "site_ids": ",".join(sites), "partial": ctx.partial}
    quarantined = [(f"plate {plate}", "fired on its watermark")] if ctx.partial else []
    return StageOutput(
        rows={"rt_wm_plate": [row]},
        events=[Event("plate.done", plate, {"plate": plate, "partial": ctx.partial})],
        quarantined=quarantined,
    )


def _key(e: Event) -> str:
    return str(e.data["plate"])


def _expected(e: Event) -> int:
    return int(e.data["expected"])


def _member(e: Event) -> str:
    return str(e.data["site"])


def make_pipeline(timeout_s: float) -> Pipeline:
    gather = GatherSpec(_key, _expected, _member, timeout_s=timeout_s)
    stage = Stage("rt_wm_plates", "1", "rt.wm.sites", plate_rows, output_topic="rt.wm.plates", gather=gather)
    return Pipeline("rt_wm", (stage,))


PIPELINE = make_pipeline(TIMEOUT)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def publish(settings: Settings, events: list[Event]) -> None:
    stream = open_stream(settings.stream_url)
    stream.create_topic("rt.wm.sites")
    for ev in events:
        stream.publish("rt.wm.sites", ev.to_json(), key=ev.key)
    stream.flush()
    stream.close()


def site(plate: str, s: str, expected: int = 3) -> Event:
    return Event("site", plate, {"plate": plate, "site": s, "expected": expected})


def rows(runner: PipelineRunner) -> list[tuple[str, int, str, bool]]:
    if not runner.lake.exists("rt_wm_plate"):
        return []
    got = runner.lake.read("rt_wm_plate").to_pylist()
    return sorted((r["plate"], r["sites"], r["site_ids"], r["partial"]) for r in got)


def idle_until(runner: PipelineRunner, pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Step the (input-idle) workers until `pred()` holds: the watermark must fire with no records."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"watermark did not fire in {timeout}s: {runner.status()}"
        for w in runner.workers:
            w.step()


def test_incomplete_group_fires_on_its_watermark_once(settings: Settings) -> None:
    publish(settings, [site("P1", "a"), site("P1", "b"), site("P1", "c"), site("P2", "a"), site("P2", "b")])
    with PipelineRunner(settings, make_pipeline(600.0), "local?cpu=1") as runner:
        runner.run_until_idle(timeout=60)
        assert runner.workers[0].fire_expired(force=True) == 0  # P2 is not fired before its watermark
        assert rows(runner) == [("P1", 3, "a,b,c", False)]
    # a restart with a short watermark: P2's members (and their arrival times) are in the catalog;
    # with no new record, idle steps fire it
    with PipelineRunner(settings, PIPELINE, "local?cpu=1") as runner:
        idle_until(runner, lambda: len(rows(runner)) == 2)
        assert rows(runner) == [("P1", 3, "a,b,c", False), ("P2", 2, "a,b", True)]
        st = runner.status()["rt_wm_plates"]
        assert st["watermark_fired"] == 1 and st["quarantined"] == 1
        quarantine = runner.catalog.list_quarantine(stage="rt_wm_plates")
        assert [(q.source, q.problem) for q in quarantine] == [("plate P2", "fired on its watermark")]
        # a late member is stored but does not fire P2 again; a forced check finds nothing to fire
        publish(settings, [site("P2", "c")])
        runner.run_until_idle(timeout=60)
        time.sleep(TIMEOUT * 1.2)
        assert all(w.fire_expired(force=True) == 0 for w in runner.workers)
        assert rows(runner) == [("P1", 3, "a,b,c", False), ("P2", 2, "a,b", True)]
        stream = open_stream(settings.stream_url)
        consumer = stream.consumer("probe", ["rt.wm.plates"])
        done = [Event.from_json(r.value) for r in consumer.poll(max_records=100, timeout=1.0)]
        stream.close()
        assert sorted((e.data["plate"], e.data["partial"]) for e in done) == [("P1", False), ("P2", True)]


class Crash(Exception):
    pass


def test_watermark_fire_replayed_after_a_crash_adds_no_rows(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(settings, [site("P3", "a"), site("P3", "b")])
    import labstream.runtime.commit as commit_mod

    def crash(step: str) -> None:
        if step == "after_lake_commit":
            raise Crash(step)

    with PipelineRunner(settings, make_pipeline(600.0), "local?cpu=1") as runner:
        runner.run_until_idle(timeout=60)
    time.sleep(TIMEOUT * 1.1)
    with PipelineRunner(settings, PIPELINE, "local?cpu=1") as runner:
        monkeypatch.setattr(commit_mod, "maybe_crash", crash)
        with pytest.raises(Crash):
            runner.workers[0].fire_expired(force=True)
        assert rows(runner) == [("P3", 2, "a,b", True)]  # in the lake, but neither lineage nor fired
        monkeypatch.undo()
    with PipelineRunner(settings, PIPELINE, "local?cpu=1") as runner:
        assert runner.workers[0].fire_expired(force=True) == 1  # fires again: same task, no new rows
        assert rows(runner) == [("P3", 2, "a,b", True)]
        lineage = runner.catalog.list_lineage(stage="rt_wm_plates")
        assert [r.status for r in lineage] == ["ok"]
        assert runner.workers[0].fire_expired(force=True) == 0
