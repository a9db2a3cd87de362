"""Storage cost: bytes x days in each tier x the price book's GB-month rate of that tier, per entity.

What is billed: the raw instrument objects (the catalog knows their size, project and first arrival)
and the stage outputs (BAMs, VCFs, reports, images: `stage_outputs` finds their sizes in the object
store, from the end of the task that wrote them), each to the entity (sample, plate) whose task wrote
it. The store is content-addressed, so an object held by two identities is stored, and billed, once
(to the first that brought it). A month is 30 days; a GB is 2^30 bytes, as the clouds bill storage.

Tiers: an object is `hot` from its arrival until a lifecycle move (the `storage_moves` table,
labstream.ops.lifecycle_run) puts it in another tier; from then on it is billed at that tier's rate,
and not at all once expired. Early-deletion and retrieval fees of its moves are added as `fees_usd`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from labstream.catalog.records import IngestedFile, LineageRecord
from labstream.ops.pricebook import PriceBook

__all__ = [
    "MONTH_S",
    "by_tier",
    "object_keys",
    "object_writers",
    "stage_outputs",
    "storage_costs",
    "tier_seconds",
]

MONTH_S = 30 * 86400.0
GIB = float(2**30)
History = Mapping[str, Sequence[tuple[float, str, float]]]  # uri -> [(when, tier entered, fee)]


def object_keys(records: Iterable[LineageRecord]) -> dict[str, str]:
    """raw object URI -> the entity key its ingest task served."""
    out: dict[str, str] = {}
    for r in records:
        if r.stage == "ingest":
            for ref in r.outputs:
                out.setdefault(ref.uri, r.key or str(r.params.get("key", "")))
    return out


def object_writers(records: Iterable[LineageRecord]) -> dict[str, str]:
    """object URI -> lineage id of the task it is billed to: the ingest task that brought a raw object,
    else the first successful task that wrote it (as `storage_costs` bills them)."""
    out: dict[str, str] = {}
    for r in sorted(records, key=lambda r: (r.stage != "ingest", r.ended_at)):
        if r.stage == "ingest" or r.status == "ok":
            for ref in r.outputs:
                out.setdefault(ref.uri, r.id)
    return out


def stage_outputs(
    records: Iterable[LineageRecord], size_of: Callable[[str], int | None]
) -> list[tuple[str, str, str, int, float]]:
    """(uri, project, key, bytes, since) for each object a successful non-ingest task wrote, once per
    URI (its first writer); `size_of(uri)` gives its size in the store, None for a URI that is not
    an object of the store (a lake table, a gone object): those are not billed here."""
    seen: set[str] = set()
    out = []
    for r in sorted(records, key=lambda r: r.ended_at):
        if r.stage == "ingest" or r.status != "ok":
            continue
        for ref in r.outputs:
            if ref.uri in seen:
                continue
            seen.add(ref.uri)
            size = size_of(ref.uri)
            if size is not None:
                out.append((ref.uri, r.project, r.key or str(r.params.get("key", "")), size, r.ended_at))
    return out


def tier_seconds(since: float, now: float, moves: Sequence[tuple[float, str, float]]) -> dict[str, float]:
    """Seconds spent in each tier from `since` to `now` given the object's moves (hot before any)."""
    out: dict[str, float] = {}
    tier, start = "hot", since
    for at, to, _ in moves:
        at = min(max(at, start), now)
        out[tier] = out.get(tier, 0.0) + (at - start)
        tier, start = to, at
    if tier != "expired":
        out[tier] = out.get(tier, 0.0) + max(0.0, now - start)
    out.pop("expired", None)
    return out


def _stored_once(
    files: Iterable[IngestedFile],
    outputs: Iterable[tuple[str, str, str, int, float]],
    keys: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, str, str, int, float]]:
    """(uri, project, key, size, since) of each stored object once: the published raw files in arrival
    order (their key from `keys`), then the `stage_outputs` rows not among them."""
    keys = keys or {}
    seen: set[str] = set()
    published = sorted((f for f in files if f.status == "published"), key=lambda f: f.first_seen)
    raw = [(f.object_uri, f.project, keys.get(f.object_uri, ""), f.size, f.first_seen) for f in published]
    for uri, project, key, size, since in [*raw, *outputs]:
        if uri and uri not in seen:
            seen.add(uri)
            yield uri, project, key, size, since


def storage_costs(
    files: Iterable[IngestedFile],
    keys: Mapping[str, str],
    book: PriceBook,
    *,
    region: str,
    now: float,
    history: History | None = None,
    outputs: Iterable[tuple[str, str, str, int, float]] = (),
    writers: Mapping[str, str] | None = None,
) -> dict[Any, dict[str, Any]]:
    """(project, key) -> {"objects", "bytes", "storage_usd", "storage_<tier>_usd", "fees_usd"}, from
    each object's arrival to `now`; `outputs` are `stage_outputs` rows, billed like raw objects. With
    `writers` (`object_writers`) the keys are instead the lineage ids of the tasks each object is
    billed to ("" for an object no task wrote), for roll-ups by run, stage, user or tag."""
    moves = history or {}
    out: dict[Any, dict[str, Any]] = {}
    for uri, project, key, size, since in _stored_once(files, outputs, keys):
        group = (project, key) if writers is None else writers.get(uri, "")
        entry = out.setdefault(group, {"objects": 0, "bytes": 0, "storage_usd": 0.0, "fees_usd": 0.0})
        entry["objects"] += 1
        entry["bytes"] += size
        for tier, secs in tier_seconds(since, now, moves.get(uri, ())).items():
            usd = size / GIB * secs / MONTH_S * book.storage_gb_month(region, tier)
            entry[f"storage_{tier}_usd"] = entry.get(f"storage_{tier}_usd", 0.0) + usd
            entry["storage_usd"] += usd
        entry["fees_usd"] += sum(fee for _, _, fee in moves.get(uri, ()))
    return out


def by_tier(
    files: Iterable[IngestedFile],
    book: PriceBook,
    *,
    region: str,
    history: History | None = None,
    outputs: Iterable[tuple[str, str, str, int, float]] = (),
) -> list[dict[str, Any]]:
    """Where the bytes live now: per (project, tier) the objects, bytes and what they cost a month at
    the tier's rate (expired objects are gone; each object once, as in `storage_costs`)."""
    moves = history or {}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for uri, project, _, size, _ in _stored_once(files, outputs):
        tier = moves[uri][-1][1] if moves.get(uri) else "hot"
        if tier == "expired":
            continue
        row = out.setdefault((project, tier), {"project": project, "tier": tier, "objects": 0, "bytes": 0})
        row["objects"] += 1
        row["bytes"] += size
    for row in out.values():
        row["usd_per_month"] = row["bytes"] / GIB * book.storage_gb_month(region, row["tier"])
    return sorted(out.values(), key=lambda r: (r["project"], r["tier"]))
