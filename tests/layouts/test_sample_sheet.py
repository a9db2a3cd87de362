"""Illumina run folders: the sample sheet (v1 and v2), the end markers and where a file's run is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labstream.core.errors import InputError
from labstream.layouts import detect, run_root
from labstream.layouts.sample_sheet import SheetSample, parse_sample_sheet, write_sample_sheet

V1 = """[Header]
IEMFileVersion,5
Experiment Name,RUN42

[Reads]
151
151

[Data]
Lane,Sample_ID,Sample_Name,index,index2,Sample_Project
1,NA12878,NA12878,ATCACGAT,TTAGGCAA,Germline
2,NA12878,NA12878,ATCACGAT,TTAGGCAA,Germline
1,NA12891,NA12891,CGATGTTT,ACAGTGGT,Germline
"""

V2 = """\ufeff[Header]
FileFormatVersion,2
RunName,RUN43

[BCLConvert_Settings]
CreateFastqForIndexReads,1

[BCLConvert_Data]
Sample_ID,Index,Index2
S-1,ATCACGAT,TTAGGCAA
S-2,CGATGTTT,ACAGTGGT

[Cloud_Data]
Sample_ID,ProjectName
S-1,Onco
S-2,Onco
"""


def test_v1_sheet_with_lanes() -> None:
    sheet = parse_sample_sheet(V1)
    assert (sheet.version, sheet.run_name) == (1, "RUN42")
    assert list(sheet.samples) == ["NA12878", "NA12891"]
    assert sheet.samples["NA12878"].lanes == (1, 2) and sheet.samples["NA12878"].project == "Germline"


def test_v2_sheet_projects_from_cloud_data() -> None:
    sheet = parse_sample_sheet(V2)
    assert (sheet.version, sheet.run_name) == (2, "RUN43")
    assert {s.sample_id: s.project for s in sheet.samples.values()} == {"S-1": "Onco", "S-2": "Onco"}


@pytest.mark.parametrize("version", [1, 2])
def test_written_sheets_read_back(version: int) -> None:
    text = write_sample_sheet([SheetSample("A", "P"), SheetSample("B", "P")], version=version, run_name="R")
    sheet = parse_sample_sheet(text)
    assert sheet.version == version and list(sheet.samples) == ["A", "B"]
    assert all(s.project == "P" for s in sheet.samples.values())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[Header]\nFileFormatVersion,2\n", "no [BCLConvert_Data] or [Data] section"),
        ("[Data]\nSample_Name,index\nA,ACGT\n", "no Sample_ID column"),
        ("[Data]\nSample_ID,index\nA,ACGT\nA,TTTT\n", "appears twice"),
        ("[Data]\nSample_ID,index\n,ACGT\n", "empty Sample_ID"),
    ],
)
def test_bad_sheets_are_named(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=re.escape(problem)) as err:
        parse_sample_sheet(text, "RUN/SampleSheet.csv")
    assert str(err.value).startswith("RUN/SampleSheet.csv")


def test_markers_and_run_root() -> None:
    for name, kind in (("SampleSheet.csv", "sample_sheet"), ("RTAComplete.txt", "run_complete")):
        found = detect(Path("runs/RUN1") / name)
        assert (found.layout, found["file"], found.key) == ("illumina-run", kind, "run:RUN1")
    assert detect("CopyComplete.txt")["file"] == "run_complete"
    assert run_root("RUN1/Data/Intensities/BaseCalls/PROJ/A_S1_L001_R1_001.fastq.gz") == "RUN1"
    assert run_root("Data/Intensities/BaseCalls/A_S1_L001_R1_001.fastq.gz") == ""
    assert run_root("RUN1/CopyComplete.txt") == "RUN1" and run_root("CopyComplete.txt") == ""
