"""Real-time mode on the runtime: chunks land one by one, interim calls refresh, the end equals batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.genomics.evaluate import evaluate
from labstream.genomics.interim_calls import due, refresh_schedule
from labstream.genomics.reference import open_reference
from labstream.genomics.stages import genomics_pipeline
from labstream.ingest import Ingestor
from labstream.instruments.sequencer import stream_chunks
from labstream.lake import LakeSQL
from labstream.runtime import PipelineRunner
from labstream.stream import open_stream


def _events(settings: Settings, topic: str) -> list[Event]:
    stream = open_stream(settings.stream_url)
    try:
        consumer = stream.consumer("test-reader", [topic])
        out: list[Event] = []
        while recs := consumer.poll(max_records=500, timeout=0.2):
            out.extend(Event.from_json(r.value) for r in recs)
        consumer.close()
        return out
    finally:
        stream.close()


def _recall(vcf_rows: list[dict], truth: set[tuple[int, str]]) -> float:
    return len({(r["start"], r["alt"]) for r in vcf_rows} & truth) / max(len(truth), 1)


@pytest.mark.slow
def test_realtime_refreshes_then_equals_batch(batch_result, sim_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path / "home")
    landed = stream_chunks(
        sim_run.r1,
        sim_run.r2,
        tmp_path / "watch",
        sample="LAM1",
        pairs_per_chunk=1200,
        total_pairs=sim_run.pairs,
    )
    total = len(landed) // 2
    assert total >= 4
    ingestor = Ingestor(settings)
    pipe = genomics_pipeline(sim_run.reference, annotation=sim_run.gff3, known=sim_run.known_vcf, run="rt1")
    with PipelineRunner(settings, pipe, "local?cpu=2") as runner:
        for i in range(total):  # the sequencer finishes one chunk (both mates) at a time
            for p in landed[2 * i : 2 * i + 2]:
                assert ingestor.ingest_file(p, instrument="sequencer").status == "published"
            status = runner.run_until_idle(timeout=120)
            assert all(s["dlq"] == 0 for s in status.values()), status
        sql = LakeSQL(runner.lake)
        interim = sql.query(
            "SELECT chunks_seen, chunks_total, start, alt, gt, elapsed_s FROM variants_interim"
        ).to_pylist()
        final = runner.lake.read("variants").to_pylist()

    refreshed = [e for e in _events(settings, "gx.refreshed") if e.type == "gx.sample.refreshed"]
    called = [e for e in _events(settings, "gx.called") if e.type == "gx.sample.called"]
    # one refresh per chunk before the last while the chunks so far grew by half since the last
    # refresh (the last chunk makes the final call instead)
    schedule = refresh_schedule(total)
    assert schedule[:3] == [1, 2, 3] and set(schedule) <= set(range(1, total))
    assert [e.data["chunks_seen"] for e in refreshed] == schedule
    assert {r["chunks_seen"] for r in interim} <= set(schedule)
    assert all(e.data["cpu_s"] > 0 and e.data["wall_s"] > 0 for e in refreshed)
    assert all(r["chunks_total"] == total for r in interim)
    elapsed = [e.data["elapsed_s"] for e in refreshed]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    first_with_calls = next(e for e in refreshed if e.data["variants"] > 0)
    ttfv = first_with_calls.data["time_to_first_variants_s"]
    assert ttfv == pytest.approx(first_with_calls.data["elapsed_s"])
    later = refreshed[refreshed.index(first_with_calls) :]
    assert all(e.data["time_to_first_variants_s"] == ttfv for e in later)

    # coverage grows -> recall against the planted truth grows from the first to the last snapshot
    truth = {(v.pos - 1, v.alt) for v in sim_run.variants}
    by_seen = {k: [r for r in interim if r["chunks_seen"] == k] for k in schedule}
    assert _recall(by_seen[schedule[-1]], truth) > _recall(by_seen[1], truth)

    # the final result is the batch result, and it says how long the first variants took
    assert len(called) == 1
    assert called[0].data["time_to_first_variants_s"] == pytest.approx(ttfv)
    assert called[0].data["first_variants_from"] == "refresh"
    assert 0 < ttfv < called[0].data["turnaround_s"]
    assert sorted((r["start"], r["ref"], r["alt"], r["gt"], r["dp"]) for r in final) == sorted(
        (r["start"], r["ref"], r["alt"], r["gt"], r["dp"]) for r in batch_result.variants
    )
    m = evaluate(open_reference(sim_run.reference), sim_run.truth_vcf, batch_result.vcf)
    assert _recall(final, truth) >= _recall(by_seen[schedule[-1]], truth) and m["SNP"].recall > 0.9


def test_refreshes_grow_geometrically() -> None:
    assert refresh_schedule(8) == [1, 2, 3, 5]
    assert refresh_schedule(8, growth=0) == list(range(1, 8))  # every chunk
    assert refresh_schedule(1) == []  # the only chunk is the final call
    big = refresh_schedule(1000)
    assert len(big) < 20 and sum(big) < 3.5 * 1000  # all refreshes together: a few final calls' work
    assert due(4, 4, 0.5) and not due(4, 3, 0.5) and due(5, 3, 0.5)  # a replay is redone
