"""MinKNOW sample sheets and batch names: the sheet's rules, and bam_pass/ batches routed like fastq_pass/."""

from __future__ import annotations

import pytest

from labstream.core.errors import InputError
from labstream.layouts import detect
from labstream.layouts.minknow_sheet import parse_minknow_sheet

HEADER = "flow_cell_id,kit,sample_id,experiment_id,barcode,alias,type\n"


def test_sheet_rows_by_barcode() -> None:
    text = "\ufeff" + HEADER + "FAW1,SQK-NBD114-24,lib,exp,barcode01,patient_A,test_sample\n\n"
    text += "FAW1,SQK-NBD114-24,lib,exp,barcode12,ntc.1,negative_control\n"
    rows = parse_minknow_sheet(text, "s.csv")
    assert list(rows) == ["barcode01", "barcode12"]
    assert (rows["barcode12"].alias, rows["barcode12"].type) == ("ntc.1", "negative_control")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            "FAW1,K,l,e,barcode01,A,test_sample\nFAW1,K,l,e,barcode02,A,test_sample\n",
            "alias 'A' of barcode02",
        ),
        ("FAW1,K,l,e,barcode01,barcode02,test_sample\n", "another barcode's name"),
        ("FAW1,K,l,e,barcode01,pat A,test_sample\n", "characters other than"),
        ("FAW1,K,l,e,barcode01,,test_sample\n", "is empty"),
        ("FAW1,K,l,e,barcode01,A,test_sample\nFAW1,K,l,e,barcode01,B,test_sample\n", "repeats barcode"),
        ("FAW1,K,l,e,BC1,A,test_sample\n", "malformed barcode 'BC1'"),
    ],
)
def test_sheet_errors_name_the_row(body: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        parse_minknow_sheet(HEADER + body, "s.csv")
    assert words in str(err.value) and "s.csv line" in str(err.value)


def test_sheet_without_alias_column() -> None:
    with pytest.raises(InputError, match="lacks the column.s. alias, type"):
        parse_minknow_sheet("flow_cell_id,kit,sample_id,experiment_id,barcode\nF,K,l,e,barcode01\n", "s.csv")


def test_bam_batches_have_the_fastq_batches_identity() -> None:
    name = "FLO12345_pass_barcode03_a1b2c3d4_0f9e8d7c_7"
    bam = detect(f"run/bam_pass/barcode03/{name}.bam")
    fastq = detect(f"run/fastq_pass/barcode03/{name}.fastq.gz")
    assert (bam.layout, fastq.layout) == ("minknow-bam", "minknow-fastq")
    assert bam.key == fastq.key and bam.fields == fastq.fields
    sheet = detect("run/sample_sheet_FLO12345_20261206_1200_a1b2c3d4.csv")
    assert (sheet.layout, sheet["file"], sheet.key) == (
        "minknow-run",
        "sample_sheet",
        bam.key.rsplit(":", 1)[0],
    )
