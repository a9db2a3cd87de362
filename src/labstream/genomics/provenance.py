"""Lineage of genomics results outside the runtime: the reference bundle by sha256, and the record of
a batch `genomics call`, so the id it prints walks back through `labstream lineage`.

Why hash the bundle: a path says nothing once the file is replaced; a result answers to the exact
reference, annotation and known-variants files it was made with. Hashes are cached per (path, size,
mtime) in the process, so a streaming stage does not re-read a large reference for every sample.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from labstream.catalog.records import IORef, LineageRecord
from labstream.core.hashing import sha256_file

STAGE = "genomics_call"


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)[0]


def file_ref(path: str | Path) -> IORef:
    """`file://` URI and sha256 of a local file."""
    p = Path(path).resolve()
    st = p.stat()
    return IORef(p.as_uri(), _sha256(str(p), st.st_size, st.st_mtime_ns))


def bundle_refs(*paths: str | Path | None) -> list[IORef]:
    """IORefs of the reference, annotation and known-variants files that are given (None skipped)."""
    return [file_ref(p) for p in paths if p]


def record_batch_call(
    catalog_url: str,
    lineage_id: str,
    *,
    inputs: Iterable[str | Path | None],
    outputs: Iterable[str | Path],
    params: dict[str, Any],
    started_at: float,
    status: str = "ok",
    error: str | None = None,
    project: str = "default",
    sample: str = "",
    run: str | None = None,
    model_version: str | None = None,
) -> LineageRecord:
    """Record one `genomics call` in the catalog under `lineage_id` (the id its rows carry)."""
    from labstream.catalog import open_catalog

    ended = time.time()
    rec = LineageRecord(
        stage=STAGE,
        stage_version="1",
        code_version=f"labstream.genomics.chain:call_sample@{_code_hash()}",
        params={
            "sample": sample,
            "run": run,
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()},
        },
        model_version=model_version,
        inputs=bundle_refs(*inputs),
        outputs=[file_ref(p) for p in outputs if Path(p).exists()],
        project=project,
        status=status,
        error=error,
        wall_seconds=ended - started_at,
        cpu_seconds=sum(os.times()[:4]),
        host=socket.gethostname(),
        executor="local (genomics call)",
        started_at=started_at,
        ended_at=ended,
        id=lineage_id,
    )
    cat = open_catalog(catalog_url)
    cat.upgrade()
    cat.record_lineage(rec)
    return rec


def _code_hash() -> str:
    """The chain module's source hash, found without importing it (it imports this module)."""
    import importlib.util

    spec = importlib.util.find_spec("labstream.genomics.chain")
    origin = spec.origin if spec and spec.origin else __file__
    return _sha256(origin, *_stat(origin))[:12]


def _stat(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


__all__ = ["STAGE", "bundle_refs", "file_ref", "record_batch_call"]
