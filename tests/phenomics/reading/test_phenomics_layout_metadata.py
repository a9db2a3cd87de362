"""Bad exports per layout: each broken promise of the metadata is an error naming the metadata file,
and the rest of the plate is still processed. A channel map naming a stain twice is refused."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.errors import ConfigError, InputError
from labstream.instruments.microscope import MicroscopeSimulator, SimulatedSet
from labstream.layouts import PlateMetadata
from labstream.phenomics.contract import CONTRACT
from labstream.phenomics.reading import ReadOptions, channel_setting, discover, resolve_channels, stain_of


def _set(tmp_path: Path, small_spec, layout: str) -> SimulatedSet:
    return MicroscopeSimulator(replace(small_spec, sites_per_well=2)).write(tmp_path / layout, layout)


def _profile(s: SimulatedSet, out: Path) -> dict:
    args = [
        "phenomics",
        "profile",
        "--images",
        str(s.images),
        "--platemap",
        str(s.platemap),
        "--out",
        str(out),
    ]
    res = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert res.exit_code == 0, res.output
    return json.loads((out / "metrics.json").read_text())


def _problems(metrics: dict, source_end: str) -> list[str]:
    return [q["problem"] for q in metrics["quarantined"] if q["source"].endswith(source_end)]


def test_an_index_naming_missing_files_names_them_and_the_rest_is_profiled(tmp_path, small_spec) -> None:
    s = _set(tmp_path, small_spec, "phenix")
    images = s.images / "P01" / "Images"
    for lost in images.glob("r01c01f02p0?-ch3*.tiff"):
        lost.unlink()
    m = _profile(s, tmp_path / "out")
    (problem,) = _problems(m, "Index.idx.xml")
    assert re.search(r"lists 2 image\(s\) that are missing: r01c01f02p01-ch3sk1fk1fl1.tiff", problem)
    assert m["qc"]["sites_measured"] == m["qc"]["sites_total"] - 1 == 15


def test_an_index_naming_a_well_the_files_lack(tmp_path, small_spec) -> None:
    s = _set(tmp_path, small_spec, "phenix")
    for f in (s.images / "P01" / "Images").glob("r01c02*.tiff"):
        f.unlink()
    errors: list[InputError] = []
    sites = discover(s.images, errors)
    assert len(sites) == 14
    assert any(
        str(e).endswith("no image of it was found; re-export the well") and "well A02" in str(e)
        for e in errors
    )
    assert all(e.source.endswith("Index.idx.xml") for e in errors)


@pytest.mark.parametrize("layout", ["imagexpress", "cellvoyager"])
def test_metadata_promising_more_sites_than_arrive(tmp_path, small_spec, layout: str) -> None:
    s = _set(tmp_path, small_spec, layout)
    for f in (s.images / "P01").glob("P01_B01_*"):
        if "_s2_" in f.name or "F002" in f.name:
            f.unlink()
    m = _profile(s, tmp_path / "out")
    meta = "P01.HTD" if layout == "imagexpress" else ".mlf"
    assert any("promises 2 sites for well B01, only 1 arrived" in p for p in _problems(m, meta)), m[
        "quarantined"
    ]
    assert m["qc"]["sites_measured"] == 15


def test_a_channel_map_naming_a_stain_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="names stain DNA twice"):
        channel_setting("DNA=w1,ER=w2,RNA=w3,AGP=w4,dna=w5")
    with pytest.raises(ConfigError, match="names stain DNA twice"):
        channel_setting({"w1": "DNA", "w2": "DNA"})
    with pytest.raises(ConfigError, match="channels names stain DNA twice"):
        CONTRACT.configure({"channels": {"w1": "DNA", "w2": "DNA"}})
    res = CliRunner().invoke(
        app,
        [
            "phenomics",
            "profile",
            "--images",
            ".",
            "--platemap",
            "x",
            "--out",
            "o",
            "--channels",
            "DNA=w1,DNA=w2",
        ],
    )
    assert res.exit_code != 0 and "twice" in res.output


def test_metadata_naming_a_stain_twice_or_missing_one_names_the_file(tmp_path, small_spec) -> None:
    meta = PlateMetadata("P.HTD", stains={"w1": "Hoechst 33342", "w2": "DAPI", "w3": "SYTO 14"})
    with pytest.raises(InputError, match=r"^P.HTD: channels w1 and w2 are both DNA"):
        resolve_channels({"w1", "w2", "w3"}, meta, None, "img.tif")
    meta = PlateMetadata("P.HTD", stains={"w1": "Hoechst", "w2": "ConA", "w3": "SYTO 14", "w4": "WGA"})
    with pytest.raises(InputError, match=r"^P.HTD: .*do not cover stain\(s\) Mito; set channels"):
        resolve_channels({"w1", "w2", "w3", "w4"}, meta, None, "img.tif")
    s = _set(tmp_path, small_spec, "imagexpress")
    htd = s.images / "P01" / "P01.HTD"
    htd.write_text(htd.read_text().replace("MitoTracker Deep Red", "DAPI"))
    errors: list[InputError] = []
    assert discover(s.images, errors) == {}
    assert [e.source for e in errors] == [str(htd)]


def test_stain_names_and_a_user_map_put_channels_right(tmp_path, small_spec) -> None:
    assert [
        stain_of(n)
        for n in (
            "Hoechst 33342",
            "Alexa 488 Concanavalin A",
            "SYTO14",
            "Phalloidin/WGA 568",
            "MitoTracker Deep Red",
            "Brightfield",
        )
    ] == ["DNA", "ER", "RNA", "AGP", "Mito", None]
    # the simulator's CellVoyager export stores AGP, DNA, Mito, ER, RNA as C01..C05
    s = _set(tmp_path, small_spec, "cellvoyager")
    (s.images / "P01" / "MeasurementDetail.mrf").unlink()  # no stain names: the map must say
    by_number = discover(s.images)
    mapped = discover(s.images, options=ReadOptions(channels="DNA=C02,ER=C04,RNA=C05,AGP=1,Mito=C03"))
    key = sorted(mapped)[0]
    assert str(mapped[key][0]).endswith("C02.tif") and str(by_number[key][0]).endswith("C01.tif")
    assert str(mapped[key][3]).endswith("C01.tif")
