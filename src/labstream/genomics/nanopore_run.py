"""A MinKNOW run's end (and its sample sheet): which barcodes to call, under which names (stage ont_run).

`final_summary_*.txt` ends the run; ingest lists the run folder's files with it. When that list holds a
MinKNOW sample sheet (`sample_sheet_*.csv`, layouts/minknow_sheet.py), ont_run gathers the sheet too and:
- names each barcode by its alias (ont_call writes rows, VCF sample, objects and summary under it);
- quarantines the batch files of a barcode the sheet does not list, with the reason;
- reports a sheet barcode without reads as missing (quarantine: a sample expected and not sequenced).
Without a sheet every barcode is called under its own name. Unclassified reads (MinKNOW found no
barcode) belong to no sample: they are ignored, not quarantined (every run has some; nothing to fix), and
counted in the `ont_runs` row that `labstream status` shows. Failed reads (fastq_fail/, bam_fail/) are
counted there too.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path, PurePosixPath

import pyarrow as pa

from labstream.core.events import Event
from labstream.lake import TableSchema, register_schema
from labstream.layouts import detect, minknow_root
from labstream.layouts.minknow import BATCH_LAYOUTS, UNCLASSIFIED
from labstream.layouts.minknow_sheet import MinknowSheetRow, parse_minknow_sheet
from labstream.runtime.stage import StageOutput, TaskContext

ONT_RUNS = register_schema(
    TableSchema(
        "ont_runs",
        pa.schema(
            [
                ("run", pa.string()),
                ("sample_sheet", pa.string()),
                ("samples", pa.string()),
                ("not_in_sheet", pa.string()),
                ("missing", pa.string()),
                ("unclassified_files_ignored", pa.int32()),
                ("fail_files_ignored", pa.int32()),
            ]
        ),
        description="One row per finished MinKNOW run: what was called, quarantined and ignored.",
        docs={
            "run": "run folder name",
            "sample_sheet": "the run's MinKNOW sample sheet file ('' when the run had none)",
            "samples": "barcode=alias of each barcode called, comma-separated",
            "not_in_sheet": "barcodes with reads that the sheet does not list (quarantined, not called)",
            "missing": "sheet barcodes without any passed reads (quarantined)",
            "unclassified_files_ignored": "batch files of reads with no barcode (not analysed, not an error)",
            "fail_files_ignored": "batch files that failed MinKNOW's qscore filter (not analysed)",
        },
    )
)


def _identity(event: Event) -> str:
    return str(event.data.get("identity", event.data["name"]))


def run_file(event: Event) -> str:
    """'run_complete', 'sample_sheet' or 'sequencing_summary' (a minknow-run file); '' for others."""
    if event.data.get("layout") != "minknow-run":
        return ""
    return str(detect(Path(event.data["name"]), ("minknow-run",))["file"])


def is_run_input(event: Event) -> bool:
    return run_file(event) in ("run_complete", "sample_sheet")


def run_key(event: Event) -> str:
    return f"ont-run:{minknow_root(_identity(event))}"


def run_size(event: Event) -> int:
    """Members ont_run gathers: the end marker, and the sheet when the run folder has one."""
    if run_file(event) == "sample_sheet":
        return 2
    root = minknow_root(_identity(event))
    sheets = [
        rel
        for rel in event.data.get("run_files", [])
        if minknow_root(rel) == root and detect(Path(rel), ("minknow-run",)).get("file") == "sample_sheet"
    ]
    return 2 if sheets else 1


def _sheet(ctx: TaskContext) -> tuple[str, dict[str, MinknowSheetRow] | None]:
    ev = next((e for e in ctx.events if run_file(e) == "sample_sheet"), None)
    if ev is None:
        return "", None
    name = _identity(ev)
    text = ctx.store().get_bytes(ev.refs[0].uri).decode("utf-8-sig", errors="replace")
    return name, parse_minknow_sheet(text, name)


def close_run(ctx: TaskContext) -> StageOutput:
    """final_summary_*.txt (+ the sample sheet) -> batches per barcode to call, under their aliases."""
    marker = next(e for e in ctx.events if run_file(e) == "run_complete")
    root = minknow_root(_identity(marker))
    sheet_name, sheet = _sheet(ctx)
    files: dict[str, list[str]] = defaultdict(list)
    layouts: dict[str, str] = {}
    unclassified = failed = 0
    for rel in marker.data.get("run_files", []):
        found = detect(Path(rel), BATCH_LAYOUTS)
        if found.layout not in BATCH_LAYOUTS or minknow_root(rel) != root:
            continue
        if not found["passed"]:
            failed += 1
        elif found["barcode"] == UNCLASSIFIED:
            unclassified += 1
        else:
            files[str(found["barcode"])].append(rel)
            layouts[str(found["barcode"])] = found.layout
    run = PurePosixPath(root).name
    listed = set(files) if sheet is None else set(files) & set(sheet)
    events, quarantined = [], []
    for bc in sorted(listed):
        alias = sheet[bc].alias if sheet is not None else bc
        data = {"sample": bc, "alias": alias, "run_root": root, "run": run, "layout": layouts[bc]}
        events.append(
            Event(
                type="ont.sample.expected",
                key=f"ont:{root}:{bc}",
                data={**data, "expected": len(files[bc]) + 1},
            )
        )
    for bc in sorted(set(files) - listed):
        why = (
            f"{bc} is not in the run's sample sheet ({sheet_name}), so its reads are not analysed; add the "
            "barcode with its alias to the sheet and re-ingest the run, or remove the files"
        )
        quarantined += [(rel, why) for rel in files[bc]]
    missing = sorted(set(sheet or {}) - set(files))
    for bc in missing:
        why = (
            f"{bc} (alias {sheet[bc].alias}) is in the sample sheet but the finished run has no passed reads "  # type: ignore[index]
            "for it; check the barcoding kit and the library, or remove it from the sheet"
        )
        quarantined.append((f"{sheet_name} ({bc})", why))
    row = {
        "run": run,
        "sample_sheet": PurePosixPath(sheet_name).name,
        "samples": ",".join(f"{bc}={e.data['alias']}" for bc, e in zip(sorted(listed), events, strict=True)),
        "not_in_sheet": ",".join(sorted(set(files) - listed)),
        "missing": ",".join(missing),
        "unclassified_files_ignored": unclassified,
        "fail_files_ignored": failed,
    }
    return StageOutput(
        rows={"ont_runs": [row]},
        events=events,
        quarantined=quarantined,
        metrics={"barcodes": float(len(listed)), "unclassified": float(unclassified), "fail": float(failed)},
    )


__all__ = ["ONT_RUNS", "close_run", "is_run_input", "run_file", "run_key", "run_size"]
