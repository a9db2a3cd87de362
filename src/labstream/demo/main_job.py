"""The main job on embedded defaults: a simulated microscope and a simulated sequencer write into
watched folders while the platform runs; every file is ingested as it lands, both pipelines run on the
same stream, executor and lake, and the results are read back the way a scientist would (SQL, events).

Nothing here is science: it wires the instruments (simulators), ingest, the runtime and the pipelines
together and measures turnaround time from the outside.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstream.core.events import Event
from labstream.core.settings import Settings, redact_url
from labstream.demo.genomics import demo_reference, genomics_summary
from labstream.demo.phenomics import phenomics_summary


@dataclass
class DemoSummary:
    home: Path
    seconds: float = 0.0
    ingest: dict[str, int] = field(default_factory=dict)
    phenomics: dict[str, Any] = field(default_factory=dict)
    genomics: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    quarantine: list[str] = field(default_factory=list)


def demo_settings(home: Path, executor_url: str | None = None) -> Settings:
    """The demo's settings: LABSTREAM_* (stream, executor, objects, lake, catalog) like every other face,
    state under `home/platform` for what they leave embedded; `executor_url` (--executor) wins if given."""
    overrides = {"executor_url": executor_url} if executor_url else {}
    return Settings(home=home / "platform", **overrides)


def run_demo(
    home: Path,
    *,
    plates: int = 2,
    sites_per_well: int = 1,
    size: int = 192,
    coverage: float = 30.0,
    chunks: int = 4,
    executor_url: str | None = None,
    timeout_s: float = 900.0,
    say: Callable[[str], None] = print,
    progress: Callable[[dict[str, tuple[int, int]]], None] | None = None,
) -> DemoSummary:
    """Run both instruments into watched folders until the final map and the sample's variants are out.

    `progress`, if given, is called about twice a second with {task: (done, total)}."""
    from labstream.core.topics import FEEDBACK_TOPIC
    from labstream.ingest import Ingestor, Watcher
    from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
    from labstream.instruments.sequencer import SimConfig, simulate_run, stream_chunks
    from labstream.pipelines import build_pipeline
    from labstream.runtime import PipelineRunner
    from labstream.runtime.stage import Pipeline

    started = time.monotonic()
    if home.exists():
        shutil.rmtree(home)
    settings = demo_settings(home, executor_url)
    say(
        f"backends: stream {settings.stream_url}, executor {settings.executor_url}, objects "
        f"{settings.objects_url}, lake {settings.lake_url}, catalog {redact_url(settings.catalog_url)}"
    )
    inbox = home / "instruments"
    micro_dir, seq_dir = inbox / "microscope", inbox / "sequencer"
    micro_dir.mkdir(parents=True)
    seq_dir.mkdir(parents=True)

    say("preparing instruments: a Cell Painting plate set and a sequencing run with planted variants")
    spec = PlateSetSpec(plates=plates, sites_per_well=sites_per_well, size=size, seed=3)
    scope = MicroscopeSimulator(spec)
    scope.write_metadata(micro_dir, "tiff")
    reference = demo_reference(home / "reference" / "lambda.fa")
    run = simulate_run(reference, home / "sequencer-run", SimConfig(coverage=coverage, sample="DEMO1"))
    total_pairs = int(run.pairs)

    # both pipelines from their contracts, configured as a lab would configure them (settings checked)
    settings_of = {
        "phenomics": {
            "relationships": str(micro_dir / "relationships.csv"),
            "sites_per_well": sites_per_well,
        },
        "genomics": {"reference": str(reference), "annotation": str(run.gff3), "known": str(run.known_vcf)}
        | {"threads": 2, "run": "demo"},
    }
    stages = [s for name, values in settings_of.items() for s in build_pipeline(name, values).stages]
    pipeline = Pipeline("demo", tuple(stages))
    ingestor = Ingestor(settings)
    watcher = Watcher(inbox, ingestor, settle_seconds=0.1, poll_interval=0.05)
    runner = PipelineRunner(settings, pipeline, poll_timeout=0.05)
    stop = threading.Event()
    landed: dict[str, float] = {}

    def microscope() -> None:
        for _key, _paths in scope.stream(micro_dir, "tiff", rate=0.0):
            pass
        landed["microscope_done"] = time.time()

    def sequencer() -> None:
        landed["sequencer_first"] = time.time()
        stream_chunks(
            run.r1,
            run.r2,
            seq_dir,
            sample="DEMO1",
            pairs_per_chunk=max(1, -(-total_pairs // chunks)),
            interval_s=0.5,
            total_pairs=total_pairs,
        )
        landed["sequencer_done"] = time.time()

    threads = [
        threading.Thread(target=watcher.run, args=(stop,), daemon=True),
        threading.Thread(target=runner.run_forever, args=(stop,), daemon=True),
        threading.Thread(target=microscope, daemon=True),
        threading.Thread(target=sequencer, daemon=True),
    ]
    for t in threads:
        t.start()
    say(
        f"streaming {plates} plates x {len(scope.platemap('tiff')) // plates} wells x 5 channels and "
        f"{chunks} FASTQ chunk pairs ({total_pairs} read pairs) into {inbox}"
    )

    from labstream.stream import open_stream

    reader = open_stream(settings.stream_url)
    lab = reader.consumer("demo-lab", [FEEDBACK_TOPIC, "gx.called"])
    feedback: list[Event] = []
    called: list[Event] = []
    deadline = time.monotonic() + timeout_s
    n_sites = len(list(scope.sites("tiff")))
    expected = {
        "files ingested": 5 * n_sites + 2 * chunks,
        "sites measured": n_sites,
        "plates mapped": plates,
        "FASTQ chunks aligned": chunks,
        "samples called": 1,
    }
    last_progress = 0.0
    settled_by: float | None = None
    try:
        while time.monotonic() < deadline:
            for rec in lab.poll(max_records=100, timeout=0.2):
                ev = Event.from_json(rec.value)
                (feedback if rec.topic == FEEDBACK_TOPIC else called).append(ev)
                if rec.topic == FEEDBACK_TOPIC:
                    say(
                        f"feedback: map refreshed after plate {ev.key} ({ev.data['plates']} plate(s)): "
                        f"{len(ev.data['hits'])} hits"
                    )
                else:
                    landed["variants_at"] = time.time()
                    say(f"variants called for sample {ev.key}: {ev.data['variants']}")
            lab.commit()
            science_done = bool(called and feedback and max(e.data["plates"] for e in feedback) >= plates)
            if science_done and settled_by is None:
                settled_by = time.monotonic() + 30.0  # a retried batch may still be counting
            if science_done or time.monotonic() - last_progress > 0.5:
                last_progress = time.monotonic()
                done = _counts(runner.status(), watcher.stats.published, feedback, called)
                counted = all(done[k] >= v for k, v in expected.items())
                if progress is not None:
                    progress({k: (min(done[k], v), v) for k, v in expected.items()})
                if science_done and (counted or time.monotonic() > (settled_by or 0.0)):
                    break
        else:
            raise TimeoutError(f"demo not finished after {timeout_s}s; status {runner.status()}")
    finally:
        stop.set()
        for t in threads[:2]:
            t.join(timeout=30)
        lab.close()
        reader.close()
    summary = DemoSummary(home=home, seconds=time.monotonic() - started)
    summary.stages = runner.status()
    summary.ingest = {
        "published": watcher.stats.published,
        "duplicates": watcher.stats.duplicate,
        "quarantined": watcher.stats.quarantined,
    }
    summary.phenomics = phenomics_summary(runner, feedback[-1] if feedback else None)
    summary.genomics = genomics_summary(
        runner, ingestor, called[-1] if called else None, run, reference, landed
    )
    summary.quarantine = [f"{q.stage}: {q.problem}" for q in runner.catalog.list_quarantine()]
    runner.close()
    ingestor.close()
    return summary


def _counts(status: dict, published: int, feedback: list[Event], called: list[Event]) -> dict[str, int]:
    """What the demo's progress bars show, from the runner's stage counters and the lab's events."""
    return {
        "files ingested": published,
        "sites measured": int(status.get("phenomics_site", {}).get("processed", 0)),
        "plates mapped": max((e.data["plates"] for e in feedback), default=0),
        "FASTQ chunks aligned": int(status.get("gx_align", {}).get("processed", 0)),
        "samples called": len(called),
    }
