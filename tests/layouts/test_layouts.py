"""One parser per layout: what it reads from names real instruments and our simulators write."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import ConfigError, InputError
from labstream.layouts import LAYOUTS, detect, get_layout, parse


@pytest.mark.parametrize(
    ("name", "layout", "key", "fields"),
    [
        ("BR00_117_A01_s1_w1.tif", "site-tiff", "BR00_117", {"well": "A01", "site": 1, "channel": 1}),
        ("P1_b7_s12_w5.tiff", "site-tiff", "P1", {"well": "B07", "site": 12, "channel": 5}),
        ("HUVEC-01/Plate1/B02_s2_w3.png", "rxrx-png", "HUVEC-01-Plate1", {"well": "B02", "channel": 3}),
        ("runs/P9.ome.zarr", "ome-zarr", "P9", {"plate": "P9"}),
        ("S1.c0003of0010.R2.fastq.gz", "fastq-chunk", "S1", {"chunk": 3, "total": 10, "read": 2}),
        ("NA12878_S1_L002_R1_001.fastq.gz", "illumina-fastq", "NA12878", {"lane": 2, "read": 1}),
        ("NA12878_S1_L002_I1_001.fastq.gz", "illumina-fastq", "NA12878", {"read": 0, "index_read": 1}),
        ("S1_chunk001.fastq", "fastq", "S1", {"chunk": 1, "read": 0}),
        ("S1_R2.fq.gz", "fastq", "S1", {"read": 2}),
    ],
)
def test_detect_reads_identity(name: str, layout: str, key: str, fields: dict) -> None:
    found = detect(name)
    assert (found.layout, found.key) == (layout, key)
    assert {k: found[k] for k in fields} == fields
    assert found.instrument == get_layout(layout).instrument


def test_unknown_files_keep_a_key_and_parse_refuses_them() -> None:
    assert detect("notes.txt").layout == "unknown"
    assert detect("notes.txt").key == "notes"
    with pytest.raises(InputError, match=r"notes.txt: file name does not follow the \{plate\}"):
        parse("notes.txt", ("site-tiff", "rxrx-png"))


def test_impossible_values_are_input_errors_naming_the_file() -> None:
    with pytest.raises(InputError, match="P1_A01_s1_w0.tif.*channels are numbered from w1"):
        detect("P1_A01_s1_w0.tif")
    with pytest.raises(InputError, match="chunk 11 of 10"):
        detect("S.c0011of0010.R1.fastq.gz")
    assert detect("S.c0000of0010.R1.fastq.gz")["chunk"] == 0


def test_unknown_layout_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown file layout 'tiff'; use one of: .*site-tiff"):
        get_layout("tiff")


def test_image_layout_typo_or_sequencer_layout_names_the_image_layouts_only() -> None:
    from labstream.layouts import image_layouts

    typo = r"unknown image layout 'phenixx' \(did you mean 'phenix'\?\)"
    with pytest.raises(ConfigError, match=typo) as err:
        image_layouts("phenixx")
    assert "fastq" not in str(err.value) and "pattern" in str(err.value)
    with pytest.raises(ConfigError, match="unknown image layout 'fastq-chunk'"):
        image_layouts("fastq-chunk")
    assert image_layouts("phenix")[0].name == "phenix"


def test_simulators_write_what_the_layouts_read(tmp_path: Path) -> None:
    """The writers and the parsers agree: each simulator file parses to the identity it was written as."""
    from labstream.instruments.sequencer import chunk_name

    name = chunk_name("SAMPLE_1", 2, 7, 1)
    found = detect(name)
    assert (found.layout, found["sample"], found["chunk"], found["total"], found["read"]) == (
        "fastq-chunk",
        "SAMPLE_1",
        2,
        7,
        1,
    )


def test_every_layout_declares_its_rule() -> None:
    for name, layout in LAYOUTS.items():
        assert layout.name == name and layout.pattern and layout.instrument in ("microscope", "sequencer")


def test_every_layout_says_whether_its_fields_identify_a_file() -> None:
    """Ingest asks `identifies` of whichever layout detected a file (ingest.confine.file_identity)."""
    for layout in LAYOUTS.values():
        assert isinstance(layout.identifies, bool), layout.name
