"""The runtime on a real Kafka-protocol broker (tansu): Ingestor -> PipelineRunner(filestats) -> lake.

Each test gets its own broker (it starts in well under a second): the filestats pipeline has fixed
topic and group names, which must not leak from one test into the next.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labstream.core.events import Event, ObjectRef
from labstream.core.settings import Settings
from labstream.ingest import TOPIC, Ingestor
from labstream.lake import LakeSQL
from labstream.objects.fsspec_store import FsspecStore
from labstream.pipelines.filestats import pipeline
from labstream.runtime import PipelineRunner
from labstream.runtime.dlq import dlq_topic
from labstream.stream import Record, open_stream
from labstream.stream.errors import CommitError
from labstream.testing.kafka import start_tansu

pytestmark = pytest.mark.integration

EXECUTOR = "local?cpu=2"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with start_tansu() as broker:
        yield Settings(home=tmp_path / "home", stream_url=f"{broker.url}?session_timeout_ms=3000")


def land(folder: Path, start: int, n: int) -> list[Path]:
    """Instrument files with distinct contents (ingest dedupes by content hash)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        p = folder / f"run{i:03d}.csv"
        p.write_text("".join(f"well{j},{i * 10 + j}\n" for j in range(i % 5 + 1)))
        paths.append(p)
    return paths


def ingest(settings: Settings, paths: list[Path]) -> None:
    ingestor = Ingestor(settings)
    try:
        for p in paths:
            assert ingestor.ingest_file(p, instrument="plate-reader").status == "published"
    finally:
        ingestor.close()


def rows_by_name(runner: PipelineRunner) -> dict[str, int]:
    got = LakeSQL(runner.lake).query("SELECT name, count(*) AS n FROM files GROUP BY name").to_pylist()
    return {r["name"]: r["n"] for r in got}


def read_topic(settings: Settings, topic: str, n: int, timeout: float = 30.0) -> list[Record]:
    stream = open_stream(settings.stream_url)
    consumer = stream.consumer(f"reader-{time.monotonic_ns()}", [topic])
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            out += consumer.poll(max_records=100, timeout=0.5)
    finally:
        stream.close()
    return out


def test_every_file_row_exactly_once_and_idle_means_done(settings: Settings, tmp_path: Path) -> None:
    first = land(tmp_path / "inbox", 0, 12)
    ingest(settings, first)
    # small batches: the second stage reads parts of the first stage's multi-record producer batches,
    # whose end offsets tansu under-reports (the idle check must not trust them alone)
    with PipelineRunner(settings, pipeline(), EXECUTOR, batch_size=4) as runner:
        assert not runner.is_idle()  # 12 files wait (and the consumers are not even in their groups)
        status = runner.run_until_idle(timeout=120)
        # idle must mean done: every row is there the moment run_until_idle returns
        assert rows_by_name(runner) == {p.name: 1 for p in first}
        assert runner.is_idle()
        assert runner.lake.read("file_keys").num_rows == 12
        assert status["file_stats"]["processed"] == 12 and status["key_summary"]["processed"] == 12
        sizes = {r["name"]: r["size"] for r in runner.lake.read("files").to_pylist()}
        assert sizes == {p.name: p.stat().st_size for p in first}

        # more files while the runner's consumers are already in their groups
        more = land(tmp_path / "inbox", 12, 5)
        ingest(settings, more)
        status = runner.run_until_idle(timeout=120)
        assert rows_by_name(runner) == {p.name: 1 for p in first + more}
        assert runner.lake.read("file_keys").num_rows == 17
        assert status["file_stats"]["processed"] == 17 and status["file_stats"]["duplicates"] == 0
        assert all(s["lag"] == 0 and s["dlq"] == 0 for s in status.values())


@pytest.mark.slow  # three runners, each joining its consumer groups
def test_restart_resumes_from_committed_offsets_without_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    first = land(tmp_path / "inbox", 0, 6)
    ingest(settings, first)
    with PipelineRunner(settings, pipeline(), EXECUTOR) as runner:
        runner.run_until_idle(timeout=120)
        assert rows_by_name(runner) == {p.name: 1 for p in first}

    # a runner that dies between the lake commit (step 2) and the offset commit (step 5)
    second = land(tmp_path / "inbox", 6, 4)
    ingest(settings, second)
    replayed: list[int] = []
    with PipelineRunner(settings, pipeline(), EXECUTOR) as runner:
        stats = runner.workers[0]
        assert stats.stage.name == "file_stats"
        real_commit_batch = stats.commit_batch

        def commit_batch(batch):  # type: ignore[no-untyped-def]
            replayed.append(len(batch.records))
            real_commit_batch(batch)

        def lost_commit(offsets=None):  # type: ignore[no-untyped-def]
            raise CommitError(settings.stream_url, "file_stats", "injected: crash before the offset commit")

        stats.commit_batch = commit_batch  # type: ignore[method-assign]
        stats.consumer.commit = lost_commit  # type: ignore[method-assign]
        with pytest.raises(CommitError, match="injected"):
            runner.run_until_idle(timeout=120)
        assert replayed and 1 <= replayed[0] <= 4
        assert len(rows_by_name(runner)) == 6 + replayed[0]  # in the lake, offsets not committed

    with PipelineRunner(settings, pipeline(), EXECUTOR) as runner:
        status = runner.run_until_idle(timeout=120)
        assert rows_by_name(runner) == {p.name: 1 for p in first + second}
        assert runner.lake.read("file_keys").num_rows == 10
        # only the uncommitted batch was read again: the 6 committed files were not
        fs = status["file_stats"]
        assert fs["duplicates"] == replayed[0] and fs["processed"] == 4 - replayed[0]
        # the second stage got the 4 new events once each, plus the re-publication of the replayed ones
        ks = status["key_summary"]
        assert ks["processed"] == 4 and ks["duplicates"] == replayed[0]
        keys = LakeSQL(runner.lake).query("SELECT event_id, count(*) AS n FROM file_keys GROUP BY 1")
        assert set(keys.column("n").to_pylist()) == {1} and keys.num_rows == 10


def test_malformed_record_and_failing_task_go_to_the_dlq(settings: Settings, tmp_path: Path) -> None:
    good = land(tmp_path / "inbox", 0, 5)
    ingest(settings, good)
    malformed = b'{"type": "file.landed", "key": "oops"'  # truncated JSON
    missing = Event(
        type="file.landed",
        key="ghost",
        data={"name": "ghost.csv"},
        # inside the store but never written (a URI outside the store is refused as bad input instead)
        refs=(ObjectRef(FsspecStore(settings.objects_url).raw_uri("0" * 64), "0" * 64),),
    )
    stream = open_stream(settings.stream_url)
    stream.publish(TOPIC, malformed, key="oops")
    stream.publish(TOPIC, missing.to_json(), key=missing.key)
    stream.flush()
    stream.close()
    with PipelineRunner(settings, pipeline(), EXECUTOR, backoff_base=0.05) as runner:
        status = runner.run_until_idle(timeout=120)
        assert rows_by_name(runner) == {p.name: 1 for p in good}  # the stream kept flowing
        fs = status["file_stats"]
        assert fs["dlq"] == 2 and fs["failed"] == 1 and fs["processed"] == 5
        quarantined = runner.catalog.list_quarantine(stage="file_stats")
        assert [q.source.startswith(f"{TOPIC}/") and "malformed" in q.problem for q in quarantined] == [True]
    dead = read_topic(settings, dlq_topic(TOPIC), 2)
    assert len(dead) == 2
    by_value = {r.value: r.headers for r in dead}
    bad = by_value[malformed]
    assert bad["error_type"] == "InputError" and "malformed" in bad["error"]
    assert bad["source"].startswith(f"{TOPIC}/") and bad["stage"] == "file_stats"
    ghost = by_value[missing.to_json()]
    assert ghost["event_id"] == missing.id and ghost["error"]
