"""Runs a lifecycle policy (labstream.ops.lifecycle) against the platform's object store: lists the
objects with their tiers, works out which must not move, plans, and applies: through the S3 API on
s3:// (storage classes, restore_object), as tier folders with a simulated restore delay on file://.

    moves = lifecycle_plan(settings, policy)            # nothing changes
    moves = lifecycle_apply(settings, policy)           # transitions and expiries made, recorded

What never moves (a `held` move with its reason):
- an object under an S3 Object Lock legal hold or unexpired retention (StoredObject.lock);
- an object tagged `legal-hold` (any value) in the store, or whose tags the server would not give
  (an archived object on some S3 APIs): a hold cannot be ruled out;
- the objects of an entity the policy's `[holds]` names;
- the objects of an open case: a sample with a clinical report whose current version is not signed
  (governance sign-off, catalog revision 0005): the case may still need its reads and calls.
An object's entity is the key of the task whose lineage names it as an output (ingest for raw files).
Every move made is a row of the `storage_moves` lake table, which storage cost reads to bill each
object in the tier it was in, day by day.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from labstream.catalog.records import LineageRecord
from labstream.core.settings import Settings
from labstream.objects.tiers import S3Tiers, StoredObject, open_tiers
from labstream.objects.tiers_local import LocalTiers
from labstream.ops.lifecycle import GIB, Move, Policy, plan
from labstream.ops.pricebook import PriceBook, load_price_book
from labstream.ops.tables import STORAGE_MOVES

__all__ = [
    "HOLD_TAG",
    "lifecycle_apply",
    "lifecycle_plan",
    "open_cases",
    "output_keys",
    "restore_object",
    "tier_history",
]

log = logging.getLogger(__name__)
HOLD_TAG = "legal-hold"
Tiers = S3Tiers | LocalTiers


def output_keys(records: Iterable[LineageRecord]) -> dict[str, tuple[str, str]]:
    """object URI -> (project, entity key) of the task that wrote it (the first one, ingest first)."""
    out: dict[str, tuple[str, str]] = {}
    for r in sorted(records, key=lambda r: (r.stage != "ingest", r.started_at)):
        key = r.key or str(r.params.get("key", ""))
        for ref in r.outputs:
            out.setdefault(ref.uri, (r.project, key))
    return out


def open_cases(settings: Settings) -> dict[str, str]:
    """sample -> reason, for every sample with a clinical report whose current version (the one no
    later version was made from) is not signed. Read from the catalog's governance tables."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from labstream.governance.models import DataObject, ReportVersion
    from labstream.ops._db import catalog_engine

    with Session(catalog_engine(settings.catalog_url)) as s:
        reports = list(s.scalars(select(DataObject).where(DataObject.kind == "report")))
        rows = {v.object_id: v for v in s.scalars(select(ReportVersion))}
    parents = {v.parent_id for v in rows.values() if v.parent_id}
    out: dict[str, str] = {}
    for obj in reports:
        if obj.id in parents or not obj.sample:
            continue  # superseded by a later version
        row = rows.get(obj.id)
        if row is None or row.state != "signed":
            out[obj.sample] = f"open case: report {obj.id} of sample {obj.sample} is not signed"
    return out


def _governed_uris(settings: Settings, samples: Iterable[str]) -> dict[str, str]:
    """URIs of the governed objects (BAM, VCF, reports) registered for `samples` -> sample."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from labstream.governance.models import DataObject
    from labstream.ops._db import catalog_engine

    wanted = set(samples)
    if not wanted:
        return {}
    with Session(catalog_engine(settings.catalog_url)) as s:
        objs = list(s.scalars(select(DataObject).where(DataObject.sample.in_(wanted))))
    out = {o.uri: o.sample for o in objs}
    out.update({o.index_uri: o.sample for o in objs if o.index_uri})
    return out


def _holds(
    settings: Settings, objects: list[StoredObject], policy: Policy, keys: Mapping[str, tuple[str, str]]
) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for o in objects:
        if o.lock:
            reasons[o.uri] = o.lock
        elif HOLD_TAG in o.tags:
            reasons[o.uri] = f"legal hold (tag {HOLD_TAG}={o.tags[HOLD_TAG]})"
        elif not o.tags_readable:  # a legal hold cannot be ruled out: leave it where it is
            reasons[o.uri] = f"its tags are unreadable while {o.tier} (restore it to check for {HOLD_TAG})"
    held = {**open_cases(settings), **policy.holds}
    for uri, (_, key) in keys.items():
        if key in held:
            reasons.setdefault(uri, f"{key}: {held[key]}")
    for uri, sample in _governed_uris(settings, held).items():
        reasons.setdefault(uri, f"{sample}: {held[sample]}")
    return reasons


def _context(settings: Settings) -> tuple[Tiers, dict[str, tuple[str, str]]]:
    from labstream.catalog import open_catalog

    tiers = _tiers(settings)
    with open_catalog(settings.catalog_url).upgrade() as cat:
        keys = output_keys(cat.list_lineage())
    return tiers, keys


def _tiers(settings: Settings) -> Tiers:
    from labstream.objects.fsspec_store import FsspecStore

    return open_tiers(FsspecStore(settings.objects_url))


def lifecycle_plan(
    settings: Settings, policy: Policy, *, now: float | None = None, book: PriceBook | None = None
) -> list[Move]:
    """The moves `policy` asks for now, held ones included with their reason; nothing changes."""
    tiers, keys = _context(settings)
    return _plan(settings, policy, tiers, keys, now, book)


def _plan(
    settings: Settings,
    policy: Policy,
    tiers: Tiers,
    keys: Mapping[str, tuple[str, str]],
    now: float | None,
    book: PriceBook | None,
) -> list[Move]:
    objects = list(tiers.list())
    return plan(
        objects,
        policy,
        book or load_price_book(settings.price_book or None),
        region=settings.region,
        root=tiers.store.url,
        now=time.time() if now is None else now,
        holds=_holds(settings, objects, policy, keys),
        accessed=_accessed(settings) if any(r.last_access_days is not None for r in policy.rules) else {},
    )


def _accessed(settings: Settings) -> dict[str, float]:
    """uri -> when the platform last served it (labstream.catalog.access)."""
    from labstream.catalog.access import AccessLog

    return AccessLog(_catalog_engine(settings)).last_access()


def _catalog_engine(settings: Settings) -> Any:
    from labstream.ops._db import catalog_engine

    return catalog_engine(settings.catalog_url)


def lifecycle_apply(
    settings: Settings, policy: Policy, *, now: float | None = None, book: PriceBook | None = None
) -> list[Move]:
    """Plan, then make every transition and expiry (held moves are not made) and record each made in
    the `storage_moves` table. Returns the plan; a move the store refused (an unrestored archived
    object cannot be copied on S3, a gone object) is returned as action "failed" with the reason and
    the others go on. An object another process moved meanwhile is planned again on the next run."""
    from dataclasses import replace

    from labstream.core.errors import LabstreamError

    tiers, keys = _context(settings)
    stamp = time.time() if now is None else now
    moves = _plan(settings, policy, tiers, keys, stamp, book)
    done, out = [], []
    try:
        for m in moves:
            try:
                if m.action == "transition":
                    tiers.transition(m.uri, m.to_tier)
                elif m.action == "expire":
                    tiers.expire(m.uri)
                else:
                    out.append(m)
                    continue
            except (LabstreamError, OSError) as err:
                log.warning("lifecycle: %s %s failed: %s", m.action, m.uri, err)
                out.append(replace(m, action="failed", reason=str(err)[:500]))
                continue
            done.append(m)
            out.append(m)
    finally:  # what was moved is recorded even if a later move raised something unexpected
        _record(settings, [(m, keys.get(m.uri, ("", ""))) for m in done], stamp)
    return out


def read_object(settings: Settings, uri: str, out: Path) -> int:
    """Copy an object of the platform's store to `out` (written whole, then renamed) and record the
    read as its last access; ObjectArchived (a restore asked for) when it is archived."""
    from labstream.catalog import open_catalog
    from labstream.catalog.access import AccessLog
    from labstream.objects import open_store

    with open_catalog(settings.catalog_url).upgrade():  # the object_access table exists from here on
        pass
    store = open_store(settings.objects_url)
    tmp = out.with_name(f".{out.name}.part")
    with store.open(uri) as src, open(tmp, "wb") as dst:
        size = 0
        while chunk := src.read(1 << 20):
            dst.write(chunk)
            size += len(chunk)
    tmp.replace(out)
    AccessLog(_catalog_engine(settings)).touch(uri)
    return size


def restore_object(
    settings: Settings, uri: str, *, days: int = 7, speed: str = "Standard", now: float | None = None
) -> dict[str, Any]:
    """Ask for a readable copy of an archived object and record the retrieval fee."""
    from labstream.catalog import open_catalog

    tiers = _tiers(settings)
    obj = tiers.stat(uri, tags=False)
    state = tiers.restore(uri, days=days, speed=speed)
    book = load_price_book(settings.price_book or None)
    fee = obj.size / GIB * float(book.retrieval_gb(settings.region, obj.tier))
    with open_catalog(settings.catalog_url).upgrade() as cat:
        key = output_keys(cat.list_lineage()).get(uri, ("", ""))
    move = Move(uri, "", "restore", obj.tier, obj.tier, obj.size, 0.0, 0.0, fee)
    _record(settings, [(move, key)], time.time() if now is None else now)
    return {
        "uri": uri,
        "tier": obj.tier,
        "ongoing": state.ongoing,
        "readable_until": state.readable_until,
        "retrieval_usd": fee,
    }


def _record(settings: Settings, moves: list[tuple[Move, tuple[str, str]]], at: float) -> None:
    if not moves:
        return
    from labstream.lake import open_lake

    lake = open_lake(settings.lake_url)
    lake.ensure_table(STORAGE_MOVES)
    rows = [
        {
            "uri": m.uri,
            "key": key,
            "action": m.action,
            "from_tier": m.from_tier,
            "to_tier": m.to_tier,
            "bytes": m.bytes,
            "at": at,
            "rule": m.rule,
            "early_fee_usd": m.early_fee_usd,
            "lineage_id": None,
            "project": project,
            "_ingested_at": None,
        }
        for m, (project, key) in moves
    ]
    lake.append("storage_moves", pa.Table.from_pylist(rows, schema=STORAGE_MOVES.arrow_schema))


def tier_history(settings: Settings) -> dict[str, list[tuple[float, str, float]]]:
    """object URI -> [(when, tier it entered, fee charged)] from `storage_moves`, oldest first."""
    from labstream.lake import open_lake

    lake = open_lake(settings.lake_url)
    if not lake.exists("storage_moves"):
        return {}
    out: dict[str, list[tuple[float, str, float]]] = {}
    t = lake.read("storage_moves", columns=["uri", "at", "to_tier", "early_fee_usd"])
    for uri, at, tier, fee in zip(*(t[c].to_pylist() for c in t.column_names), strict=True):
        out.setdefault(uri, []).append((at, tier, fee))
    for v in out.values():
        v.sort()
    return out
