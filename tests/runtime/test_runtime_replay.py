"""Dead letters a lab can act on: their reasons are listed (runtime, `labstream status`, `labstream
replay --list`), and a replay after the cause is gone runs them again without re-ingesting, once."""

from __future__ import annotations

from pathlib import Path

import pytest
import runtime_stages as rs
from typer.testing import CliRunner

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.runtime import PipelineRunner
from labstream.runtime.replay import dead_letters, replay
from labstream.runtime.stage import Pipeline, Stage
from labstream.stream import open_stream


def _pipeline(state: Path) -> Pipeline:
    # each event fails its first 2 attempts; with 1 retry the first run dead-letters it (the "fault"),
    # and a replay finds the fault gone (attempt 3 fails, its retry succeeds)
    stage = Stage("rt_flaky", "1", "rt.in", rs.flaky, max_retries=1,
                  params={"state_dir": str(state), "fail_times": 2})  # fmt: skip
    return Pipeline("rt_flaky", (stage,))


@pytest.mark.slow
def test_dead_letters_show_their_reason_and_replay_runs_them_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path / "home")
    state = tmp_path / "state"
    state.mkdir()
    stream = open_stream(settings.stream_url)
    stream.create_topic("rt.in")
    events = [Event(type="n", key=f"k{i}", data={"n": i}) for i in range(3)]
    for ev in events:
        stream.publish("rt.in", ev.to_json(), key=ev.key)
    stream.flush()
    with PipelineRunner(settings, _pipeline(state), "local?cpu=2", backoff_base=0.01) as runner:
        status = runner.run_until_idle(timeout=120)["rt_flaky"]
        assert status["dlq"] == 3 and "rt_simple" not in runner.lake.tables()
    dead = dead_letters(stream)
    assert len(dead) == 3 and not any(d.replayed for d in dead)
    assert {d.stage for d in dead} == {"rt_flaky"} and all("transient failure" in d.error for d in dead)
    assert {d.event_id for d in dead} == {e.id for e in events} and {d.project for d in dead} == {"default"}

    monkeypatch.setenv("LABSTREAM_HOME", str(settings.home))
    from labstream.cli.main import app

    listed = CliRunner().invoke(app, ["replay", "--list"])
    assert (
        listed.exit_code == 0
        and listed.output.count("[waiting] rt_flaky: RuntimeError: transient failure") == 3
    )
    shown = CliRunner().invoke(app, ["status"])
    assert shown.exit_code == 0 and "dead letters: 3 (3 waiting" in shown.output
    res = CliRunner().invoke(app, ["replay"])
    assert res.exit_code == 0 and "rt.in.dlq: 3 replayed to rt.in" in res.output
    assert replay(stream, "rt.in.dlq") == 0  # a second replay publishes nothing
    assert all(d.replayed for d in dead_letters(stream))
    bad = CliRunner().invoke(app, ["replay", "nope.dlq"])
    assert bad.exit_code == 2 and "rt.in.dlq" in bad.output

    with PipelineRunner(settings, _pipeline(state), "local?cpu=2", backoff_base=0.01) as runner:
        status = runner.run_until_idle(timeout=120)["rt_flaky"]
        rows = runner.lake.read("rt_simple").to_pylist()
        assert sorted(r["n"] for r in rows) == [0, 1, 2] and status["dlq"] == 0  # each once
        ok = [runner.catalog.list_lineage(stage="rt_flaky", event_id=e.id)[0].status for e in events]
        assert ok == ["ok"] * 3  # the failed lineage records were replaced under the same ids
    # the same replayed records delivered again (at least once) add nothing
    for ev in events:
        stream.publish("rt.in", ev.to_json(), key=ev.key, headers={"labstream-replay": "again"})
    stream.flush()
    with PipelineRunner(settings, _pipeline(state), "local?cpu=2", backoff_base=0.01) as runner:
        runner.run_until_idle(timeout=120)
        assert runner.lake.read("rt_simple").num_rows == 3
    stream.close()


@pytest.mark.parametrize("topic", ["rt.in"])
def test_replay_refuses_a_topic_that_is_not_a_dead_letter_topic(tmp_path: Path, topic: str) -> None:
    stream = open_stream(Settings(home=tmp_path / "home").stream_url)
    with pytest.raises(ValueError, match="not a dead-letter topic"):
        replay(stream, topic)
    stream.close()
