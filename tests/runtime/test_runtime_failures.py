"""Retries with backoff, the dead-letter topic, quarantine, and gather state across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
import runtime_stages as rs

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.runtime import PipelineRunner
from labstream.runtime.stage import Pipeline, Stage
from labstream.stream import open_stream


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def publish(settings: Settings, topic: str, events: list[Event | bytes]) -> None:
    stream = open_stream(settings.stream_url)
    stream.create_topic(topic)
    for ev in events:
        if isinstance(ev, bytes):
            stream.publish(topic, ev, key="raw")
        else:
            stream.publish(topic, ev.to_json(), key=ev.key)
    stream.flush()
    stream.close()


def read_all(settings: Settings, topic: str) -> list:
    consumer = open_stream(settings.stream_url).consumer("test-reader", [topic])
    out = []
    while batch := consumer.poll(max_records=500, timeout=0.3):
        out += batch
    return sorted(out, key=lambda r: (r.partition, r.offset))


def flaky_pipeline(state_dir: Path, fail_times: int, max_retries: int) -> Pipeline:
    return Pipeline(
        "rt_flaky",
        (
            Stage(
                "rt_flaky",
                "1",
                "rt.in",
                rs.flaky,
                max_retries=max_retries,
                params={"state_dir": str(state_dir), "fail_times": fail_times},
            ),
        ),
    )


def attempts(state_dir: Path, event: Event) -> list[float]:
    return [float(x) for x in (state_dir / f"{event.id}.attempts").read_text().split()]


def test_retries_with_exponential_backoff(settings: Settings, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    events = [Event(type="n", key=f"k{i}", data={"n": i}) for i in range(3)]
    publish(settings, "rt.in", events)
    with PipelineRunner(
        settings, flaky_pipeline(state, fail_times=2, max_retries=3), "local?cpu=2", backoff_base=0.3
    ) as runner:
        status = runner.run_until_idle(timeout=120)["rt_flaky"]
        assert status["processed"] == 3 and status["retries"] == 6 and status["dlq"] == 0
        assert sorted(runner.lake.read("rt_simple").column("n").to_pylist()) == [0, 1, 2]
        for ev in events:
            times = attempts(state, ev)
            assert len(times) == 3
            assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.6  # 0.3 s, then doubled
            rec = runner.catalog.list_lineage(stage="rt_flaky", event_id=ev.id)[0]
            assert rec.status == "ok" and rec.error is None
            # the two failed attempts are kept for cost (ops bills them), with the request and entity
            assert len(rec.attempts) == 2 and all(a["wall_seconds"] > 0 for a in rec.attempts)
            assert rec.key == ev.key and rec.request["cpu"] == 1.0


def test_failing_function_and_malformed_event_go_to_dlq_and_the_stream_flows(
    settings: Settings, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    doomed = Event(type="n", key="k-doomed", data={"n": 99, "always_fail": True})
    bad = Event(type="n", key="k-bad", data={"n": -1, "bad": True})
    good = [Event(type="n", key=f"k{i}", data={"n": i}) for i in range(5)]
    malformed = b'{"type": "n", "key": "oops"'  # truncated JSON
    publish(settings, "rt.in", [good[0], doomed, malformed, bad, *good[1:]])
    with PipelineRunner(
        settings, flaky_pipeline(state, fail_times=0, max_retries=2), "local?cpu=2", backoff_base=0.05
    ) as runner:
        status = runner.run_until_idle(timeout=120)["rt_flaky"]
        assert sorted(runner.lake.read("rt_simple").column("n").to_pylist()) == [0, 1, 2, 3, 4]
        assert status["failed"] == 1 and status["quarantined"] == 1 and status["dlq"] == 3
        dead = read_all(settings, "rt.in.dlq")
        by_type = {r.headers["error_type"]: r for r in dead}
        assert set(by_type) == {"RuntimeError", "InputError"}
        # the doomed event: tried 1 + max_retries times, the error and the original bytes kept
        rt = by_type["RuntimeError"]
        assert rt.headers["attempts"] == "3" and "transient failure" in rt.headers["error"]
        assert rt.value == doomed.to_json() and rt.headers["event_id"] == doomed.id
        assert len(attempts(state, doomed)) == 3
        # a malformed event and an InputError: dead-lettered at once (no retry), and quarantined
        inp = [r for r in dead if r.headers["error_type"] == "InputError"]
        assert {r.value for r in inp} == {malformed, bad.to_json()}
        assert len(attempts(state, bad)) == 1
        malformed_hdr = next(r.headers for r in inp if r.value == malformed)
        assert "malformed event" in malformed_hdr["error"] and malformed_hdr["source"].startswith("rt.in/")
        quarantined = runner.catalog.list_quarantine(stage="rt_flaky")
        assert len(quarantined) == 2
        assert any("negative" in q.problem for q in quarantined)
        assert any("malformed" in q.problem for q in quarantined)
        failed = runner.catalog.list_lineage(stage="rt_flaky", event_id=doomed.id)[0]
        assert failed.status == "failed" and "attempts: 3" in (failed.error or "")


def site(plate: str, s: str, value: float, expected: int = 3) -> Event:
    return Event(
        type="site", key=plate, data={"plate": plate, "site": s, "value": value, "expected": expected}
    )


def test_gather_fires_once_across_a_restart(settings: Settings) -> None:
    pipeline = Pipeline(
        "rt_gather",
        (
            Stage(
                "rt_plates",
                "1",
                "rt.sites",
                rs.plate_summary,
                output_topic="rt.plates",
                gather=rs.PLATE_GATHER,
            ),
        ),
    )
    publish(settings, "rt.sites", [site("P1", "a", 1.0), site("P1", "b", 2.0), site("P2", "a", 10.0)])
    with PipelineRunner(settings, pipeline, "local?cpu=2") as runner:
        runner.run_until_idle(timeout=60)
        assert not runner.lake.exists("rt_plate") or runner.lake.read("rt_plate").num_rows == 0
    # restart: the state of P1 survives in the catalog; its third site (and a duplicate) complete it
    publish(settings, "rt.sites", [site("P1", "a", 1.0), site("P1", "c", 4.0), site("P2", "b", 20.0)])
    with PipelineRunner(settings, pipeline, "local?cpu=2") as runner:
        runner.run_until_idle(timeout=60)
        rows = runner.lake.read("rt_plate").to_pylist()
        assert [(r["plate"], r["sites"], r["site_ids"], r["total"]) for r in rows] == [
            ("P1", 3, "a,b,c", 7.0)
        ]
    # another restart; a late site of P1 does not fire it again, P2 completes
    publish(settings, "rt.sites", [site("P1", "d", 8.0), site("P2", "c", 30.0)])
    with PipelineRunner(settings, pipeline, "local?cpu=2") as runner:
        runner.run_until_idle(timeout=60)
        rows = sorted(runner.lake.read("rt_plate").to_pylist(), key=lambda r: r["plate"])
        assert [(r["plate"], r["sites"], r["total"]) for r in rows] == [("P1", 3, 7.0), ("P2", 3, 60.0)]
        done = [Event.from_json(r.value) for r in read_all(settings, "rt.plates")]
        assert sorted(e.data["plate"] for e in done) == ["P1", "P2"]
        assert all(len(e.parents) == 1 for e in done)


def test_an_event_a_gather_stage_cannot_group_is_dead_lettered_and_quarantined_under_its_id(
    settings: Settings,
) -> None:
    stage = Stage("rt_plates", "1", "rt.sites", rs.plate_summary, gather=rs.PLATE_GATHER)
    no_plate = Event(type="site", key="x", data={"site": "a", "value": 1.0, "expected": 3}, project="p7")
    publish(settings, "rt.sites", [no_plate, site("P1", "a", 1.0)])
    with PipelineRunner(settings, Pipeline("rt_gather", (stage,)), "local?cpu=1") as runner:
        status = runner.run_until_idle(timeout=60)["rt_plates"]
        assert status["dlq"] == 1
        [dead] = read_all(settings, "rt.sites.dlq")
        assert (dead.headers["event_id"], dead.headers["error_type"]) == (no_plate.id, "InputError")
        [q] = runner.catalog.list_quarantine(stage="rt_plates")
        assert (q.source, q.project) == (no_plate.id, "p7") and "groups by" in q.problem


def test_crash_between_lake_commit_and_offset_commit_adds_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process version of the chaos test: the commit dies right after step 2, then restarts."""
    import labstream.runtime.commit as commit_mod

    state = tmp_path / "state"
    state.mkdir()
    publish(settings, "rt.in", [Event(type="n", key=f"k{i}", data={"n": i}) for i in range(40)])

    class Crash(Exception):
        pass

    def crash(step: str) -> None:
        if step == "after_lake_commit":
            raise Crash(step)

    monkeypatch.setattr(commit_mod, "maybe_crash", crash)
    with PipelineRunner(settings, flaky_pipeline(state, 0, 0), "local?cpu=2", batch_size=15) as runner:
        with pytest.raises(Crash):
            runner.run_until_idle(timeout=60)
        assert runner.lake.read("rt_simple").num_rows == 15  # committed to the lake, offsets not
    monkeypatch.setattr(commit_mod, "maybe_crash", lambda step: None)
    with PipelineRunner(settings, flaky_pipeline(state, 0, 0), "local?cpu=2", batch_size=25) as runner:
        runner.run_until_idle(timeout=60)
        ns = runner.lake.read("rt_simple").column("n").to_pylist()
        assert sorted(ns) == list(range(40))
