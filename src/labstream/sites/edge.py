"""The edge site's side: run the image stage next to the microscope, keep the raw image at the edge,
and publish one small event per field of view naming what it produced.

The policy says what may leave the edge: feature rows, thumbnails, and a deterministic sample of raw
images (the same fields on every run and after every restart, so replication stays reproducible).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labstream.genomics.fastq import iter_pairs
from labstream.genomics.qc import QCStats, qc_and_trim
from labstream.objects import open_store
from labstream.objects.base import ObjectStore
from labstream.phenomics.image import block_mean
from labstream.phenomics.model import SiteImage
from labstream.phenomics.site import measure_site
from labstream.stream.base import Stream

__all__ = [
    "EdgePolicy",
    "edge_columns",
    "edge_rows_event",
    "edge_site_event",
    "edge_site_products",
    "read_qc_rows",
    "run_edge_site",
    "thumbnail",
]


@dataclass(frozen=True)
class EdgePolicy:
    """What the edge sends the cloud. Raw images go only for the `raw_fraction` of fields whose key
    hashes below it; thumbnails are `thumbnail_factor`-times smaller per side, 8 bits per channel."""

    features: bool = True
    thumbnails: bool = True
    raw_fraction: float = 0.0
    thumbnail_factor: int = 8

    def sends_raw(self, key: str) -> bool:
        h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        return h / 2**64 < self.raw_fraction

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def thumbnail(pixels: np.ndarray, factor: int) -> bytes:
    """(C, H/f, W/f) uint8 npy bytes: per-channel block means stretched to 0..255."""
    small = block_mean(pixels.astype(np.float32), factor)
    lo = small.min(axis=(1, 2), keepdims=True)
    hi = small.max(axis=(1, 2), keepdims=True)
    scaled = (small - lo) / np.maximum(hi - lo, 1e-9) * 255.0
    return _npy(np.round(scaled).astype(np.uint8))


def edge_site_products(
    img: SiteImage, *, project: str, store: ObjectStore, policy: EdgePolicy
) -> dict[str, Any]:
    """The edge's image stage for one field of view: measure it, keep its features, raw image and
    thumbnail in the edge's object store, and return the (small) event that names them."""
    result = measure_site(img)
    buf = io.BytesIO()
    result.cells.to_parquet(buf, index=False)
    features = store.put_bytes(buf.getvalue(), suffix=".parquet")
    raw = store.put_bytes(_npy(img.pixels), suffix=".npy")
    thumb = store.put_bytes(thumbnail(img.pixels, policy.thumbnail_factor), suffix=".npy")
    return {
        "kind": "site",
        "table": "edge_cells",
        "key": img.key.id,
        "project": project,
        "cells": len(result.cells),
        "features": features.to_dict(),
        "thumbnail": thumb.to_dict(),
        "raw": raw.to_dict(),
    }


def run_edge_site(img: SiteImage, *, project: str, objects_url: str, policy: EdgePolicy) -> dict[str, Any]:
    """`edge_site_products` as an executor task (the edge site's own pool or Dask workers): stores
    opened by URL in the worker; the caller publishes the returned event on the edge stream."""
    return edge_site_products(img, project=project, store=open_store(objects_url), policy=policy)


def edge_site_event(
    img: SiteImage, *, project: str, store: ObjectStore, stream: Stream, topic: str, policy: EdgePolicy
) -> dict[str, Any]:
    """Measure one field of view at the edge, store its products in the edge's object store, publish
    the event (keyed by the field's id, so one field's events stay in order) and return it."""
    event = edge_site_products(img, project=project, store=store, policy=policy)
    stream.publish(topic, json.dumps(event).encode(), key=img.key.id)
    return event


def edge_columns(
    df: pd.DataFrame, *, kind: str, key: str, thumbnail_uri: str, raw_uri: str, partition: int, offset: int
) -> pd.DataFrame:
    """The columns the cloud adds to an edge event's rows: where they came from and what was sent."""
    if kind == "site":
        df["site_key"], df["thumbnail_uri"] = key, thumbnail_uri
    df["raw_uri"] = raw_uri
    df["edge_partition"], df["edge_offset"] = partition, offset
    return df


def edge_rows_event(
    rows: pd.DataFrame,
    raw: bytes,
    *,
    key: str,
    table: str,
    project: str,
    store: ObjectStore,
    stream: Stream,
    topic: str,
    suffix: str = "",
) -> dict[str, Any]:
    """Publish rows an edge stage made from `raw` (e.g. read QC of one FASTQ chunk of a sequencing run):
    the rows may go to the cloud's `table`, the raw bytes stay at the edge unless the policy samples them."""
    buf = io.BytesIO()
    rows.to_parquet(buf, index=False)
    event = {
        "kind": "rows",
        "table": table,
        "key": key,
        "project": project,
        "cells": len(rows),
        "features": store.put_bytes(buf.getvalue(), suffix=".parquet").to_dict(),
        "raw": store.put_bytes(raw, suffix=suffix).to_dict(),
    }
    stream.publish(topic, json.dumps(event).encode(), key=key)
    return event


def read_qc_rows(r1: str | Path, r2: str | Path | None, *, run: str, chunk: int) -> pd.DataFrame:
    """The sequencing edge stage: read QC of one FASTQ chunk of a run (one row); the reads stay."""
    stats = QCStats()
    for b1, b2 in iter_pairs(r1, r2):
        qc_and_trim(b1, b2, stats)
    return pd.DataFrame([{"run": run, "chunk": chunk, **stats.summary()}])
