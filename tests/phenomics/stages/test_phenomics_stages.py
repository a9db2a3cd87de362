"""The phenomics chain on the platform: ingest -> stream -> stages -> Delta lake, feedback topic."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tifffile

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.instruments.microscope import MicroscopeSimulator
from labstream.lake import LakeSQL
from labstream.phenomics.stages import FEEDBACK_TOPIC, pipeline
from labstream.runtime import PipelineRunner
from labstream.stream import open_stream


@pytest.mark.slow
def test_plates_stream_through_the_stages(tmp_path: Path, small_spec) -> None:
    two = MicroscopeSimulator(replace(small_spec, plates=2)).write(tmp_path / "sim", "tiff")
    settings = Settings(home=tmp_path / "home")
    plate_dir = tmp_path / "microscope"
    shutil.copytree(two.images, plate_dir)
    shutil.copy(two.platemap, plate_dir / "platemap.csv")
    empty = plate_dir / "P01_A02_s1_w1.tif"
    tifffile.imwrite(empty, np.full((192, 192), 300, np.uint16))  # an empty field: reported, plate completes
    files = sorted(p for p in plate_dir.glob("*.tif"))
    ingestor = Ingestor(settings)
    for p in files:
        assert ingestor.ingest_file(p).status == "published"
    with PipelineRunner(settings, pipeline(relationships=str(two.relationships)), "local?cpu=2") as runner:
        status = runner.run_until_idle(timeout=240)
        assert status["phenomics_plate"]["processed"] == 2, status
        assert status["phenomics_map"]["processed"] == 2, status  # the map refreshed as each plate completed
        sql = LakeSQL(runner.lake)
        per_site = sql.query("SELECT Metadata_Well AS well, count(*) AS n FROM cells GROUP BY 1").to_pylist()
        qc = runner.lake.read("site_qc").to_pandas()
        assert len(qc) == len(files) // 5
        bad = qc[qc.error.notna()]
        assert list(bad.Metadata_Well) == ["A02"] and list(bad.Metadata_Plate) == ["P01"]
        assert "empty field" in bad.error.iloc[0]
        assert bad.source.iloc[0] == str(empty)
        assert sum(r["n"] for r in per_site) == int(qc.n_cells.sum()) > 0
        wells = runner.lake.read("well_profiles").to_pandas()
        assert len(wells) == len(qc) - 1 and wells.lineage_id.notna().all()
        act = runner.lake.read("phenotypic_activity").to_pandas()
        # one activity table per map refresh (per completed plate); the last one saw both plates
        assert set(act.trigger_plate) == {"P01", "P02"} and act.plates.max() == 2
        assert all(g.Metadata_Perturbation.is_unique for _, g in act.groupby("trigger_plate"))
        hits = (
            runner.lake.read("phenomics_hits").to_pandas()
            if "phenomics_hits" in runner.lake.tables()
            else None
        )
        # the hit list went back to the lab on the feedback topic
        consumer = open_stream(settings.stream_url).consumer("lab", [FEEDBACK_TOPIC])
        recs = consumer.poll(timeout=2.0)
        assert len(recs) == 2
        evs = {Event.from_json(r.value).key: Event.from_json(r.value) for r in recs}
        assert set(evs) == {"P01", "P02"}
        assert all(e.type == "phenomics.hits" and len(e.refs) == 2 for e in evs.values())
        if hits is not None:
            for plate, e in evs.items():
                assert sorted(hits[hits.trigger_plate == plate].Metadata_Perturbation) == sorted(
                    e.data["hits"]
                )
        consumer.close()


@pytest.mark.slow
def test_each_projects_map_uses_only_its_own_plates(tmp_path: Path, small_spec) -> None:
    """Regression: the map stage read every project's completed plates (a cross-project leak)."""
    two = MicroscopeSimulator(replace(small_spec, plates=2)).write(tmp_path / "sim", "tiff")
    settings = Settings(home=tmp_path / "home")
    plate_dir = tmp_path / "microscope"
    shutil.copytree(two.images, plate_dir)
    shutil.copy(two.platemap, plate_dir / "platemap.csv")
    ingestor = Ingestor(settings)
    for p in sorted(plate_dir.glob("*.tif")):
        project = "alpha" if p.name.startswith("P01") else "beta"
        assert ingestor.ingest_file(p, project=project).status == "published"
    with PipelineRunner(settings, pipeline(relationships=str(two.relationships)), "local?cpu=2") as runner:
        status = runner.run_until_idle(timeout=240)
        assert status["phenomics_map"]["processed"] == 2, status
        prof = runner.lake.read("perturbation_profiles").to_pandas()
    assert set(zip(prof.project, prof.plates, strict=True)) == {("alpha", 1), ("beta", 1)}
    consumer = open_stream(settings.stream_url).consumer("lab", [FEEDBACK_TOPIC])
    evs = [Event.from_json(r.value) for r in consumer.poll(timeout=2.0)]
    consumer.close()
    assert sorted((e.project, e.data["plates"]) for e in evs) == [("alpha", 1), ("beta", 1)]
