"""The nanopore pipeline on the runtime: MinKNOW batches in as they land, interim and final SNV calls out.

    ingest.files  (file.landed: RUN/fastq_pass/barcode01/..._pass_barcode01_<run>_<acq>_N.fastq.gz, or
                   RUN/bam_pass/barcode01/..._N.bam (unaligned BAM), RUN/final_summary_*.txt at the end)
      -> ont_align    one batch -> sorted batch BAM (minimap2 map-ont), manifest       -> ont.aligned
      -> ont_run      final_summary (+ the MinKNOW sample sheet): batches per barcode from the run's
                      file list, named by alias (ont.sample.expected); genomics/nanopore_run.py -> ont.aligned
      -> ont_refresh  (each aligned batch) merge the barcode's batches so far, call SNVs
                      -> `variants_interim` rows; first variants recorded                -> ont.refreshed
      -> ont_call     all batches of a barcode (+ the run's end): merge in batch order,
                      depth gate, call -> BAM/VCF/summary objects, `variants` rows       -> ont.called

Final = batch: ont_call's VCF has the records of `genomics call-nanopore` on the barcode's batches
concatenated in batch order (nanopore.py says why; tested through `watch`). Time to first variants is
from the barcode's first batch landing to the first refresh that called a variant (`first_variants.json`
beside the batch manifests), carried by ont.sample.called with `turnaround_s` (first batch landing to the
final call). Reads in fastq_fail/ are not analysed (MinKNOW's qscore filter failed them).
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import Any

from labstream.core.events import Event
from labstream.core.resources import ResourceRequest
from labstream.core.topics import FILE_LANDED, INGEST_TOPIC
from labstream.genomics.interim_calls import (
    REFRESH_GROWTH,
    due,
    first_variants,
    last_refreshed,
    usage_now,
    usage_since,
)
from labstream.genomics.nanopore import (
    CALLER,
    LIMITATIONS,
    MIN_MEAN_DEPTH,
    align_batches,
    call_bam,
    merge_batches,
    rename_sample,
)
from labstream.genomics.nanopore_run import close_run, is_run_input, run_file, run_key, run_size
from labstream.genomics.provenance import bundle_refs
from labstream.genomics.reference import open_reference
from labstream.genomics.tables import variant_rows
from labstream.layouts import minknow_root, parse
from labstream.layouts.minknow import BATCH_LAYOUTS, UNCLASSIFIED
from labstream.objects.base import ObjectStore
from labstream.runtime.stage import GatherSpec, Pipeline, Stage, StageOutput, TaskContext


def _identity(event: Event) -> str:
    return str(event.data.get("identity", event.data["name"]))


def batch_info(event: Event) -> dict[str, Any]:
    """sample (the barcode), batch, passed, run_root and run (the run folder's name) of a batch file."""
    found = parse(event.data["name"], BATCH_LAYOUTS)
    root = minknow_root(_identity(event))
    return {
        "sample": str(found["barcode"]),
        "batch": int(found["batch"]),
        "passed": int(found["passed"]),
        "run_root": root,
        "run": PurePosixPath(root).name or f"{found['flowcell']}_{found['run_id']}",
        "layout": found.layout,
    }


def is_batch(event: Event) -> bool:
    """ont_align's input: a passed batch of a barcode (fastq_fail and unclassified reads are not)."""
    if event.data.get("layout") not in BATCH_LAYOUTS:
        return False
    info = batch_info(event)
    return bool(info["passed"]) and info["sample"] != UNCLASSIFIED


def sample_key(event: Event) -> str:
    return f"ont:{event.data['run_root']}:{event.data['sample']}"


def sample_size(event: Event) -> int:
    return int(event.data["expected"]) if event.type == "ont.sample.expected" else 0


def sample_member(event: Event) -> str:
    return "expected" if event.type == "ont.sample.expected" else f"{int(event.data['batch']):06d}"


def state_prefix(info: dict[str, Any]) -> str:
    return f"genomics/ont/{info['run']}/{info['sample']}"


def align_batch(ctx: TaskContext) -> StageOutput:
    """One MinKNOW batch -> a sorted batch BAM in the object store and its manifest."""
    t0 = usage_now()
    ev = ctx.event
    info = batch_info(ev)
    ref = open_reference(ctx.params["reference"])
    store = ctx.store()
    with store.local_path(ev.refs[0].uri) as fq, tempfile.TemporaryDirectory(prefix="ont-align-") as tmp:
        bam, reads = align_batches(
            ref,
            [fq],
            Path(tmp) / "batch.bam",
            sample=info["sample"],
            threads=int(ctx.params.get("threads", 2)),
        )
        bam_ref = store.put_file(bam, suffix=".bam", media_type="application/vnd.labstream.bam")
    body = {
        **info,
        "reads": reads,
        "bam": bam_ref.to_dict(),
        "landed_at": ev.created_at,
        "aligned_at": time.time(),
    }
    manifest = store.put_derived(
        f"{state_prefix(info)}/batches/b{info['batch']:06d}.json",
        json.dumps(body).encode(),
        media_type="application/json",
    )
    data = {**info, "reads": reads, "landed_at": ev.created_at, "manifest": manifest.uri, **usage_since(t0)}
    out = Event(
        type="ont.batch.aligned", key=f"ont:{info['run_root']}:{info['sample']}", refs=(bam_ref,), data=data
    )
    return StageOutput(objects=[bam_ref], events=[out], metrics={"reads": float(reads)})


def _manifests(store: ObjectStore, own_uri: str, own_batch: int) -> list[dict[str, Any]]:
    """The barcode's batch manifests present now: batches 0..own, then on until the first gap."""
    folder = own_uri.rsplit("/", 1)[0]
    found, b = [], 0
    while True:
        uri = f"{folder}/b{b:06d}.json"
        if store.exists(uri):
            found.append(json.loads(store.get_bytes(uri, verify=False)))
        elif b > own_batch:
            return found
        b += 1


def refresh_stage(ctx: TaskContext) -> StageOutput:
    """Interim SNV calls over a barcode's batches aligned so far (skipped when superseded or finished)."""
    ev = ctx.event
    store = ctx.store()
    own_uri = ev.data["manifest"]
    sample_dir = own_uri.rsplit("/", 2)[0]
    if store.exists(f"{sample_dir}/called.json"):
        return StageOutput(metrics={"skipped": 1.0})
    found = _manifests(store, own_uri, int(ev.data["batch"]))
    newest = max(found, key=lambda m: (m["aligned_at"], m["batch"]))
    growth = float(ctx.params.get("refresh_growth", REFRESH_GROWTH))
    if newest["batch"] != ev.data["batch"] or not due(len(found), last_refreshed(store, own_uri), growth):
        return StageOutput(metrics={"skipped": 1.0})
    t0 = usage_now()
    ref = open_reference(ctx.params["reference"])
    info = {k: ev.data[k] for k in ("sample", "run", "run_root")}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ont-refresh-") as tmp:
        bams = [stack.enter_context(store.local_path(m["bam"]["uri"])) for m in found]
        bam = merge_batches(bams, Path(tmp) / "snapshot.bam")
        vcf, _depth = call_bam(ref, bam, Path(tmp) / "interim.vcf.gz", sample=info["sample"], min_depth=0.0)
        rows = variant_rows(vcf, sample=info["sample"], run=info["run"], caller=CALLER)
        vcf_ref = store.put_file(vcf, suffix=".vcf.gz", media_type="application/vnd.labstream.vcf")
    elapsed = time.time() - min(float(m["landed_at"]) for m in found)
    first = first_variants(store, own_uri)
    if first is None and rows:
        first = {"time_to_first_variants_s": elapsed, "batches_seen": len(found), "at": time.time()}
        store.put_derived(
            f"{state_prefix(info)}/first_variants.json", json.dumps(first).encode(), "application/json"
        )
    store.put_derived(
        f"{state_prefix(info)}/last_refresh.json",
        json.dumps({"chunks_seen": len(found)}).encode(),
        "application/json",
    )
    for r in rows:
        r.update(
            chunks_seen=len(found), chunks_total=0, elapsed_s=elapsed
        )  # the total is known at the run's end
    data = {
        **info,
        "batches_seen": len(found),
        "variants": len(rows),
        "elapsed_s": elapsed,
        "time_to_first_variants_s": first["time_to_first_variants_s"] if first else None,
        **usage_since(t0),
    }
    out = Event(type="ont.sample.refreshed", key=sample_key(ev), refs=(vcf_ref,), data=data)
    return StageOutput(
        rows={"variants_interim": rows},
        objects=[vcf_ref],
        events=[out],
        metrics={"variants": float(len(rows))},
    )


def call_stage(ctx: TaskContext) -> StageOutput:
    """Every batch of a barcode -> merged BAM, depth gate, SNV calls, objects and `variants` rows."""
    t0 = usage_now()
    batches = sorted((e for e in ctx.events if e.type == "ont.batch.aligned"), key=lambda e: e.data["batch"])
    info = {k: batches[0].data[k] for k in ("sample", "run", "run_root")}
    expected = next(e for e in ctx.events if e.type == "ont.sample.expected")
    barcode, run = info["sample"], info["run"]
    sample = str(expected.data.get("alias") or barcode)  # the sheet's alias names it from here on
    ref = open_reference(ctx.params["reference"])
    store = ctx.store()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ont-call-") as tmp:
        bams = [stack.enter_context(store.local_path(e.refs[0].uri)) for e in batches]
        bam = merge_batches(bams, Path(tmp) / f"{sample}.bam", threads=int(ctx.params.get("threads", 2)))
        min_depth = float(ctx.params.get("min_depth", MIN_MEAN_DEPTH))
        raw = Path(tmp) / (f"{sample}.vcf.gz" if sample == barcode else "calls.vcf.gz")
        vcf, depth = call_bam(ref, bam, raw, sample=sample, min_depth=min_depth)
        if sample != barcode:  # the read group (and so the VCF column) is the barcode's
            vcf = rename_sample(vcf, sample, Path(tmp) / f"{sample}.vcf.gz")
        rows = variant_rows(vcf, sample=sample, run=run, caller=CALLER)
        summary = Path(tmp) / f"{sample}.summary.json"
        summary.write_text(
            json.dumps(
                {
                    "sample": sample,
                    "barcode": barcode,
                    "run": run,
                    "platform": "ONT",
                    "batches": len(batches),
                    "mean_depth": depth,
                    "variants": len(rows),
                    "limitations": LIMITATIONS,
                }
            )
        )
        paths = (bam, Path(f"{bam}.bai"), vcf, Path(f"{vcf}.tbi"), summary)
        refs = [store.put_derived(f"genomics/{run}/{sample}/{p.name}", p.read_bytes()) for p in paths]
    store.put_derived(f"{state_prefix(info)}/called.json", b"{}", "application/json")
    first = first_variants(store, batches[0].data["manifest"])
    landed = min(float(e.data["landed_at"]) for e in batches)
    turnaround = time.time() - landed
    data = {
        **info,
        "variants": len(rows),
        "batches": len(batches),
        "mean_depth": depth,
        "turnaround_s": turnaround,
        "time_to_first_variants_s": first["time_to_first_variants_s"] if first else turnaround,
        "first_variants_from": "refresh" if first else "final call",
        **usage_since(t0),
    }
    out = Event(type="ont.sample.called", key=sample_key(batches[0]), refs=tuple(refs), data=data)
    return StageOutput(
        rows={"variants": rows},
        objects=refs,
        inputs=bundle_refs(ctx.params["reference"]),
        events=[out],
        metrics={"variants": float(len(rows))},
    )


def nanopore_pipeline(
    reference: str | Path,
    *,
    threads: int = 2,
    input_topic: str = INGEST_TOPIC,
    refresh_growth: float = REFRESH_GROWTH,
    min_depth: float = MIN_MEAN_DEPTH,
) -> Pipeline:
    params = {
        "reference": str(reference),
        "threads": threads,
        "refresh_growth": refresh_growth,
        "min_depth": min_depth,
    }
    cpu = ResourceRequest(cpu=threads)
    return Pipeline(
        "nanopore",
        (
            Stage(
                "ont_align",
                "1",
                input_topic,
                align_batch,
                output_topic="ont.aligned",
                accepts=(FILE_LANDED,),
                instruments=("sequencer",),
                select=is_batch,
                resources=cpu,
                params=params,
            ),
            Stage(
                "ont_run",
                "1",
                input_topic,
                close_run,
                output_topic="ont.aligned",
                accepts=(FILE_LANDED,),
                select=is_run_input,
                params=params,
                gather=GatherSpec(group_key=run_key, expected=run_size, member_id=run_file),
            ),
            Stage(
                "ont_call",
                "1",
                "ont.aligned",
                call_stage,
                output_topic="ont.called",
                accepts=("ont.batch.aligned", "ont.sample.expected"),
                resources=cpu,
                params=params,
                gather=GatherSpec(group_key=sample_key, expected=sample_size, member_id=sample_member),
            ),
            Stage(
                "ont_refresh",
                "1",
                "ont.aligned",
                refresh_stage,
                output_topic="ont.refreshed",
                accepts=("ont.batch.aligned",),
                resources=cpu,
                params=params,
            ),
        ),
    )


__all__ = [
    "align_batch",
    "batch_info",
    "call_stage",
    "is_batch",
    "nanopore_pipeline",
    "refresh_stage",
    "sample_key",
]
