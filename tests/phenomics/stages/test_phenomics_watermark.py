"""Streaming gaps do not stall a plate: a site missing a channel and a platemap well never imaged are
quarantined (named), and the plate fires on its watermark with what it has."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.ingest import Ingestor
from labstream.phenomics.stages import PLATES_TOPIC, pipeline
from labstream.runtime import PipelineRunner
from labstream.stream import open_stream


def test_missing_channel_and_unimaged_well_do_not_stall_the_plate(tmp_path: Path, tiff_set) -> None:  # type: ignore[no-untyped-def]
    plate_dir = tmp_path / "microscope"
    shutil.copytree(tiff_set.images, plate_dir)
    shutil.copy(tiff_set.platemap, plate_dir / "platemap.csv")
    pm = pd.read_csv(tiff_set.platemap)
    wells = sorted(pm.well.astype(str) if "well" in pm else pm.Metadata_Well.astype(str))
    lacking, never = wells[0], wells[-1]
    gone = sorted(plate_dir.glob(f"*_{lacking}_s1_w3.tif"))  # RNA of one site never lands
    assert len(gone) == 1
    gone[0].unlink()
    for f in plate_dir.glob(f"*_{never}_s1_w*.tif"):  # a platemap well never imaged
        f.unlink()
    settings = Settings(home=tmp_path / "home")
    ingestor = Ingestor(settings)
    for p in sorted(plate_dir.glob("*.tif")):
        assert ingestor.ingest_file(p).status == "published"
    pipe = pipeline(site_timeout_s=1.0, plate_timeout_s=5.0)
    with PipelineRunner(settings, pipe, "local?cpu=2") as runner:
        runner.run_until_idle(timeout=240)
        deadline = time.monotonic() + 60
        while runner.status()["phenomics_map"]["processed"] < 1:  # no new file: idle steps fire it
            assert time.monotonic() < deadline, runner.status()
            time.sleep(0.2)
            runner.run_until_idle(timeout=120)
        status = runner.status()
        assert status["phenomics_site"]["watermark_fired"] == 1
        assert status["phenomics_site"]["quarantined"] == 1
        assert status["phenomics_plate"]["watermark_fired"] == 1
        assert status["phenomics_plate"]["processed"] == 1 and status["phenomics_plate"]["quarantined"] == 1

        qc = runner.lake.read("site_qc").to_pandas()
        bad = qc[qc.error.notna()]
        assert list(bad.Metadata_Well) == [lacking]
        assert "lacks channel(s) w3 (RNA)" in bad.error.iloc[0]
        assert str(gone[0]).replace("_w3", "_w1") in bad.source.iloc[0]
        assert set(qc.Metadata_Well) == set(wells) - {never}

        quarantine = {q.stage: q for q in runner.catalog.list_quarantine()}
        site_q = quarantine["phenomics_site"]
        assert (
            f"/{lacking}/s1 lacks" in site_q.problem and str(gone[0]).replace("_w3", "_w2") in site_q.source
        )
        plate_q = quarantine["phenomics_plate"]
        assert plate_q.source == str(plate_dir / "platemap.csv") and f"well {never}" in plate_q.problem

        profiled = runner.lake.read("well_profiles").to_pandas()
        assert sorted(profiled.Metadata_Well) == sorted(set(wells) - {lacking, never})
        consumer = open_stream(settings.stream_url).consumer("probe", [PLATES_TOPIC])
        plates = [Event.from_json(r.value) for r in consumer.poll(max_records=10, timeout=2.0)]
        consumer.close()
        assert len(plates) == 1
        assert plates[0].data["partial"] is True and plates[0].data["missing_wells"] == [never]
        assert plates[0].data["missing_sites"] == 1
        lineage = runner.catalog.list_lineage(stage="phenomics_plate")
        assert [r.status for r in lineage] == ["ok"]
