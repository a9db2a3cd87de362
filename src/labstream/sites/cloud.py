"""The cloud site's side of the stream leg: a pipeline whose one stage reads each replicated edge event
from the cloud's own stream and writes its rows (features of a field of view, read QC of a FASTQ chunk)
to the cloud's lake, exactly once by the runtime's commit (runtime/commit.py), with lineage.

    with PipelineRunner(cloud_settings, cloud_pipeline(), executor=cloud_executor, placer=...) as r:
        r.run_until_idle()
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa

from labstream.core.resources import ResourceRequest
from labstream.runtime.stage import Pipeline, Stage, StageOutput, TaskContext
from labstream.sites.edge import edge_columns
from labstream.sites.replicate import CLOUD_EVENT

__all__ = ["cloud_pipeline", "cloud_rows"]


def cloud_rows(ctx: TaskContext) -> StageOutput:
    """The rows of one replicated edge event, from the features it references in the cloud's store."""
    ev = ctx.event
    d = ev.data
    if not ev.refs:  # the policy sent no rows (features off, or a field without cells)
        return StageOutput()
    df = pd.read_parquet(io.BytesIO(ctx.store().get_bytes(ev.refs[0].uri)))
    edge_columns(
        df,
        kind=str(d["kind"]),
        key=ev.key,
        thumbnail_uri=str(d["thumbnail_uri"]),
        raw_uri=str(d["raw_uri"]),
        partition=int(d["edge_partition"]),
        offset=int(d["edge_offset"]),
    )
    return StageOutput(rows={str(d["table"]): pa.Table.from_pandas(df, preserve_index=False)})


def cloud_pipeline(topic: str = "edge.cloud", *, resources: ResourceRequest | None = None) -> Pipeline:
    stage = Stage(
        "cloud_edge_rows",
        "1",
        topic,
        cloud_rows,
        accepts=(CLOUD_EVENT,),
        resources=resources or ResourceRequest(cpu=1, memory_mb=512),
    )
    return Pipeline("cloud-edge", (stage,))
