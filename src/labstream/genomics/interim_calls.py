"""Real-time mode on the runtime: interim calls refreshed as a sample's chunks are aligned.

    gx.aligned (gx.chunk.aligned, one per chunk)
      -> gx_refresh   merge the sample's chunks aligned so far, markdup, sharded call, annotate
                      -> rows in `variants_interim`, event gx.sample.refreshed on gx.refreshed

Why interim rows live in their own table: `variants` holds final calls only, so no query of it ever mixes
a half-covered sample with finished ones. `variants_interim` has the `variants` columns plus
`chunks_seen`, `chunks_total` and `elapsed_s`; the latest snapshot of a sample is the rows with its
largest `chunks_seen`.

Per-sample state is a small manifest per aligned chunk in the object store
(`derived/genomics/RUN/SAMPLE/chunks/cNNNNNN.json`: chunk BAM claim check, QC counters, landing and
alignment times), written by gx_align before its event is published, so a refresh always finds at least
the chunks whose events it has seen. A refresh is skipped when a later-aligned chunk of the sample is
already there (that chunk's own event refreshes a superset: refreshes coalesce under load), and when all
chunks are in (gx_call then makes the final result, equal to the batch result), and when the chunks so
far are fewer than (1 + `refresh_growth`) times those the last refresh covered (`due`; the default 0.5
refreshes 8 chunks at 1, 2, 3, 5): refresh work then grows linearly with the run, not quadratically.
A refresh merges and calls in one pass (`tailing_caller.merge_and_call`: shards call while markdup writes).

Time to first variants is the time from the first chunk of a sample landing (its `file.landed` event) to
the first refresh that called at least one variant; it is kept in `first_variants.json` next to the
manifests, carried by every later gx.sample.refreshed event and by gx.sample.called.
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa

from labstream.core.events import Event, ObjectRef
from labstream.genomics.chain import ChainOptions, make_annotator
from labstream.genomics.reference import open_reference
from labstream.genomics.tables import VARIANTS, variant_rows
from labstream.genomics.tailing_caller import merge_and_call
from labstream.lake import TableSchema, register_schema
from labstream.objects.base import ObjectStore
from labstream.runtime.stage import StageOutput, TaskContext

VARIANTS_INTERIM = register_schema(
    TableSchema(
        "variants_interim",
        pa.schema(
            [
                *VARIANTS.columns,
                ("chunks_seen", pa.int32()),
                ("chunks_total", pa.int32()),
                ("elapsed_s", pa.float64()),
            ]
        ),
        description="Interim calls of a sample while its run is in progress (largest chunks_seen = latest).",
        docs={
            **VARIANTS.docs,
            "chunks_seen": "chunks of the sample aligned when this refresh ran",
            "chunks_total": "chunks the run will write for the sample",
            "elapsed_s": "seconds from the sample's first chunk landing to this refresh",
        },
        latest="per (project, sample): the rows with the largest chunks_seen are the latest refresh; "
        "final calls are in `variants`",
    )
)


REFRESH_GROWTH = 0.5  # param `refresh_growth`: 0 refreshes on every chunk


def usage_now() -> tuple[float, float]:
    """(wall, CPU) of this process and its waited-for children: a stage's cost is the difference.

    A pool worker runs one task at a time, so the difference over a task is that task's CPU (its
    in-process samtools work and its bcftools/samtools subprocesses, once waited for)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def usage_since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = usage_now()
    return {"wall_s": round(wall - start[0], 3), "cpu_s": round(cpu - start[1], 3)}


def state_prefix(run: str, sample: str) -> str:
    """Derived-zone folder of a sample's real-time state."""
    return f"genomics/{run or 'run'}/{sample}"


def manifest_relpath(run: str, sample: str, chunk: int) -> str:
    return f"{state_prefix(run, sample)}/chunks/c{chunk:06d}.json"


def write_manifest(
    ctx: TaskContext, info: dict[str, Any], bam: ObjectRef, extra: dict[str, Any]
) -> ObjectRef:
    """Record an aligned chunk for later refreshes (overwrite-safe: same chunk, same content role)."""
    body = {**info, **extra, "bam": bam.to_dict(), "aligned_at": time.time()}
    rel = manifest_relpath(ctx.params.get("run", ""), info["sample"], int(info["chunk"]))
    return ctx.store().put_derived(rel, json.dumps(body).encode(), media_type="application/json")


def _sibling(uri: str, name: str) -> str:
    """URI of `name` in the same folder as `uri` (the store's layout is opaque; its URIs are not)."""
    return uri.rsplit("/", 1)[0] + "/" + name


def load_manifests(store: ObjectStore, own_uri: str, total: int) -> list[dict[str, Any]]:
    """Every chunk manifest of the sample present now, in chunk order."""
    found = []
    for c in range(total):
        uri = _sibling(own_uri, f"c{c:06d}.json")
        if store.exists(uri):
            found.append(json.loads(store.get_bytes(uri, verify=False)))
    return found


def first_variants(store: ObjectStore, own_uri: str) -> dict[str, Any] | None:
    """The sample's time-to-first-variants record, if a refresh has called variants yet."""
    uri = own_uri.rsplit("/", 2)[0] + "/first_variants.json"  # SAMPLE/chunks/cN.json -> SAMPLE/
    return json.loads(store.get_bytes(uri, verify=False)) if store.exists(uri) else None


def last_refreshed(store: ObjectStore, own_uri: str) -> int:
    """How many chunks the sample's latest refresh covered (0 before the first)."""
    uri = own_uri.rsplit("/", 2)[0] + "/last_refresh.json"
    return int(json.loads(store.get_bytes(uri, verify=False))["chunks_seen"]) if store.exists(uri) else 0


def due(seen: int, last: int, growth: float) -> bool:
    """Refresh over `seen` chunks when they are `growth` more than the last refresh covered.

    Why: a refresh re-merges and re-calls every chunk so far, so refreshing on every chunk costs
    O(chunks^2) (measured: 6x the CPU of aligning the run) and holds the CPU slots the next chunk's
    alignment and the final call wait for. Growing geometrically bounds all refreshes together to about
    (1 + 1/growth) final calls. `seen == last` is a replay of the same refresh (at-least-once
    delivery), which is redone."""
    return seen == last or seen >= max(last + 1, last * (1.0 + growth))


def refresh_schedule(total: int, growth: float = REFRESH_GROWTH) -> list[int]:
    """The chunk counts refreshed when every chunk's event is handled in turn (the last one is final)."""
    out: list[int] = []
    for seen in range(1, total):
        if due(seen, out[-1] if out else 0, growth):
            out.append(seen)
    return out


def refresh_sample_stage(ctx: TaskContext) -> StageOutput:
    """Interim calls over the chunks of this sample aligned so far (skipped when superseded or complete)."""
    ev = ctx.event
    sample, total, run = ev.data["sample"], int(ev.data["total"]), ctx.params.get("run", "")
    own_uri = ev.data["manifest"]
    store = ctx.store()
    found = load_manifests(store, own_uri, total)
    own = next((m for m in found if int(m["chunk"]) == int(ev.data["chunk"])), None)
    if own is None or len(found) >= total:
        return StageOutput(metrics={"skipped": 1.0})
    newest = max(found, key=lambda m: (m["aligned_at"], m["chunk"]))
    if newest["chunk"] != own["chunk"]:
        return StageOutput(metrics={"skipped": 1.0})
    growth = float(ctx.params.get("refresh_growth", REFRESH_GROWTH))
    if not due(len(found), last_refreshed(store, own_uri), growth):
        return StageOutput(metrics={"skipped": 1.0})
    t0 = usage_now()
    ref = open_reference(ctx.params["reference"])
    opts = ChainOptions(
        threads=int(ctx.params.get("threads", 2)),
        annotation=ctx.params.get("annotation"),
        known=ctx.params.get("known"),
    )
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gx-refresh-") as tmp:
        bams = [stack.enter_context(store.local_path(m["bam"]["uri"])) for m in found]
        _bam, vcf = merge_and_call(
            ref,
            bams,
            Path(tmp) / f"{sample}.bam",
            Path(tmp) / f"{sample}.interim.vcf.gz",
            threads=opts.threads,
        )
        rows = variant_rows(vcf, sample=sample, run=run, annotator=make_annotator(ref, opts))
        vcf_ref = store.put_file(vcf, suffix=".vcf.gz", media_type="application/vnd.labstream.vcf")
    elapsed = time.time() - min(float(m["landed_at"]) for m in found)
    first = first_variants(store, own_uri)
    if first is None and rows:
        first = {"time_to_first_variants_s": elapsed, "chunks_seen": len(found), "at": time.time()}
        folder = state_prefix(run, sample)
        store.put_derived(f"{folder}/first_variants.json", json.dumps(first).encode(), "application/json")
    folder = state_prefix(run, sample)
    body = json.dumps({"chunks_seen": len(found)}).encode()
    store.put_derived(f"{folder}/last_refresh.json", body, "application/json")
    for r in rows:
        r.update(chunks_seen=len(found), chunks_total=total, elapsed_s=elapsed)
    event = Event(
        type="gx.sample.refreshed",
        key=sample,
        refs=(vcf_ref,),
        data={
            "sample": sample,
            "run": run,
            "chunks_seen": len(found),
            "chunks_total": total,
            "variants": len(rows),
            "elapsed_s": elapsed,
            "time_to_first_variants_s": first["time_to_first_variants_s"] if first else None,
            **usage_since(t0),
        },
    )
    return StageOutput(
        rows={"variants_interim": rows},
        objects=[vcf_ref],
        events=[event],
        metrics={"variants": float(len(rows)), "chunks_seen": float(len(found))},
    )


__all__ = [
    "REFRESH_GROWTH",
    "VARIANTS_INTERIM",
    "due",
    "last_refreshed",
    "refresh_schedule",
    "usage_now",
    "usage_since",
    "first_variants",
    "load_manifests",
    "manifest_relpath",
    "refresh_sample_stage",
    "state_prefix",
    "write_manifest",
]
