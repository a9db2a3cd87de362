"""A stream of an ImageXpress plate whose HTD promises more sites than arrive: the plate waits for the
promised sites (not for the platemap's count), then fires on its watermark and quarantines the
missing sites against the HTD; the sites that did arrive are profiled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.instruments.microscope import MicroscopeSimulator
from labstream.phenomics.contract import CONTRACT
from labstream.runtime import PipelineRunner


@pytest.mark.slow
def test_an_htd_promising_more_sites_than_arrive_is_named(tmp_path: Path, small_spec) -> None:
    s = MicroscopeSimulator(small_spec).write(tmp_path / "ix", "imagexpress")
    htd = s.images / "P01" / "P01.HTD"
    htd.write_text(htd.read_text().replace('"SiteSelection1", TRUE', '"SiteSelection1", TRUE, TRUE'))
    settings = Settings(home=tmp_path / "home")
    ingestor = Ingestor(settings)
    for p in sorted((s.images / "P01").iterdir()):
        ingestor.ingest_file(p)
    with PipelineRunner(settings, CONTRACT.pipeline({"plate_timeout_s": 2.0}), "local?cpu=2") as runner:
        runner.run_until_idle(timeout=240)
        assert runner.status()["phenomics_plate"]["processed"] == 0  # 8 of 16 promised sites: waits
        deadline = time.monotonic() + 60
        while runner.status()["phenomics_map"]["processed"] < 1:
            assert time.monotonic() < deadline, runner.status()
            time.sleep(0.2)
            runner.run_until_idle(timeout=120)
        assert runner.status()["phenomics_route"]["processed"] == 81  # 40 images, 40 thumbnails, HTD
        assert len(runner.lake.read("well_profiles").to_pandas()) == 8
        (q,) = [q for q in runner.catalog.list_quarantine() if q.source == str(htd)]
        assert "promises 16 sites, only 8 arrived" in q.problem
