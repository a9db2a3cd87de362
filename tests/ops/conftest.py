"""A small filestats run through the platform (ingest, sqlite stream, process pool, Delta lake,
catalog) shared by the ops tests: 3 samples in 2 projects, 6 files, one duplicate ingest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ops_run import SAMPLES

from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.pipelines import build_pipeline
from labstream.runtime import PipelineRunner


@pytest.fixture(scope="package")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Made once for the ops tests (a run takes seconds); tests only read it or refresh idempotently."""
    tmp_path = tmp_path_factory.mktemp("ops-run")
    with pytest.MonkeyPatch.context() as mp:  # the per-test clean environment is not in force yet
        for name in list(os.environ):
            if name.startswith("LABSTREAM_"):
                mp.delenv(name)
        return _run(tmp_path)


def _run(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    folder = tmp_path / "instrument"
    folder.mkdir()
    ingestor = Ingestor(settings)
    for (project, sample), files in SAMPLES.items():
        for i in range(files):
            p = folder / f"{sample}_{i}.csv"
            p.write_text(f"{sample},{i}\n" * (i + 1))
            assert ingestor.ingest_file(p, key=sample, project=project).status == "published"
    dup = folder / "S1_0.csv"
    assert ingestor.ingest_file(dup, key="S1", project="alpha").status == "duplicate"  # free: no task
    with PipelineRunner(settings, build_pipeline("filestats"), "local?cpu=2") as runner:
        runner.run_until_idle(timeout=120)
    return settings
