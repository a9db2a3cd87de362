"""The lake tables ops writes, declared with their data dictionary like every science table.

`costs` holds one row per finished task (its lineage id is the row's `lineage_id`), written once:
roll-ups are SQL over it, so the sum over samples is the sum over tasks by construction.
`turnaround` keeps every refresh of an entity's clock; the current row of a (project, key,
milestone) is the one with the greatest `computed_at` (`latest`).
"""

from __future__ import annotations

import pyarrow as pa

from labstream.lake import TableSchema, register_schema

__all__ = ["COSTS", "STORAGE_MOVES", "TURNAROUND"]

COSTS = register_schema(
    TableSchema(
        "costs",
        pa.schema(
            [
                ("key", pa.string()),
                ("run", pa.string()),
                ("pipeline", pa.string()),
                ("stage", pa.string()),
                ("status", pa.string()),
                ("attempts", pa.int64()),
                ("started_at", pa.float64()),
                ("ended_at", pa.float64()),
                ("wall_s", pa.float64()),
                ("cpu_billed", pa.float64()),
                ("memory_gb_billed", pa.float64()),
                ("gpu_billed", pa.float64()),
                ("cpu_used_s", pa.float64()),
                ("cpu_usd", pa.float64()),
                ("memory_usd", pa.float64()),
                ("gpu_usd", pa.float64()),
                ("accelerator_usd", pa.float64()),
                ("cost_usd", pa.float64()),
                ("efficiency", pa.float64()),
                ("price_book", pa.string()),
                ("region", pa.string()),
                ("compute_class", pa.string()),
                ("computed_at", pa.float64()),
            ]
        ),
        description="one row per finished task (ok, failed or quarantined): its compute cost (price book)",
        docs={
            "key": "the entity the task served (sample, plate): the key of its input event",
            "run": "the run (sequencing run, batch) of the entity, from a task's `run` parameter; '' if none",
            "pipeline": "the pipeline whose contract declares the stage ('ingest' for the ingest task)",
            "stage": "the stage that ran the task",
            "status": "ok | failed | quarantined: failed attempts are billed like successful ones",
            "attempts": "attempts billed (1 + retries)",
            "started_at": "start of the last attempt (seconds since the epoch, UTC)",
            "ended_at": "end of the last attempt (seconds since the epoch, UTC)",
            "wall_s": "wall-clock seconds over all attempts (s)",
            "cpu_billed": "vCPUs billed: max(requested, used = cpu s / wall s), last attempt",
            "memory_gb_billed": "GB RAM billed: max(memory_mb asked / 1024, peak RSS / 2^30), last attempt",
            "gpu_billed": "GPUs billed: max(requested, used), last attempt",
            "cpu_used_s": "CPU seconds used over all attempts (s)",
            "cpu_usd": "vCPU cost: billed vCPUs x wall hours x vcpu_hour, over all attempts (USD)",
            "memory_usd": "RAM cost: billed GB x wall hours x gb_ram_hour, summed over attempts (USD)",
            "gpu_usd": "GPU cost: billed GPUs x wall hours x gpu_hour, summed over attempts (USD)",
            "accelerator_usd": "other accelerators (TPU, ...): requested x wall hours x price (USD)",
            "cost_usd": "the task's cost: cpu_usd + memory_usd + gpu_usd + accelerator_usd (USD, unrounded)",
            "efficiency": "CPU seconds used / vCPU seconds billed (0-1; low means over-requested)",
            "price_book": "name@version of the price book that priced the row",
            "region": "price book region",
            "compute_class": "price book compute class",
            "computed_at": "when the row was priced (seconds since the epoch, UTC)",
        },
    )
)

TURNAROUND = register_schema(
    TableSchema(
        "turnaround",
        pa.schema(
            [
                ("key", pa.string()),
                ("pipeline", pa.string()),
                ("milestone", pa.string()),
                ("stage", pa.string()),
                ("position", pa.int64()),
                ("reached_at", pa.float64()),
                ("since_start_s", pa.float64()),
                ("stage_s", pa.float64()),
                ("computed_at", pa.float64()),
            ]
        ),
        description="one row per entity (sample, plate) and milestone reached: its turnaround clock",
        docs={
            "key": "the entity (sample, plate)",
            "pipeline": "the pipeline that processed the entity",
            "milestone": "received, ingested, the pipeline's milestones (contract `milestones`), then "
            "signed and delivered for a clinical report",
            "stage": "the stage whose last successful task marks the milestone (the milestone's own name "
            "for signed and delivered)",
            "position": "order of the milestone (0 = received, 1 = ingested)",
            "reached_at": "when the milestone was reached: end of its last ok task (s since the epoch, UTC)",
            "since_start_s": "seconds from the entity's receipt (first file arrived) to this milestone (s)",
            "stage_s": "seconds from the previous milestone reached to this one (s)",
            "computed_at": "when the clock was read (seconds since the epoch, UTC)",
        },
        latest="per (project, key, milestone) the row with the greatest computed_at",
    )
)

STORAGE_MOVES = register_schema(
    TableSchema(
        "storage_moves",
        pa.schema(
            [
                ("uri", pa.string()),
                ("key", pa.string()),
                ("action", pa.string()),
                ("from_tier", pa.string()),
                ("to_tier", pa.string()),
                ("bytes", pa.int64()),
                ("at", pa.float64()),
                ("rule", pa.string()),
                ("early_fee_usd", pa.float64()),
            ]
        ),
        description="one row per object a lifecycle policy moved (labstream lifecycle apply) or restored",
        docs={
            "uri": "the object moved",
            "key": "the entity (sample, plate) whose task wrote the object; '' if none",
            "action": "transition | expire | restore",
            "from_tier": "tier before the move (hot, cool, archive, deep_archive)",
            "to_tier": "tier after the move ('expired' when deleted; the same tier for a restore)",
            "bytes": "object size (bytes)",
            "at": "when the move was made (seconds since the epoch, UTC)",
            "rule": "the policy rule that moved it ('' for a restore)",
            "early_fee_usd": "fee for leaving a tier before its minimum stay; a restore's retrieval (USD)",
        },
    )
)
