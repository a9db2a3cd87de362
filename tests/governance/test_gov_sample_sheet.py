"""A governed Illumina run: the sample sheet's identifiers never reach lake rows, object names, events,
the catalog or the stages; the pseudonym maps back only for a user with the reidentify right (issue 12)."""

from __future__ import annotations

from labstream.governance.sample_sheets import pseudonymize_sheet
from labstream.layouts.sample_sheet import parse_sample_sheet

PATIENT = "MRN7731905"  # a hospital accession number used as Sample_ID, as labs do


def test_sheet_cells_are_swapped_and_free_text_dropped() -> None:
    text = (
        "[Header]\nIEMFileVersion,5\n\n[Data]\nSample_ID,Sample_Name,index,Sample_Project,Description\n"
        f"{PATIENT},{PATIENT},ACGT,P1,Jane Doe b. 1961\n"
    )
    clean, swaps = pseudonymize_sheet(text, lambda v: "PSN-" + v[::-1])
    assert PATIENT not in clean and "Jane Doe" not in clean and swaps == [(PATIENT, "PSN-" + PATIENT[::-1])]
    sheet = parse_sample_sheet(clean)
    assert (
        list(sheet.samples) == ["PSN-" + PATIENT[::-1]]
        and sheet.samples["PSN-" + PATIENT[::-1]].project == "P1"
    )


# The governed run itself (watch, pseudonyms only under the home, re-identification by the admin alone,
# sign-off) is test_gov_run_lineage.py.
