"""Which reads belong together, for the simulator's chunks and for Illumina run folders.

Two layouts feed the genomics pipeline. `fastq-chunk` names carry the sample's chunk count, so the call
stage's gather knows when a sample is complete. Illumina names (`{sample}_S1_L001_R1_001.fastq.gz`) do
not: a sample is complete when its run is, which the instrument says with `RTAComplete.txt` /
`CopyComplete.txt`. `close_run` (stage gx_run) fires once a run folder has its SampleSheet.csv and an
end marker; from the marker's file list (taken by ingest when it landed) it states, per sample of the
sheet, how many lane pairs the call stage must gather (`gx.sample.expected`), reports sheet samples with
no reads (`gx.sample.missing` + quarantine) and quarantines reads of samples the sheet does not name.
Index reads (I1/I2) and bcl2fastq's `Undetermined` reads are never aligned.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from labstream.core.events import Event
from labstream.layouts import detect, parse, run_root
from labstream.layouts.sample_sheet import parse_sample_sheet
from labstream.runtime.stage import StageOutput, TaskContext

READ_LAYOUTS = ("fastq-chunk", "illumina-fastq")
UNDETERMINED = "Undetermined"


def read_info(event: Event) -> dict[str, Any]:
    """sample, read, chunk, total, layout (+ lane, segment, run_root for Illumina) of a reads file,
    by the layout parser ingest routed it with. Illumina: chunk = lane * 1000 + segment, total 0."""
    found = parse(event.data["name"], READ_LAYOUTS)
    if found.layout == "fastq-chunk":
        return {**found.fields, "layout": found.layout}
    lane, segment = int(found["lane"]), int(found["segment"])
    return {
        "sample": str(found["sample"]),
        "read": int(found["read"]),
        "lane": lane,
        "segment": segment,
        "chunk": lane * 1000 + segment,
        "total": 0,
        "layout": found.layout,
        "run_root": run_root(str(event.data.get("identity", event.data["name"]))),
    }


def is_reads(event: Event) -> bool:
    """gx_align's input: read 1 or 2 of a sample, never index reads, Undetermined, sheets or markers."""
    if event.data.get("layout") not in READ_LAYOUTS:
        return False
    info = read_info(event)
    return int(info["read"]) in (1, 2) and info["sample"] != UNDETERMINED


def pair_key(event: Event) -> str:
    """The mates of one chunk or one lane (and file segment) of one sample."""
    i = read_info(event)
    if i["layout"] == "fastq-chunk":
        return f"{i['sample']}.c{i['chunk']:04d}"
    return f"illumina:{i['run_root']}:{i['sample']}:L{i['lane']:03d}:{i['segment']:03d}"


def sample_key(event: Event) -> str:
    """gx_call's group: a sample (simulator chunks) or a sample of one run folder (Illumina)."""
    d = event.data
    if d.get("layout") == "illumina-fastq":
        return f"illumina:{d['run_root']}:{d['sample']}"
    return str(d["sample"])


def sample_size(event: Event) -> int:
    """Members gx_call gathers: chunks from the name, or, for Illumina, from gx_run (0: not known)."""
    if event.type == "gx.sample.expected":
        return int(event.data["expected"])
    return int(event.data.get("total") or 0)


def sample_member(event: Event) -> str:
    return "expected" if event.type == "gx.sample.expected" else f"{int(event.data['chunk']):06d}"


def run_key(event: Event) -> str:
    return f"run:{run_root(str(event.data.get('identity', event.data['name'])))}"


def run_member(event: Event) -> str:
    return str(detect(Path(event.data["name"]), ("illumina-run",))["file"])


def close_run(ctx: TaskContext) -> StageOutput:
    """SampleSheet.csv + end marker of a run folder -> per-sample expected lane pairs, missing samples,
    quarantined reads of samples not in the sheet."""
    by_kind = {run_member(e): e for e in ctx.events}
    sheet_ev, marker = by_kind["sample_sheet"], by_kind["run_complete"]
    sheet_name = str(sheet_ev.data.get("identity", sheet_ev.data["name"]))
    text = ctx.store().get_bytes(sheet_ev.refs[0].uri).decode("utf-8-sig", errors="replace")
    sheet = parse_sample_sheet(text, sheet_name)
    root = run_root(str(marker.data.get("identity", marker.data["name"])))
    pairs: dict[str, set[tuple[int, int]]] = defaultdict(set)
    files: dict[str, list[str]] = defaultdict(list)
    for rel in marker.data.get("run_files", []):
        found = detect(Path(rel), ("illumina-fastq",))
        if found.layout != "illumina-fastq" or run_root(rel) != root:
            continue
        sample = str(found["sample"])
        if int(found["read"]) not in (1, 2) or sample == UNDETERMINED:
            continue
        files[sample].append(rel)
        pairs[sample].add((int(found["lane"]), int(found["segment"])))
    events: list[Event] = []
    quarantined: list[tuple[str, str]] = []
    for sid, s in sheet.samples.items():
        data = {"sample": sid, "project": s.project, "run_root": root, "layout": "illumina-fastq"}
        if s.assay:
            data["assay"] = s.assay  # gx_call runs the sample under this assay (genomics.assay)
        if pairs.get(sid):
            data["expected"] = len(pairs[sid]) + 1  # its lane pairs and this event
            events.append(Event(type="gx.sample.expected", key=sid, data=data))
            continue
        problem = (
            f"sample {sid!r} is in the sample sheet but the finished run has no reads for it; "
            "check the demultiplexing (index, lane) or remove it from the sheet"
        )
        quarantined.append((f"{sheet_name} (sample {sid})", problem))
        events.append(Event(type="gx.sample.missing", key=sid, data={**data, "problem": problem}))
    for sample in sorted(set(files) - set(sheet.samples)):
        for rel in files[sample]:
            quarantined.append(
                (
                    rel,
                    f"sample {sample!r} is not in the run's sample sheet ({sheet_name}), so its reads are "
                    "not analysed; add it to the sheet and re-ingest the run, or remove the files",
                )
            )
    missing = sum(e.type == "gx.sample.missing" for e in events)
    return StageOutput(
        events=events,
        quarantined=quarantined,
        metrics={"samples": float(len(sheet.samples)), "missing": float(missing)},
    )


__all__ = [
    "READ_LAYOUTS",
    "close_run",
    "is_reads",
    "pair_key",
    "read_info",
    "run_key",
    "run_member",
    "sample_key",
    "sample_member",
    "sample_size",
]
