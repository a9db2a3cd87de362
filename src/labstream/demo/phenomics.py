"""A streaming phenomics demo on embedded defaults: a simulated microscope writes sites into a folder,
each file is ingested as it lands, the stages run, and the map refreshes as plates complete.

`labstream demo` (cli/demo.py) can call `run_streaming_demo`; it returns what it found, including how
long each site took from landing to its cells being queryable in the lake.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstream.core.events import Event
from labstream.core.settings import Settings


@dataclass
class DemoResult:
    sites: int
    cells: int
    quarantined: int
    seconds_to_queryable: list[float] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def hits(self) -> list[str]:
        return list(self.feedback[-1]["hits"]) if self.feedback else []


def run_streaming_demo(
    home: str | Path,
    *,
    plates: int = 2,
    sites_per_well: int = 1,
    size: int = 192,
    rate: float = 0.0,
    executor_url: str = "local?cpu=2",
    seed: int = 0,
    say: Any = None,
    spec: Any = None,
) -> DemoResult:
    """Stream a simulated plate set through ingest -> stages -> lake; returns QC counts, hits, latency."""
    from labstream.ingest import Ingestor
    from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
    from labstream.lake import LakeSQL
    from labstream.phenomics.stages import FEEDBACK_TOPIC, pipeline
    from labstream.runtime import PipelineRunner
    from labstream.stream import open_stream

    home = Path(home)
    settings = Settings(home=home / "labstream")
    folder = home / "microscope"
    spec = spec or PlateSetSpec(plates=plates, sites_per_well=sites_per_well, size=size, seed=seed)
    sites_per_well = spec.sites_per_well
    sim = MicroscopeSimulator(spec)
    sim.write_metadata(folder, "tiff")
    ingestor = Ingestor(settings)
    latencies: list[float] = []
    with PipelineRunner(
        settings,
        pipeline(relationships=str(folder / "relationships.csv"), sites_per_well=sites_per_well),
        executor_url,
    ) as runner:
        sql = LakeSQL(runner.lake)
        for key, paths in sim.stream(folder, "tiff", rate=rate):
            landed = time.perf_counter()
            for p in paths:
                ingestor.ingest_file(p)
            runner.run_until_idle(timeout=300)
            n = sql.query(
                f"SELECT count(*) AS n FROM site_qc WHERE Metadata_Plate = '{key.plate}' AND "
                f"Metadata_Well = '{key.well}' AND Metadata_Site = {key.site}"
            ).to_pylist()[0]["n"]
            if n:
                latencies.append(time.perf_counter() - landed)
            if say:
                say(f"{key.id}: queryable after {latencies[-1]:.2f}s" if n else f"{key.id}: not yet visible")
        status = runner.status()
        qc = runner.lake.read("site_qc").to_pandas()
        consumer = open_stream(settings.stream_url).consumer("demo-lab", [FEEDBACK_TOPIC])
        feedback = [Event.from_json(r.value).data for r in consumer.poll(max_records=100, timeout=1.0)]
        consumer.close()
    return DemoResult(
        sites=len(qc),
        cells=int(qc.n_cells.fillna(0).sum()),
        quarantined=int(qc.error.notna().sum()),
        seconds_to_queryable=latencies,
        feedback=sorted(feedback, key=lambda d: d["plates"]),
        status=status,
    )


def phenomics_summary(runner: Any, fb: Event | None) -> dict[str, Any]:
    from labstream.lake import LakeSQL

    sql = LakeSQL(runner.lake)
    qc = sql.query(
        "SELECT count(*) AS sites, sum(n_cells) AS cells, "
        "sum(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END) AS failed FROM site_qc"
    ).to_pylist()[0]
    out: dict[str, Any] = {"sites": qc["sites"], "cells": int(qc["cells"] or 0), "failed_sites": qc["failed"]}
    if fb is not None:
        out["hits"] = list(fb.data["hits"])
        out["metrics"] = dict(fb.data["metrics"])
        out["plates"] = fb.data["plates"]
        out["follow_up_layout"] = fb.refs[0].uri
    return out
