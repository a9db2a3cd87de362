"""The genomics pipeline on the runtime: sequencer chunks in, per-sample VCF and lake rows out.

    ingest.files  (file.landed: SAMPLE.c0003of0010.R1.fastq.gz / .R2., or an Illumina run folder:
                   SAMPLE_S1_L001_R1_001.fastq.gz, SampleSheet.csv, RTAComplete.txt/CopyComplete.txt)
      -> gx_align   gather 2 mates of a chunk or lane; validate, QC, trim, align, sort -> gx.aligned
      -> gx_run     (Illumina) sheet + end marker: lane pairs per sample, missing and
                    unlisted samples quarantined (run_intake.py)                     -> gx.aligned
      -> gx_call    gather all chunks (lanes) of a sample; merge | markdup with the region shards
                    calling from the BAM as it is written, metrics and plot beside
                    them; normalise, annotate; BAM/VCF/report into the object store -> gx.called
      -> gx_refresh (also on gx.aligned) interim calls over the chunks so far,
                    `variants_interim` rows (interim_calls.py)                     -> gx.refreshed

Both are thin wrappers over the same functions as `chain.call_sample`, so the runtime's result equals the
batch result (tested). Chunk names carry the total (`cNNNNofMMMM`, written by the sequencer simulator or
a run plan), which is how the sample gather knows it is complete; an Illumina sample is complete when
gx_run has read its run's end marker. A sample failing a sanity gate (gates.py) is quarantined with the
reason by gx_call: no variant rows that would read as negative. Params: `reference` (path, required),
`annotation`, `known`, `threads`, `run`. gx.sample.called carries `time_to_first_variants_s` (from the
first chunk landing to the first interim call with variants, or to the final call when no refresh called
any) and `turnaround_s` (first chunk landing to the final call). gx.chunk.aligned, gx.sample.refreshed and
gx.sample.called carry `wall_s` and `cpu_s`, the stage's own cost (bench/genomics_realtime.py reads them).

With `cohort` (default), gx_cohort (cohort_join.py) then adds each called sample's gVCF to the cohort
variant lake: gx.called -> gx_cohort -> gx.cohort.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import ExitStack
from functools import reduce
from pathlib import Path
from typing import Any

from labstream.core.events import Event
from labstream.core.resources import ResourceRequest
from labstream.core.topics import FILE_LANDED, INGEST_TOPIC
from labstream.genomics.align import align_reads
from labstream.genomics.assay import sample_assay
from labstream.genomics.chain import ChainOptions, SampleJob, finish_sample
from labstream.genomics.cram import write_cram
from labstream.genomics.gates import GateThresholds
from labstream.genomics.interim_calls import (
    REFRESH_GROWTH,
    first_variants,
    refresh_sample_stage,
    usage_now,
    usage_since,
    write_manifest,
)
from labstream.genomics.learned import pinned_caller
from labstream.genomics.provenance import bundle_refs
from labstream.genomics.qc import QCStats
from labstream.genomics.reference import open_reference
from labstream.genomics.run_intake import (
    close_run,
    is_reads,
    pair_key,
    read_info,
    run_key,
    run_member,
    sample_key,
    sample_member,
    sample_size,
)
from labstream.genomics.tables import qc_row
from labstream.layouts import parse
from labstream.runtime.stage import GatherSpec, Pipeline, Stage, StageOutput, TaskContext


def parse_chunk_name(name: str) -> dict[str, Any]:
    """sample, chunk, total and read of a sequencer chunk, by the layout parser ingest routes with."""
    return dict(parse(name, "fastq-chunk").fields)


def align_chunk(ctx: TaskContext) -> StageOutput:
    """Both mates of one chunk -> a sorted chunk BAM in the object store; its QC counters in the event."""
    t0 = usage_now()
    mates = {read_info(e)["read"]: e for e in ctx.events}
    info = read_info(mates[1])
    ref = open_reference(ctx.params["reference"])
    store = ctx.store()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gx-align-") as tmp:
        paths = {r: stack.enter_context(store.local_path(e.refs[0].uri)) for r, e in mates.items()}
        res = align_reads(
            ref,
            paths[1],
            paths.get(2),
            Path(tmp) / "chunk.bam",
            sample=info["sample"],
            threads=int(ctx.params.get("threads", 2)),
        )
        bam_ref = store.put_file(res.bam, suffix=".bam", media_type="application/vnd.labstream.bam")
    counters = {k: getattr(res.qc, k) for k in QCStats.counter_fields()}
    landed_at = min(e.created_at for e in ctx.events)
    manifest = write_manifest(ctx, info, bam_ref, {"landed_at": landed_at, "qc": counters})
    event = Event(
        type="gx.chunk.aligned",
        key=info["sample"],
        refs=(bam_ref,),
        data={
            **info,
            "qc": counters,
            "align_s": res.seconds,
            "landed_at": landed_at,
            "manifest": manifest.uri,
            **usage_since(t0),
        },
    )
    return StageOutput(  # its reads_qc row is written by gx_call, once the run says whose reads these are
        objects=[bam_ref],
        inputs=bundle_refs(ctx.params["reference"]),  # aligned against it: in the lineage by sha256
        events=[event],
        metrics={"pairs": res.qc.reads / 2, "align_s": res.seconds},
    )


def call_sample_stage(ctx: TaskContext) -> StageOutput:
    """All chunk BAMs of a sample -> BAM, VCF, report (object store) and variants/coverage/reads_qc rows
    (reads_qc: the sample's row and one per chunk or lane)."""
    t0 = usage_now()
    sample = ctx.events[0].data["sample"]
    run = ctx.params.get("run", "")
    ref = open_reference(ctx.params["reference"])
    named = next((e.data["assay"] for e in ctx.events if e.data.get("assay")), None)  # from the sheet
    assay = sample_assay(ctx.params.get("assays"), named, ctx.params["reference"], sample) if named else None
    pin = ctx.params.get("model") or {}  # caller "learned": the weights pinned when the run was configured
    learned = pinned_caller(pin["weights"], pin["sha256"], pin["tag"]) if pin else None
    opts = ChainOptions(
        caller="learned" if learned else "bcftools",
        learned=learned,
        threads=int(ctx.params.get("threads", 2)),
        annotation=ctx.params.get("annotation"),
        known=ctx.params.get("known"),
        gates=GateThresholds(
            min_mean_depth=float(ctx.params.get("min_depth", GateThresholds.min_mean_depth))
        ),
        assay=assay,
    )
    reads = [e for e in ctx.events if e.type == "gx.chunk.aligned"]  # not gx_run's gx.sample.expected
    events = sorted(reads, key=lambda e: e.data["chunk"])
    lanes = {int(e.data["chunk"]): QCStats(**{k: int(v) for k, v in e.data["qc"].items()}) for e in events}
    qc = reduce(QCStats.merge, lanes.values(), QCStats())
    # a row per chunk (lane) too, written here rather than by gx_align: each then walks back through
    # this task to the run's sheet, end marker and the sample's assay, and reads that are never called
    # (a sample not in the sheet, one failing a gate) leave no rows
    lane_rows = [qc_row(q, None, sample=sample, run=run, chunk=f"{c:04d}") for c, q in lanes.items()]
    store = ctx.store()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gx-call-") as tmp:
        bams = [stack.enter_context(store.local_path(e.refs[0].uri)) for e in events]
        timings = {"align_total_s": sum(float(e.data.get("align_s", 0)) for e in events)}
        first = first_variants(store, events[0].data["manifest"]) if "manifest" in events[0].data else None
        if first:
            timings["time_to_first_variants"] = float(first["time_to_first_variants_s"])
        job = SampleJob(sample, run, ctx.lineage_id, opts)
        # QCFailed (an InputError) when a sanity gate fails: the worker quarantines the sample
        res = finish_sample(ref, bams, qc, Path(tmp), job, timings=timings)
        outs = [res.bam, Path(f"{res.bam}.bai"), res.vcf, Path(f"{res.vcf}.tbi"), res.report, res.qc_json]
        if ctx.params.get("cram"):  # governed runs register it as a DRS object (results.SERVED)
            cram = write_cram(res.bam, ref, threads=opts.threads)
            outs += [cram, Path(f"{cram}.crai")]
        refs = [store.put_derived(f"genomics/{run or 'run'}/{sample}/{p.name}", p.read_bytes()) for p in outs]
    data: dict[str, Any] = {"sample": sample, "variants": len(res.variants), "chunks": len(events)}
    landed = [float(e.data["landed_at"]) for e in events if "landed_at" in e.data]
    if landed:
        data["turnaround_s"] = time.time() - min(landed)
        data["time_to_first_variants_s"] = (
            first["time_to_first_variants_s"] if first else data["turnaround_s"]
        )
        # a run landing faster than it is aligned supersedes every refresh: first variants = final ones
        data["first_variants_from"] = "refresh" if first else "final call"
    data.update(usage_since(t0))
    out = Event(type="gx.sample.called", key=sample, refs=tuple(refs), data=data)
    return StageOutput(
        rows={"variants": res.variants, "coverage": res.coverage, "reads_qc": [res.qc, *lane_rows]},
        objects=refs,
        inputs=bundle_refs(
            ctx.params["reference"],
            opts.annotation,
            opts.known,
            *(f.path for f in (assay.files() if assay else [])),
        ),
        events=[out],
        metrics={"variants": float(len(res.variants))},
        model_version=opts.model_version or None,
    )


def genomics_pipeline(
    reference: str | Path,
    *,
    annotation: str | Path | None = None,
    known: str | Path | None = None,
    threads: int = 2,
    run: str = "",
    input_topic: str = INGEST_TOPIC,
    refresh_growth: float = REFRESH_GROWTH,
    min_depth: float = GateThresholds.min_mean_depth,
    assays: str | Path | None = None,
    cram: bool = False,
    model: dict[str, str] | None = None,
    cohort: bool = True,
    cohort_lake: str | None = None,
) -> Pipeline:
    """`refresh_growth`: interim calls when the chunks so far grew by this fraction since the last
    refresh (0: on every chunk); see interim_calls.due."""
    params = {
        "reference": str(reference),
        "annotation": str(annotation) if annotation else None,
        "known": str(known) if known else None,
        "threads": threads,
        "run": run,
        "refresh_growth": refresh_growth,
        "min_depth": min_depth,
        "assays": str(assays) if assays else None,
        "cram": cram,
        "model": dict(model) if model else None,  # {weights, sha256, tag}: final calls by the learned caller
        "cohort_lake": cohort_lake,  # gx_cohort: None = the platform's lake
    }
    from labstream.genomics.cohort_join import cohort_stage

    return Pipeline(
        "genomics",
        (
            Stage(
                "gx_align",
                "1",
                input_topic,
                align_chunk,
                output_topic="gx.aligned",
                accepts=(FILE_LANDED,),
                instruments=("sequencer",),
                select=is_reads,
                resources=ResourceRequest(cpu=threads),
                params=params,
                gather=GatherSpec(
                    group_key=pair_key,
                    expected=lambda e: 2,
                    member_id=lambda e: f"R{read_info(e)['read']}",
                ),
            ),
            Stage(
                "gx_run",
                "1",
                input_topic,
                close_run,
                output_topic="gx.aligned",
                accepts=(FILE_LANDED,),
                select=lambda e: e.data.get("layout") == "illumina-run",
                params=params,
                gather=GatherSpec(group_key=run_key, expected=lambda e: 2, member_id=run_member),
            ),
            Stage(
                "gx_call",
                "1",
                "gx.aligned",
                call_sample_stage,
                output_topic="gx.called",
                accepts=("gx.chunk.aligned", "gx.sample.expected"),
                resources=ResourceRequest(cpu=threads),
                params=params,
                gather=GatherSpec(group_key=sample_key, expected=sample_size, member_id=sample_member),
            ),
            Stage(
                "gx_refresh",
                "1",
                "gx.aligned",
                refresh_sample_stage,
                output_topic="gx.refreshed",
                accepts=("gx.chunk.aligned",),
                select=lambda e: e.data.get("layout", "fastq-chunk") == "fastq-chunk",  # needs the total
                resources=ResourceRequest(cpu=threads),
                params=params,
            ),
        )
        + ((cohort_stage(params),) if cohort else ()),
    )


__all__ = ["align_chunk", "call_sample_stage", "genomics_pipeline", "parse_chunk_name"]
