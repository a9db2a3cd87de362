"""Illumina run folders under governance: the sample sheet's identifiers become keyed pseudonyms at ingest.

A clinical lab's `SampleSheet.csv` names samples by identifiers that can lead to a patient (accession
numbers, sometimes names in `Description`), and bcl-convert writes the Sample_ID into every FASTQ name.
Under governed ingest (governed.EventPseudonymizer):

- a FASTQ of the run (`{Sample_ID}_S1_L001_R1_001.fastq.gz`) has its Sample_ID replaced by the keyed
  pseudonym (kind `sample_id`, the project's key) in its event's name, path, identity and key, so the
  stages, lake rows, object names, quarantine entries and lineage only ever see `PSN-...`;
- the end marker's run file list gets the same swap for every FASTQ it lists;
- the sheet itself is stored twice through the project's encrypted store: the instrument's original
  (encrypted, kept as the raw object) and a pseudonymised copy (Sample_ID and Sample_Name swapped,
  free-text `Description` emptied) that the event points to first, which is what gx_run reads.

The mapping back lives in the catalog (`gov_pseudonyms`, the original encrypted under the project's data
key); `labstream` re-identifies only for a user with the `reidentify` right, audited (pseudonym.py).
Pseudonyms are deterministic per project, so the sheet's Sample_ID and the FASTQ name meet again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labstream.core.events import Event, ObjectRef
from labstream.layouts import detect
from labstream.objects.base import ObjectStore

IDENTIFYING = ("Sample_ID", "Sample_Name")
FREE_TEXT = ("Description",)
UNDETERMINED = "Undetermined"
Swaps = list[tuple[str, str]]


def pseudonymize_sheet(text: str, pseudonym: Callable[[str], str]) -> tuple[str, Swaps]:
    """The sheet's text with identifying cells of every data section (`[Data]`, `[*_Data]`) replaced by
    `pseudonym(value)` and free-text cells emptied; returns (text, the (plain, pseudonym) swaps made)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    swaps: dict[str, str] = {}
    section, header = "", None
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        first = row[0].strip() if row else ""
        if first.startswith("[") and first.endswith("]"):
            section, header = first[1:-1], None
        elif section == "Data" or section.endswith("_Data"):
            if header is None and any(c.strip() for c in row):
                header = [c.strip() for c in row]
            elif header is not None:
                row = list(row)
                for i, col in enumerate(header[: len(row)]):
                    value = row[i].strip()
                    if col in IDENTIFYING and value:
                        swaps[value] = row[i] = pseudonym(value)
                    elif col in FREE_TEXT:
                        row[i] = ""
        writer.writerow(row)
    return out.getvalue(), sorted(swaps.items())


def fastq_swaps(event: Event, pseudonym: Callable[[str], str]) -> Swaps:
    """(Sample_ID, pseudonym) for the Illumina FASTQ this event is, and for each one its run list names."""
    names = [str(event.data.get("name", "")), *map(str, event.data.get("run_files", []) or [])]
    swaps: dict[str, str] = {}
    for name in names:
        found = detect(Path(name), ("illumina-fastq",))
        sample = str(found.get("sample", ""))
        if found.layout == "illumina-fastq" and sample and sample != UNDETERMINED:
            swaps[sample] = pseudonym(sample)
    return sorted(swaps.items())


def is_sheet(event: Event) -> bool:
    return event.data.get("layout") == "illumina-run" and event.data.get("name") == "SampleSheet.csv"


def sheet_copy(store: ObjectStore, event: Event, pseudonym: Callable[[str], str]) -> tuple[ObjectRef, Swaps]:
    """Store the pseudonymised copy of the sheet the event carries: (its ref, the swaps made)."""
    raw = event.refs[0]
    text = store.get_bytes(raw.uri).decode("utf-8-sig", errors="replace")
    clean, swaps = pseudonymize_sheet(text, pseudonym)
    ref = store.put_derived(f"sample-sheets/{raw.sha256}.csv", clean.encode(), "text/csv")
    return ref, swaps


def run_folder_swaps(gov: Any, event: Event) -> tuple[Swaps, tuple[ObjectRef, ...]]:
    """What governed ingest swaps in an event of an Illumina run folder, and the refs the event carries
    afterwards (a sheet: its pseudonymised copy first, then the encrypted original)."""

    def pseudonym(value: str) -> str:
        return str(gov.pseudonyms.pseudonymize("sample_id", value, event.project))

    if is_sheet(event) and event.refs:
        ref, swaps = sheet_copy(gov.store(event.project), event, pseudonym)
        return swaps, (ref, *event.refs)
    return fastq_swaps(event, pseudonym), event.refs


__all__ = ["fastq_swaps", "is_sheet", "pseudonymize_sheet", "run_folder_swaps", "sheet_copy"]
