"""Lineage: one record per task, and the walk from a row or an object back to the instrument file.

A record holds what cost attribution and turnaround time need: inputs (URI + sha256), stage, stage and
code version, parameters, model version, outputs, cpu/wall/gpu seconds, peak RSS, host, executor, start
and end, the resource request, the entity key and earlier attempts' usage (what ops bills).
`parent_ids` are the lineage ids carried by the input events (`Event.parents`), so following them
ends at the ingest task of the instrument file, which has none.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labstream.catalog.base import CatalogStore
from labstream.catalog.records import IORef, LineageRecord
from labstream.core.errors import InputError
from labstream.core.resources import ResourceUsage

if TYPE_CHECKING:
    from labstream.runtime.batch import Task
    from labstream.runtime.stage import Stage


def code_version(fn: Any) -> str:
    """`module:qualname@<sha256 of the module source, 12 hex>`: changes when the code does."""
    name = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
    try:
        return _with_source_digest(name, inspect.getsourcefile(fn))
    except TypeError:
        return name


def source_version(module: str, qualname: str) -> str:
    """`code_version` of `module.qualname` without importing the module: for code that runs in other
    processes and whose import has side effects here (Flower's apps load gRPC, which makes every later
    fork of this process unsafe)."""
    spec = importlib.util.find_spec(module)
    return _with_source_digest(f"{module}:{qualname}", spec.origin if spec else None)


def _with_source_digest(name: str, path: str | None) -> str:
    try:
        with open(path or "", "rb") as fh:
            return f"{name}@{hashlib.sha256(fh.read()).hexdigest()[:12]}"
    except OSError:
        return name


def build_record(task: Task, *, stage: Stage, code_version: str, executor_url: str) -> LineageRecord:
    """The lineage record of a finished task (ok, failed or quarantined) of `stage`."""
    usage = task.result.usage if task.result is not None else ResourceUsage()
    output = task.result.output if task.result is not None else None
    inputs = _unique_refs([r for e in task.events for r in e.refs] + list(output.inputs if output else []))
    outputs = _unique_refs(
        list(output.objects if output else []) + [r for e in task.out_events for r in e.refs]
    )
    parents = list(dict.fromkeys(p for e in task.events for p in e.parents))
    failure = task.failure
    status = "ok" if failure is None else ("quarantined" if failure.kind in ("input", "denied") else "failed")
    return LineageRecord(
        id=task.lineage_id,
        stage=stage.name,
        stage_version=stage.version,
        code_version=code_version,
        params=dict(stage.params),
        model_version=output.model_version if output else None,
        inputs=inputs,
        outputs=outputs,
        parent_ids=parents,
        event_id=task.events[0].id,
        project=task.project,
        status=status,
        error=None
        if failure is None
        else f"{failure.error_type}: {failure.message} (attempts: {task.attempts})",
        cpu_seconds=usage.cpu_seconds,
        wall_seconds=usage.wall_seconds,
        peak_rss_bytes=usage.peak_rss_bytes,
        gpu_seconds=usage.gpu_seconds,
        host=usage.host,
        executor=(task.placement.executor_url if task.placement else "") or executor_url,
        started_at=usage.started_at,
        ended_at=usage.ended_at,
        request=_request(stage, task),
        key=task.events[0].key,
        attempts=list(task.earlier),
    )


def _request(stage: Stage, task: Task) -> dict[str, Any]:
    """The resource request, and where a placer put the task and why (`placement`: site, class,
    region, cost, reason; JSON column, so no migration; ops/cost reads only the resource keys)."""
    r = stage.resources
    out: dict[str, Any] = {"cpu": r.cpu, "gpu": r.gpu, "memory_mb": r.memory_mb, "custom": dict(r.custom)}
    if task.placement is not None and task.placement.lineage:
        out["placement"] = dict(task.placement.lineage)
    return out


def _unique_refs(refs: list[Any]) -> list[IORef]:
    out: dict[tuple[str, str], IORef] = {}
    for r in refs:
        ref = IORef.of(r)
        out.setdefault((ref.uri, ref.sha256), ref)
    return list(out.values())


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text.lower())


def walk(catalog: CatalogStore, target: str | Mapping[str, Any]) -> list[LineageRecord]:
    """From a lineage id, a lake row (a mapping with `lineage_id`), an object URI or a sha256, back to
    the ingest task(s): the starting task(s) first, ancestors after, each once.

    Raises InputError naming the target when nothing in the catalog matches it."""
    if isinstance(target, Mapping):
        lid = target.get("lineage_id")
        if not lid:
            raise InputError(
                str(dict(target))[:120],
                "the row has no lineage_id",
                hint="select the lineage_id column of a lake table",
            )
        return catalog.walk_lineage(str(lid))
    text = str(target).strip()
    if "://" in text or _is_sha256(text):
        producers = catalog.lineage_for_object(text, "out")
        if not producers:
            raise InputError(
                text,
                "no task in the lineage produced this object",
                hint="give the object's URI as stored (file://..., s3://...) or its sha256",
            )
        out: dict[str, LineageRecord] = {}
        for rec in producers:
            for r in catalog.walk_lineage(rec.id):
                out.setdefault(r.id, r)
        return list(out.values())
    return catalog.walk_lineage(text)
