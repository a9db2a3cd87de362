"""The map stage: each completed plate re-aligns all completed plates, recomputes the map, publishes hits.

Its input is the plate stage's event (well profiles of the completed plate, stored beside the others);
its outputs are the `phenotypic_activity`, `phenomics_hits` and `perturbation_profiles` lake tables and
a follow-up layout on the feedback topic.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from labstream.core.events import Event
from labstream.phenomics.profiling import build_map
from labstream.phenomics.reading import read_relationships
from labstream.phenomics.stages.tables import parquet_bytes
from labstream.runtime.stage import StageOutput, TaskContext


def _completed_plates(uri: str) -> pd.DataFrame:
    import fsspec

    folder = uri.rsplit("/", 1)[0]
    fs, root = fsspec.core.url_to_fs(folder)
    parts = [pd.read_parquet(io.BytesIO(fs.cat_file(p))) for p in sorted(fs.glob(f"{root}/*.parquet"))]
    return pd.concat(parts, ignore_index=True)


def map_update(ctx: TaskContext) -> StageOutput:
    """A plate completed: re-align every completed plate, recompute the map, publish hits."""
    ev = ctx.event
    wells = _completed_plates(ev.refs[0].uri)
    rel_path = ctx.params.get("relationships")
    rel = read_relationships(rel_path) if rel_path else None
    res = build_map(wells, rel)
    n_plates = int(wells.Metadata_Plate.nunique())
    trigger = str(ev.data["plate"])
    act = res.activity.assign(plates=n_plates, trigger_plate=trigger)
    hits = res.hits.assign(rank=np.arange(1, len(res.hits) + 1), plates=n_plates, trigger_plate=trigger)
    hit_cols = [
        "Metadata_Perturbation",
        "mean_average_precision",
        "corrected_p_value",
        "neighbours",
        "rank",
        "plates",
        "trigger_plate",
    ]
    hits = hits.reindex(columns=hit_cols)
    hits["neighbours"] = hits["neighbours"].fillna("").astype(str)
    store = ctx.store()
    layout_ref = store.put_derived(
        f"phenomics/feedback/follow_up_after_{trigger}.csv",
        res.layout.to_csv(index=False).encode(),
        media_type="text/csv",
    )
    profiles_ref = store.put_derived(
        f"phenomics/map/perturbation_profiles_after_{trigger}.parquet", parquet_bytes(res.perturbations)
    )
    feedback = Event(
        "phenomics.hits",
        trigger,
        {
            "plates": n_plates,
            "hits": hits.Metadata_Perturbation.tolist(),
            "metrics": {k: v for k, v in res.metrics.items()},
            "layout_rows": len(res.layout),
        },
        refs=(layout_ref, profiles_ref),
        project=ev.project,
    )
    return StageOutput(
        rows={
            "phenotypic_activity": act,
            "phenomics_hits": hits,
            "perturbation_profiles": _long(res.perturbations, n_plates, trigger),
        },
        objects=[layout_ref, profiles_ref],
        events=[feedback],
        metrics={"plates": float(n_plates), "hits": float(len(hits))},
    )


def _long(profiles: pd.DataFrame, plates: int, trigger: str) -> pd.DataFrame:
    feats = [c for c in profiles.columns if not c.startswith("Metadata_")]
    long = profiles.melt(
        id_vars=["Metadata_Perturbation", "Metadata_Role"],
        value_vars=feats,
        var_name="feature",
        value_name="value",
    )
    return long.assign(plates=plates, trigger_plate=trigger)
