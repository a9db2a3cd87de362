"""Illumina `SampleSheet.csv`, v1 (`[Data]`, bcl2fastq / IEM) and v2 (`[BCLConvert_Data]`, bcl-convert).

Why here, beside the FASTQ layout: the sheet is what says which samples a run folder must hold, so the
same adapter that names a FASTQ's sample also says whether that sample was expected. Only what intake
needs is read: Sample_ID, Sample_Project (v1) or the `[Cloud_Data]`/`[BCLConvert_Data]` project column
(v2), lanes, and the run name from `[Header]`; everything else is kept as text per sample.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from labstream.core.errors import InputError

DATA_SECTIONS = ("BCLConvert_Data", "Data")


@dataclass(frozen=True)
class SheetSample:
    sample_id: str
    project: str = ""
    lanes: tuple[int, ...] = ()  # () when the sheet does not split samples by lane
    columns: dict[str, str] = field(default_factory=dict)
    assay: str = ""  # the test to run: v1 `Assay` column of [Data], v2 `[Labstream_Data]` Sample_ID,Assay


@dataclass(frozen=True)
class SampleSheet:
    version: int  # 1 or 2
    run_name: str
    samples: dict[str, SheetSample]  # by Sample_ID, in sheet order


def _sections(text: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for row in csv.reader(io.StringIO(text)):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if cells[0].startswith("[") and cells[0].endswith("]"):
            current = out.setdefault(cells[0][1:-1], [])
            continue
        if current is not None:
            current.append(cells)
    return out


def parse_sample_sheet(text: str, source: str = "SampleSheet.csv") -> SampleSheet:
    """The samples a run is expected to hold. InputError (naming `source`) for a sheet without a data
    section, without a Sample_ID column, or with an empty or repeated Sample_ID (one per lane is fine)."""
    sections = _sections(text.lstrip("\ufeff"))
    name = next((s for s in DATA_SECTIONS if sections.get(s)), None)
    if name is None:
        raise InputError(
            source, "sample sheet has no [BCLConvert_Data] or [Data] section", hint="export it from the run"
        )
    header, *rows = sections[name]
    if "Sample_ID" not in header:
        raise InputError(source, f"[{name}] has no Sample_ID column", hint="check the sheet's header row")
    head = {k: v for k, v, *_ in (r + ["", ""] for r in sections.get("Header", []))}
    version = 2 if name == "BCLConvert_Data" or head.get("FileFormatVersion") == "2" else 1
    projects = {r[0]: r[1] for r in sections.get("Cloud_Data", [])[1:] if len(r) > 1}
    app = sections.get("Labstream_Data", [])  # v2 application section: bcl-convert leaves it alone
    app_cols = [dict(zip(app[0], r, strict=False)) for r in app[1:]] if app else []
    assays = {c.get("Sample_ID", ""): c.get("Assay", "") for c in app_cols}
    found: dict[str, dict[str, object]] = {}
    for n, row in enumerate(rows, start=2):
        cols = dict(zip(header, row + [""] * (len(header) - len(row)), strict=False))
        sid = cols["Sample_ID"]
        if not sid:
            raise InputError(
                source, f"[{name}] row {n} has an empty Sample_ID", hint="fill it in or drop the row"
            )
        lane = cols.get("Lane", "")
        entry = found.setdefault(sid, {"lanes": [], "cols": cols})
        if lane.isdigit():
            entry["lanes"].append(int(lane))  # type: ignore[attr-defined]
        elif sid in found and entry["cols"] is not cols:
            raise InputError(source, f"Sample_ID {sid!r} appears twice", hint="give each sample one ID")
    samples = {
        sid: SheetSample(
            sid,
            str(e["cols"].get("Sample_Project") or projects.get(sid, "")),  # type: ignore[attr-defined]
            tuple(sorted(set(e["lanes"]))),  # type: ignore[call-overload]
            dict(e["cols"]),  # type: ignore[call-overload]
            str(e["cols"].get("Assay") or assays.get(sid, "")),  # type: ignore[attr-defined]
        )
        for sid, e in found.items()
    }
    return SampleSheet(version, head.get("RunName") or head.get("Experiment Name", ""), samples)


def write_sample_sheet(samples: list[SheetSample], *, version: int = 2, run_name: str = "") -> str:
    """The text of a sheet as bcl-convert (v2) or bcl2fastq (v1) reads it: for the simulator and tests."""
    lines = ["[Header]", f"FileFormatVersion,{version}" if version == 2 else "IEMFileVersion,5"]
    lines.append(f"RunName,{run_name}" if version == 2 else f"Experiment Name,{run_name}")
    if version == 2:
        lines += ["", "[BCLConvert_Settings]", "CreateFastqForIndexReads,1", "", "[BCLConvert_Data]"]
        lines += ["Sample_ID,Index,Index2"] + [
            f"{s.sample_id},{_index(i)},{_index(i + 7)}" for i, s in enumerate(samples)
        ]
        lines += ["", "[Cloud_Data]", "Sample_ID,ProjectName"] + [
            f"{s.sample_id},{s.project}" for s in samples
        ]
        if any(s.assay for s in samples):
            lines += ["", "[Labstream_Data]", "Sample_ID,Assay"] + [
                f"{s.sample_id},{s.assay}" for s in samples
            ]
    else:
        lines += [
            "",
            "[Reads]",
            "151",
            "151",
            "",
            "[Data]",
            "Sample_ID,Sample_Name,index,index2,Sample_Project"
            + (",Assay" if any(s.assay for s in samples) else ""),
        ]
        lines += [
            f"{s.sample_id},{s.sample_id},{_index(i)},{_index(i + 7)},{s.project}"
            + (f",{s.assay}" if any(x.assay for x in samples) else "")
            for i, s in enumerate(samples)
        ]
    return "\n".join(lines) + "\n"


def _index(i: int) -> str:
    bases = "ACGT"
    return "".join(bases[(i * 7 + k * 3) % 4] for k in range(8))


__all__ = ["SampleSheet", "SheetSample", "parse_sample_sheet", "write_sample_sheet"]
