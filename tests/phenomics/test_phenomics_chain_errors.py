"""A run that can measure nothing says why in its one error line: the wrong folder (another instrument's
files), or the first problems of the files it had; a platemap that is not one names its header."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import InputError
from labstream.phenomics.chain import profile_directory
from labstream.phenomics.reading import read_platemap


def _platemap(tmp_path: Path) -> Path:
    pm = tmp_path / "pm.csv"
    pm.write_text("plate,well,perturbation,role\nP1,A01,x,treatment\n")
    return pm


def test_a_sequencer_folder_is_no_microscope_image(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("S1_R1.fastq.gz", "S1_R2.fastq.gz", "SampleSheet.csv", "notes.txt"):
        (run / name).write_bytes(b"@r\nACGT\n+\nIIII\n")
    with pytest.raises(InputError, match=r"no microscope image found \(4 file\(s\): S1_R1.fastq.gz") as err:
        profile_directory(run, _platemap(tmp_path))
    assert "and 1 more" in str(err.value) and "pass the folder the microscope wrote" in str(err.value)


def test_images_that_all_fail_name_their_first_problems(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for ch in range(1, 6):  # a site of the platemap's plate, every channel not a TIFF
        (run / f"P1_A01_s1_w{ch}.tif").write_bytes(b"not a tiff")
    with pytest.raises(InputError, match=r"no site could be measured \(\d+ problem\(s\), first: P1_A01"):
        profile_directory(run, _platemap(tmp_path))


def test_a_platemap_that_is_not_one_names_its_header(tmp_path: Path) -> None:
    gff = tmp_path / "genes.gff3"
    gff.write_text("##gff-version 3\nc1\t.\tgene\t1\t10\t.\t+\t.\tID=g1\n")
    with pytest.raises(InputError, match="its header names: ##gff-version 3") as err:
        read_platemap(gff)
    assert "first line names plate, well, perturbation, role" in str(err.value)
