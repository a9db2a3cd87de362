"""The instrument image layouts: names real exports use, and what their metadata files promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import ConfigError, InputError
from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.layouts import detect, get_layout, image_layouts

GUID = "A1B2C3D4-1111-2222-3333-444455556666"
TINY = PlateSetSpec(
    plates=1,
    complexes=1,
    genes_per_complex=1,
    nulls=1,
    negative_controls=1,
    positive_controls=1,
    sites_per_well=2,
    size=64,
)


@pytest.mark.parametrize(
    ("name", "layout", "fields"),
    [
        (f"BR_00_117_A01_s2_w3{GUID}.tif", "imagexpress", {"plate": "BR_00_117", "site": 2, "label": "w3"}),
        (f"P1_B02_s1_w1_thumb{GUID}.tif", "imagexpress", {"plate": "P1", "well": "B02", "role": "thumbnail"}),
        ("BR_00_A01_s2_w3.tif", "site-tiff", {"plate": "BR_00", "channel": 3}),
        (
            "X__2026-01-02T10_00/Images/r02c03f04p02-ch3sk1fk1fl1.tiff",
            "phenix",
            {"plate": "X", "well": "B03", "site": 4, "plane": 2, "label": "ch3"},
        ),
        (
            "My_Plate_P03_T0001F012L01A01Z02C04.tif",
            "cellvoyager",
            {"plate": "My_Plate", "well": "P03", "site": 12, "plane": 2, "label": "C04"},
        ),
        ("P1_C03_s2.ome.tif", "ome-tiff", {"plate": "P1", "well": "C03", "channel": 0}),
    ],
)
def test_each_instrument_name_is_read_by_its_layout(name: str, layout: str, fields: dict) -> None:
    found = detect(name)
    assert found.layout == layout and found.instrument == "microscope"
    assert {k: found[k] for k in fields} == fields


def test_a_user_pattern_reads_named_fields_and_refuses_a_pattern_without_them() -> None:
    (pat,) = image_layouts(
        "pattern", r"(?P<plate>.+)_(?P<well>[A-P][0-9]{2})_f(?P<site>\d+)_(?P<channel>\w+)\.tif"
    )
    found = pat.parse(Path("P_1_B07_f3_Hoechst.tif"))
    assert found is not None and (found["plate"], found["well"], found["site"], found["label"]) == (
        "P_1",
        "B07",
        3,
        "Hoechst",
    )
    with pytest.raises(ConfigError, match=r"lacks the named field\(s\) \['well'\]"):
        image_layouts(None, r"(?P<plate>.+)_(?P<channel>\w+)\.tif")
    with pytest.raises(ConfigError, match="needs a name_pattern"):
        image_layouts("pattern")


@pytest.mark.parametrize("layout", ["imagexpress", "phenix", "cellvoyager", "ome-tiff"])
def test_metadata_written_by_the_simulator_is_read_back(tmp_path: Path, layout: str) -> None:
    s = MicroscopeSimulator(TINY).write(tmp_path, layout)
    image = next(p for p in sorted(s.images.rglob("*.tif*")) if "thumb" not in p.name)
    found = detect(image)
    meta = get_layout(found.layout).metadata(image)
    assert meta is not None
    assert len(meta.stains) == 5 and any("Hoechst" in v for v in meta.stains.values())
    if layout != "ome-tiff":
        assert meta.sites_per_well == 2 and meta.wells and len(meta.wells) == 4
    if layout == "phenix":
        assert meta.planes == 2 and meta.barcode == "P01" and meta.pixel_size_um == pytest.approx(0.65)
        assert meta.files and image.name in meta.files


def test_hostile_xml_is_refused_naming_the_file(tmp_path: Path) -> None:
    images = tmp_path / "P1" / "Images"
    images.mkdir(parents=True)
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    (images / "Index.idx.xml").write_text(bomb)
    image = images / "r01c01f01p01-ch1sk1fk1fl1.tiff"
    with pytest.raises(InputError, match="Index.idx.xml: metadata unreadable"):
        get_layout("phenix").metadata(image)
    (images / "Index.idx.xml").write_text("<EvaluationInputData><Images>")
    with pytest.raises(InputError, match="not well-formed XML"):
        get_layout("phenix").metadata(image)
