"""Placement wired into the runtime: a PipelineRunner with a SitePlacer places every task on a site and
compute class, runs it on that site's own executor, and writes (site, class, reason) into its lineage;
a task whose project may not run in any site's region is refused by residency and dead-lettered with
the refusal as its reason."""

from __future__ import annotations

from pathlib import Path

import site_stages

from labstream.compute import open_executor
from labstream.core.events import Event
from labstream.core.resources import ResourceRequest
from labstream.core.settings import Settings
from labstream.ops.pricebook import load_price_book
from labstream.runtime import PipelineRunner
from labstream.runtime.dlq import dlq_topic
from labstream.runtime.stage import Pipeline, Stage
from labstream.sites import sites_from_mapping
from labstream.sites.runtime import SitePlacer
from labstream.stream import open_stream

BOOK = load_price_book("labstream-2026-12")
SITES = {
    "sites": {
        "edge-lab": {
            "region": "eu-west-1",
            "role": "edge",
            "executor": "local?cpu=1&start=forkserver",
            "classes": {"small": {"cpu": 2, "memory_mb": 4096}},
        },
        "cloud-us": {
            "region": "us-east-1",
            "executor": "local?cpu=1&start=forkserver",
            "classes": {
                "cpu-large": {"cpu": 16, "memory_mb": 65536},
                "gpu-a10g": {"cpu": 16, "memory_mb": 65536, "gpu": {"A10G": 1}},
            },
        },
    }
}
ALLOWED = {"screen": ["eu-west-1", "us-east-1"], "eu-only": ["eu-west-1"], "clinical": ["eu-central-1"]}


def test_runner_places_each_task_records_why_and_dead_letters_a_residency_refusal(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    sites = sites_from_mapping(SITES, BOOK)
    # (project, inputs at) -> the site placement must pick
    cases = [
        ("screen", "edge-lab", "edge-lab"),  # data-local
        ("screen", None, "cloud-us"),  # no locality: the cheapest (us-east-1 prices below eu-west-1)
        ("eu-only", None, "edge-lab"),  # residency leaves only the EU site
        ("eu-only", "cloud-us", "edge-lab"),  # residency beats locality
        ("clinical", None, None),  # no site in eu-central-1: refused
    ]
    events = []
    for i, (project, data_site, _) in enumerate(cases * 2):
        data = {"n": i, **({"data_site": data_site} if data_site else {})}
        events.append(Event(type="n", key=f"k{i}", data=data, project=project))
    stream = open_stream(settings.stream_url)
    stream.create_topic("pl.in")
    for ev in events:
        stream.publish("pl.in", ev.to_json(), key=ev.key)
    stream.flush()
    stage = Stage(
        "pl_where", "1", "pl.in", site_stages.where, resources=ResourceRequest(cpu=1, memory_mb=512)
    )
    executors = {s.name: open_executor(s.executor) for s in sites}  # each site's own process pool
    placer = SitePlacer(sites, BOOK, ALLOWED, executors=executors)
    try:
        with PipelineRunner(settings, Pipeline("pl", (stage,)), "local?cpu=1", placer=placer) as runner:
            status = runner.run_until_idle(timeout=120)["pl_where"]
            rows = runner.lake.read("placed_rows").to_pandas()
            lineage = {r.event_id: r for r in runner.catalog.list_lineage(stage="pl_where")}
    finally:
        placer.close()
        for ex in executors.values():
            ex.close()
    assert status["processed"] == 8 and status["quarantined"] == 2 and status["dlq"] == 2

    pids = {}
    for ev, (project, data_site, want) in zip(events, cases * 2, strict=True):
        rec = lineage[ev.id]
        if want is None:
            assert rec.status == "quarantined"
            assert "cannot be placed (residency)" in rec.error and "eu-central-1" in rec.error
            continue
        placed = rec.request["placement"]
        assert rec.status == "ok" and placed["site"] == want, (project, data_site, placed)
        assert rec.executor == "local?cpu=1&start=forkserver"
        assert placed["class"] == ("small" if want == "edge-lab" else "cpu-large")  # CPU task avoids GPUs
        assert placed["reason"].startswith("residency: ") and placed["cost"] > 0
        assert ("data-local at edge-lab" in placed["reason"]) == (data_site == want == "edge-lab")
        assert rec.request["cpu"] == 1  # cost attribution still reads the request
        pids.setdefault(want, set()).update(rows.loc[rows["event_id"] == ev.id, "pid"])
    # each site's tasks ran in that site's own pool, none in the runner's
    assert pids["edge-lab"].isdisjoint(pids["cloud-us"]) and all(len(p) == 1 for p in pids.values())

    dead = []
    consumer = open_stream(settings.stream_url).consumer("reader", [dlq_topic("pl.in")])
    while batch := consumer.poll(500, timeout=0.3):
        dead += batch
    assert len(dead) == 2
    for rec in dead:
        assert rec.headers["error_type"] == "AccessDenied"
        assert (
            "(residency)" in rec.headers["error"]
            and "widen the project's allowed regions" in rec.headers["error"]
        )
