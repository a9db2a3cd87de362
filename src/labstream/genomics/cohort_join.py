"""A called sample joins the cohort by itself: the `gx_cohort` stage after `gx_call`.

    gx.called (gx.sample.called: the sample's BAM among its refs)
      -> gx_cohort  BAM -> gVCF (refconf.call_gvcf: bcftools mpileup | call -m --gvcf) -> the gVCF and its
                    index into the object store -> CohortStore.add_gvcf (one Delta version, the sample's
                    project) -> gx.cohort (gx.sample.joined: cohort version, rows, `lag_s` from the final
                    call to the cohort commit)

The cohort's statistics are exact as soon as the commit lands (queries add the samples newer than the
stored summary), so the sample counts in AC/AN/AF from that moment. A retry or a replay adds nothing: the
cohort skips a sample it already holds (its Delta application transaction). The cohort is in the lake
`cohort_lake` names, or the platform's lake (settings.lake_url).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from labstream.core.events import Event
from labstream.core.resources import ResourceRequest
from labstream.core.settings import Settings
from labstream.genomics.refconf import call_gvcf
from labstream.genomics.reference import open_reference
from labstream.runtime.stage import Stage, StageOutput, TaskContext

__all__ = ["JOINED", "cohort_stage", "join_cohort_stage"]

JOINED = "gx.sample.joined"


def join_cohort_stage(ctx: TaskContext) -> StageOutput:
    """One called sample -> its gVCF -> the cohort (see the module docstring)."""
    from labstream.cohort import CohortStore
    from labstream.lake import open_lake

    ev = ctx.event
    sample = ev.data["sample"]
    bam_ref = next(r for r in ev.refs if r.uri.endswith(".bam"))
    run = ctx.params.get("run", "")
    store = ctx.store()
    with store.local_path(bam_ref.uri) as bam, tempfile.TemporaryDirectory(prefix="gx-cohort-") as tmp:
        t0 = time.perf_counter()
        gvcf = call_gvcf(open_reference(ctx.params["reference"]), bam, Path(tmp) / f"{sample}.g.vcf.gz")
        gvcf_s = time.perf_counter() - t0
        refs = [
            store.put_derived(f"genomics/{run or 'run'}/{sample}/{p.name}", p.read_bytes())
            for p in (gvcf, Path(f"{gvcf}.tbi"))
        ]
        cohort = CohortStore(open_lake(ctx.params.get("cohort_lake") or Settings().lake_url))
        res = cohort.add_gvcf(gvcf, sample=sample, project=ev.project, lineage_id=ctx.lineage_id)
    data = {
        "sample": sample,
        "added": bool(res.added),
        "cohort_version": res.version,
        "rows": res.rows,
        "bytes": res.bytes_written,
        "gvcf_s": round(gvcf_s, 3),
        "lag_s": round(time.time() - ev.created_at, 3),  # final call published -> in the cohort
    }
    return StageOutput(
        objects=refs,
        events=[Event(type=JOINED, key=sample, refs=tuple(refs), data=data)],
        metrics={"cohort_rows": float(res.rows), "cohort_lag_s": data["lag_s"]},
    )


def cohort_stage(params: dict) -> Stage:
    return Stage(
        "gx_cohort",
        "1",
        "gx.called",
        join_cohort_stage,
        output_topic="gx.cohort",
        accepts=("gx.sample.called",),
        resources=ResourceRequest(cpu=1),
        params=params,
    )
