"""Storage cost of the raw instrument objects: bytes x days stored x the price book's GB-month rate.

Why raw objects only: they are what a lab keeps longest (re-analysis, audits) and the catalog knows
their size, project and first arrival; stage outputs are recorded by URI and checksum only, so
pricing them waits on sizes in the lineage. The store is content-addressed, so an object held by two
identities is stored, and billed, once (to the first that brought it). A month is 30 days; a GB is
2^30 bytes, as the clouds bill storage. Every object is billed at the `hot` tier until lifecycle
tiers exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from labstream.catalog.records import IngestedFile, LineageRecord
from labstream.ops.pricebook import PriceBook

__all__ = ["MONTH_S", "object_keys", "storage_costs"]

MONTH_S = 30 * 86400.0
GIB = float(2**30)


def object_keys(records: Iterable[LineageRecord]) -> dict[str, str]:
    """raw object URI -> the entity key its ingest task served."""
    out: dict[str, str] = {}
    for r in records:
        if r.stage == "ingest":
            for ref in r.outputs:
                out.setdefault(ref.uri, r.key or str(r.params.get("key", "")))
    return out


def storage_costs(
    files: Iterable[IngestedFile],
    keys: Mapping[str, str],
    book: PriceBook,
    *,
    region: str,
    now: float,
    tier: str = "hot",
) -> dict[tuple[str, str], dict[str, Any]]:
    """(project, key) -> {"objects", "bytes", "storage_usd"} from first arrival to `now`."""
    rate = book.storage_gb_month(region, tier)
    seen: set[str] = set()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for f in sorted(files, key=lambda f: f.first_seen):
        uri = f.object_uri
        if not uri or uri in seen or f.status != "published":
            continue
        seen.add(uri)
        months = max(0.0, now - f.first_seen) / MONTH_S
        entry = out.setdefault((f.project, keys.get(uri, "")), {"objects": 0, "bytes": 0, "storage_usd": 0.0})
        entry["objects"] += 1
        entry["bytes"] += f.size
        entry["storage_usd"] += f.size / GIB * months * rate
    return out
