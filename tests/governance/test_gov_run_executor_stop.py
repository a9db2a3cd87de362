"""Stopping the run executor while a run is in progress: the loop ends between rounds (stop() does not
wait out the run, nor close the stream under a thread still inside it), the run stays RUNNING with its
submission uncommitted, and the next executor runs it to COMPLETE."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from labstream.core.settings import Settings
from labstream.governance.auth import Principal
from labstream.governance.run_executor import RunExecutor
from labstream.governance.runs import Runs, inbox, stream_announcer
from labstream.governance.service import Governance


def _wait(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_stop_mid_run_leaves_it_for_the_next_executor(tmp_path: Path) -> None:
    gov = Governance.open(Settings(home=tmp_path / "home"))
    try:
        gov.directory.add_project("lab")
        box = inbox(gov.settings)
        box.mkdir(parents=True)
        (box / "a.txt").write_text("one\ntwo\n")
        runs = Runs(gov, stream_announcer(gov.settings.stream_url))
        who = Principal("sci", roles={"lab": frozenset({"operator"})})
        row = runs.submit(who, "lab", "filestats", {"inputs": ["a.txt"]})

        first = RunExecutor(gov, executor_url="local?cpu=1", poll_timeout=0.1)
        running = threading.Event()
        original = first.state

        def slow_state(run_id: str) -> str:  # the run is in its rounds until stop() is called
            state = original(run_id)
            if state == "RUNNING":
                running.set()
                first._stop.wait(60)
            return state

        first.state = slow_state  # type: ignore[method-assign]
        thread = first.start()
        assert running.wait(60), "the run never started"
        t0 = time.monotonic()
        first.stop(timeout=20)
        assert time.monotonic() - t0 < 10 and not thread.is_alive()
        assert runs.get(row.id).state == "RUNNING"  # not failed, not committed: left for redelivery

        second = RunExecutor(gov, executor_url="local?cpu=1", poll_timeout=0.1)
        second.start()
        try:
            _wait(lambda: runs.get(row.id).state == "COMPLETE")
        finally:
            second.stop()
        assert runs.get(row.id).outputs["lineage_ids"]
    finally:
        gov.close()
