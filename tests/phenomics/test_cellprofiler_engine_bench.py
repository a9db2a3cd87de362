"""bench/cellprofiler_engine.py, the parts that need no CellProfiler: its LoadData CSV, the per-cell
join of its exported tables, what counts as a feature, and the per-module CPU read from its log.

CellProfiler itself lives in a separate venv that CI never builds (`make bench-cellprofiler`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("cellprofiler_engine", BENCH / "cellprofiler_engine.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["cellprofiler_engine"] = mod  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("cellprofiler_engine", None)


def test_load_data_lists_every_complete_site_with_its_five_files(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec

    res = MicroscopeSimulator(PlateSetSpec(plates=1, sites_per_well=1, size=64, complexes=1, nulls=1)).write(
        tmp_path / "set"
    )
    victim = sorted(Path(res.images).glob("*_w3.tif"))[0]  # a site missing its RNA channel is left out
    victim.unlink()
    keys = engine.write_load_data(res.images, tmp_path / "load.csv")
    df = pd.read_csv(tmp_path / "load.csv", dtype={"Metadata_Well": str})
    pm = pd.read_csv(res.platemap)
    assert len(df) == len(keys) == len(pm) - 1
    for row in df.itertuples():
        for ch, name in enumerate(engine.CHANNELS, start=1):
            f = Path(getattr(row, f"PathName_{name}")) / getattr(row, f"FileName_{name}")
            assert (
                f.exists()
                and f.name == f"{row.Metadata_Plate}_{row.Metadata_Well}_s{row.Metadata_Site}_w{ch}.tif"
            )
    assert victim.name.rsplit("_", 1)[0] not in {f.rsplit("_", 1)[0] for f in df.FileName_DNA}
    assert len(engine.write_load_data(res.images, tmp_path / "two.csv", limit=2)) == 2


def test_cell_table_joins_objects_per_image_and_counts_only_morphology(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    meta = {"Metadata_Plate": "P1", "Metadata_Well": "A01", "Metadata_Site": 1}
    for obj in engine.OBJECTS:
        rows = [
            {
                "ImageNumber": img,
                "ObjectNumber": o,
                **meta,
                "AreaShape_Area": 10 * img + o,
                "Location_Center_X": 1.0,
            }
            for img in (1, 2)
            for o in (1, 2, 3)
            if not (obj == "Cytoplasm" and img == 2 and o == 3)  # a cell without cytoplasm drops out
        ]
        df = pd.DataFrame(rows)
        if obj != "Nuclei":
            df["Parent_Nuclei"] = df.ObjectNumber
        pd.DataFrame(df).to_csv(tmp_path / f"{obj}.csv", index=False)
    cells = engine.cell_table(tmp_path)
    assert len(cells) == 5
    assert (cells.Nuclei_AreaShape_Area == cells.Cytoplasm_AreaShape_Area).all()  # same object joined
    run = engine.CellProfilerRun(1, cells, pd.DataFrame(), 0.0, {}, 0.0, 0.0)
    assert sorted(run.feature_columns) == sorted(f"{o}_AreaShape_Area" for o in engine.OBJECTS)


def test_module_cpu_is_summed_per_module_over_image_sets(engine) -> None:  # type: ignore[no-untyped-def]
    line = (
        "[CP - INFO] cellprofiler_core.pipeline._pipeline::run_with_yield: Sat Nov 21 19:08:03 2026: "
        "Image # {i}, module {m} # {k}: CPU_time = {c} secs, Wall_time = 9.99 secs\n"
    )
    log = "".join(
        line.format(i=i, m=m, k=k, c=c)
        for i in (1, 2)
        for k, m, c in ((2, "IdentifyPrimaryObjects", 0.25 * i), (8, "MeasureTexture", 8.5))
    )
    got = engine.module_cpu_seconds(log + "unrelated line\n")
    assert got == pytest.approx({"02IdentifyPrimaryObjects": 0.75, "08MeasureTexture": 17.0})


def test_bench_entry_says_how_to_get_cellprofiler_when_its_venv_is_missing(
    engine, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(engine, "VENV", tmp_path / "absent")
    out = engine.bench_entry({"images": str(tmp_path), "platemap": str(tmp_path / "p.csv")}, 1, {})
    assert "make bench-cellprofiler" in out["skipped"]
