"""The genomics chain as plain function calls: FASTQ -> BAM -> VCF -> rows -> report, batch or streaming.

`call_sample` is what `labstream genomics call` runs. `StreamingSample` (live_sample.py) is the real-time
mode: each FASTQ chunk is QC'd and aligned as it lands, `refresh()` merges what has arrived and re-calls
(calling from the merged BAM while merge | markdup writes it, as `finish()` does), and `finish()` produces
the same outputs as the batch chain (same merge, markdup and sharded calling over the same reads;
batch mode marks duplicates inside its one alignment pipe, which gives the records merge_markdup gives,
and its bcftools shards call from that BAM while it is written, which gives the records calling the
indexed BAM gives; see tailing_caller.py). The stages in stages.py wrap the same functions for the runtime.

Nothing is presented as complete before it is: each file is written under a temporary name and renamed,
and NAME.qc.json (written last, with `"complete": true`) marks a finished sample.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labstream.core.errors import ConfigError, QCFailed
from labstream.core.events import new_id
from labstream.core.hashing import sha256_file
from labstream.core.identifiers import check_identifier
from labstream.genomics.align import align_reads
from labstream.genomics.annotate import Annotator
from labstream.genomics.assay import report_fields, reportable, target_depth
from labstream.genomics.bam import (
    AlignmentStats,
    CoverageBin,
    alignment_stats,
    coverage_bins,
    merge_markdup,
)
from labstream.genomics.call import call_variants, shard_regions
from labstream.genomics.chain_options import ChainOptions, ProgressFn, SampleJob, SampleResult
from labstream.genomics.gates import (
    GateResult,
    failed,
    gate_summary,
    mate_gates,
    mean_depth,
    raise_failed,
    sample_gates,
)
from labstream.genomics.learned import call_learned
from labstream.genomics.qc import QCStats
from labstream.genomics.reference import Reference, open_reference
from labstream.genomics.report import coverage_png, input_files, tool_versions, used_tools, write_report
from labstream.genomics.tables import coverage_rows, qc_row, variant_rows, write_lake
from labstream.genomics.tailing_caller import StreamCallers

STEPS = ("qc_align_sort", "merge_markdup", "call", "annotate", "metrics", "report", "lake")


@contextmanager
def _step(name: str, timings: dict[str, float], progress: ProgressFn | None) -> Iterator[None]:
    """Time one step into `timings` and tell `progress` (the CLI's bars) when it starts and ends."""
    if progress:
        progress(name, False)
    t = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t
    if progress:
        progress(name, True)


def _measure(
    bam: Path, ref: Reference, bin_size: int, sample: str
) -> tuple[AlignmentStats, list[CoverageBin], str]:
    """Metrics and the report's coverage plot of a complete BAM (run beside the shard callers; the
    first plot in a process also imports matplotlib, ~0.5 s, and tool_versions runs the tools once)."""
    bins = coverage_bins(bam, ref, bin_size)
    tool_versions()  # the default chain's tools (minimap2, samtools, bcftools), cached
    return alignment_stats(bam), bins, coverage_png(bins, f"{sample} coverage")


def make_annotator(ref: Reference, opts: ChainOptions) -> Annotator | None:
    """Built before any work so a wrong GFF3 or known VCF fails fast, naming the file."""
    return Annotator(ref, opts.annotation, opts.known) if (opts.annotation or opts.known) else None


def finish_sample(
    ref: Reference,
    chunk_bams: list[Path],
    qc: QCStats,
    out_dir: Path,
    job: SampleJob,
    *,
    timings: dict[str, float],
    annotator: Annotator | None = None,
    final_bam: Path | None = None,
    stream_calls: StreamCallers | None = None,
    pre_gates: list[GateResult] | None = None,
    paired: bool = True,
) -> SampleResult:
    """Merge/markdup, call, annotate, measure, report and (optionally) write lake rows.

    `final_bam`: the sample's duplicate-marked, indexed BAM when alignment already made it (one chunk,
    `align_reads(markdup=True)`); the merge step then has nothing left to do. `stream_calls`: shard
    callers that followed that BAM while it was written; the call step waits for them and merges their
    calls, so its time is what calling took after the BAM was complete. Without either (chunk BAMs, the
    real-time finish), bcftools shards follow the merged BAM while merge | markdup writes it.

    Sanity gates (gates.py) run once the sample is measured, before the report and the lake rows: a
    failed gate withdraws the VCF, writes NAME.qc.json with `complete: false` and raises QCFailed, unless
    `opts.allow_qc_fail`, where everything is written with `qc_status` "QC FAILED" (`pre_gates`: the
    mate gates run before alignment).
    """
    sample, run, lineage_id, opts, progress = job.sample, job.run, job.lineage_id, job.opts, job.progress
    with _step("merge_markdup", timings, progress):
        if final_bam is not None:
            bam = final_bam
        else:
            # chunks (real-time mode): bcftools shards call from the BAM while merge | markdup writes it
            if stream_calls is None and opts.caller == "bcftools":
                regions = shard_regions(ref, opts.shards or max(1, opts.threads))
                stream_calls = StreamCallers(ref, regions, out_dir)
            try:
                bam = merge_markdup(
                    chunk_bams,
                    out_dir / f"{sample}.bam",
                    threads=opts.threads,
                    follow=stream_calls.follow if stream_calls else None,
                )
            except BaseException:
                if stream_calls is not None:
                    stream_calls.abort()
                raise
    # the BAM is complete and indexed: measure it (samtools stats, binned depth, the coverage plot: one
    # core, in this process) while the shards are still calling, instead of after them
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gx-metrics") as pool:
        measured = pool.submit(_measure, bam, ref, opts.bin_size, sample)
        with _step("call", timings, progress):
            if stream_calls is not None:
                vcf = stream_calls.finish(out_dir / f"{sample}.vcf.gz")
            elif opts.caller == "learned" and opts.learned is not None:
                vcf = call_learned(
                    ref, bam, out_dir / f"{sample}.vcf.gz", opts.learned.model, opts.learned.tag,
                    threads=opts.threads,
                )  # fmt: skip
            else:
                vcf = call_variants(
                    ref,
                    bam,
                    out_dir / f"{sample}.vcf.gz",
                    threads=opts.threads,
                    shards=opts.shards,
                    caller=opts.caller,
                )
        with _step("annotate", timings, progress):
            if annotator is None:
                annotator = make_annotator(ref, opts)
            variants = variant_rows(
                vcf, sample=sample, run=run, caller=opts.caller, annotator=annotator,
                model_version=opts.model_version,
            )  # fmt: skip
        with _step("metrics", timings, progress):
            aln, bins, plot = measured.result()
            qrow = qc_row(qc, aln, sample=sample, run=run)
            cov = coverage_rows(bins, sample=sample, run=run)
    regions = opts.assay.regions() if opts.assay else None  # coverage is judged, calls reported, there
    depth = target_depth(bam, regions) if regions else None
    depth_x = depth["mean_depth"] if depth else mean_depth(bins)
    checks = [
        *(pre_gates or []),
        *sample_gates(qrow, depth_x, len(variants), paired=paired, thresholds=opts.gates),
    ]
    variants, outside = reportable(variants, regions)
    gates = gate_summary(checks)
    if failed(checks) and not opts.allow_qc_fail:
        for p in (vcf, Path(f"{vcf}.tbi")):  # an empty or partial VCF would read as a negative result
            p.unlink(missing_ok=True)
        _write_qc_json(out_dir, sample, {"run": run, "lineage_id": lineage_id, "complete": False, **gates})
        raise_failed(checks, sample)
    with _step("report", timings, progress):
        lineage = {"lineage_id": lineage_id, "run": run, "bam": str(bam), "vcf": str(vcf)}
        if opts.model_version:
            lineage["model_version"] = opts.model_version
        report = write_report(
            out_dir / f"{sample}.report.html",
            sample=sample,
            run=run,
            reference=str(ref.path),
            qc={"qc_status": gates["qc_status"], "failed_gates": ", ".join(gates["failed_gates"]), **qrow},
            bins=bins,
            variants=variants,
            timings=timings,
            versions=tool_versions(used_tools(opts.aligner, opts.caller))
            | ({"model": opts.model_version} if opts.model_version else {}),
            lineage=lineage,
            plot=plot,
            aligner=opts.aligner,
            caller=opts.caller,
            project=opts.project,
            depth=depth,
            **{"inputs": input_files(opts.annotation, opts.known), **report_fields(opts.assay, outside)},
        )
    lake_done: dict[str, bool] = {}
    if opts.lake_url:
        with _step("lake", timings, progress):
            lake_done = write_lake(
                opts.lake_url,
                {"reads_qc": [qrow], "coverage": cov, "variants": variants},
                run=run,
                sample=sample,
                lineage_id=lineage_id,
                project=opts.project,
            )
    summary = {"run": run, "lineage_id": lineage_id, "complete": True, **gates}
    qc_json = _write_qc_json(
        out_dir, sample, {**summary, "qc": qrow, "variants": len(variants), "timings_s": timings}
    )
    return SampleResult(
        sample, run, lineage_id, bam, vcf, qc_json, report, qrow, variants, cov, timings, lake_done,
        gates["qc_status"], gates["failed_gates"],
    )  # fmt: skip


def _write_qc_json(out_dir: Path, sample: str, body: dict[str, Any]) -> Path:
    """NAME.qc.json, written last under a temporary name: `complete` true marks a finished sample."""
    qc_json = out_dir / f"{sample}.qc.json"
    tmp = qc_json.with_name(f".{qc_json.name}.part")
    tmp.write_text(json.dumps({"sample": sample, **body}, indent=2))
    os.replace(tmp, qc_json)
    return qc_json


def call_sample(
    reference: str | Path,
    r1: str | Path,
    r2: str | Path | None,
    *,
    sample: str,
    out_dir: str | Path,
    run: str | None = None,
    opts: ChainOptions | None = None,
    progress: ProgressFn | None = None,
) -> SampleResult:
    """Batch mode: the whole chain for one sample's FASTQ (single or paired); `progress` sees each step.
    With `opts.catalog_url`, the call is a lineage record there: reads, reference, annotation and
    known variants in, BAM/VCF/QC/report out, each with its sha256; a QC failure is recorded too."""
    opts = opts or ChainOptions()
    check_identifier(sample, what="sample name", source="--sample")  # it names files under out_dir
    run_id = check_identifier(run, what="run id", source="--run") if run else new_id()[:12]
    lineage_id, started = new_id(), time.time()
    job = SampleJob(sample, run_id, lineage_id, opts, progress)
    try:
        result = _call_sample(reference, r1, r2, out_dir, job)
    except QCFailed as err:
        _record(opts, lineage_id, started, [reference, r1, r2], outputs=[], status="quarantined",
                error=str(err), sample=sample, run=run)  # fmt: skip
        raise
    outs = [result.bam, result.vcf, result.qc_json, result.report]
    _record(opts, lineage_id, started, [reference, r1, r2], outputs=outs, sample=sample, run=result.run)
    return result


def _record(opts: ChainOptions, lineage_id: str, started: float, inputs: list[Any], **kw: Any) -> None:
    if opts.catalog_url:
        from labstream.genomics.provenance import record_batch_call

        params = {k: getattr(opts, k) for k in ("aligner", "caller", "threads", "annotation", "known")}
        assay_files = [f.path for f in opts.assay.files()] if opts.assay else []
        params["assay"] = opts.assay.label if opts.assay else None
        inputs = [*inputs, opts.annotation, opts.known, *assay_files]
        record_batch_call(opts.catalog_url, lineage_id, inputs=inputs, params=params, started_at=started,
                          project=opts.project, model_version=opts.model_version or None, **kw)  # fmt: skip


def _call_sample(
    reference: str | Path, r1: str | Path, r2: str | Path | None, out_dir: str | Path, job: SampleJob
) -> SampleResult:
    sample, opts, progress = job.sample, job.opts, job.progress
    t0 = time.perf_counter()
    if opts.assay and sha256_file(reference)[0] != opts.assay.reference.sha256:
        a = opts.assay
        raise ConfigError(
            f"reference {reference} is not the assay {a.label}'s ({a.reference.path.name}); "
            "leave --reference out or pass that file"
        )
    ref = open_reference(reference)
    annotator = make_annotator(ref, opts)
    pre_gates = mate_gates(r1, r2)  # before any output: R1 given twice must not yield a BAM or VCF
    if not opts.allow_qc_fail:
        raise_failed(pre_gates, str(r2))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with _step("qc_align_sort", timings, progress):
        # one chunk: markdup runs in the alignment pipe and writes the final BAM + .bai directly, and
        # each bcftools region shard calls from that BAM while it is written (tailing_caller.py)
        callers = None
        if opts.caller == "bcftools":
            callers = StreamCallers(ref, shard_regions(ref, opts.shards or max(1, opts.threads)), out)
        try:
            res = align_reads(
                ref,
                r1,
                r2,
                out / f"{sample}.bam",
                sample=sample,
                threads=opts.threads,
                aligner=opts.aligner,
                markdup=True,
                follow=callers.follow if callers else None,
            )
        except BaseException:
            if callers is not None:
                callers.abort()
            raise
    result = finish_sample(
        ref,
        [res.bam],
        res.qc,
        out,
        job,
        timings=timings,
        annotator=annotator,
        final_bam=res.bam,
        stream_calls=callers,
        pre_gates=pre_gates,
        paired=r2 is not None,
    )
    timings["total"] = time.perf_counter() - t0
    return result


__all__ = [
    "STEPS",
    "ChainOptions",
    "ProgressFn",
    "SampleJob",
    "SampleResult",
    "call_sample",
    "finish_sample",
    "make_annotator",
]
