"""Egress cost: the bytes the API served (DRS downloads, htsget blocks, reports, tables) per project x
the price book's egress rate.

Why the audit log: every guarded response already writes one audit record with its project, and the
API adds the response's Content-Length (`detail.bytes`), so the bytes that left are counted where
they left, once, with no second log to keep in step. Ranged reads count the bytes of the range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from labstream.core.settings import Settings
from labstream.ops.pricebook import PriceBook

__all__ = ["egress_costs", "served_records"]

GIB = float(2**30)


def _projects(r: Any) -> list[str]:
    return str(r.project).split(",")


def egress_costs(
    records: Iterable[Any],
    book: PriceBook,
    *,
    region: str,
    since: float = 0.0,
    groups: Callable[[Any], list[str]] = _projects,
) -> dict[str, dict[str, float]]:
    """project -> {"bytes", "egress_usd"} from audit records (`AuditRecord`) at or after `since`; a
    response of several projects is shared between them. `groups(record)` names other groups (the
    sample a served object belongs to): a record of no group is not counted."""
    rate = book.egress_gb(region)
    out: dict[str, dict[str, float]] = {}
    for r in records:
        size = (r.detail or {}).get("bytes")
        if not size or r.outcome != "allowed" or not r.project or r.ts < since:
            continue
        names = groups(r)
        for name in names:
            entry = out.setdefault(name, {"bytes": 0.0, "egress_usd": 0.0})
            share = float(size) / len(names)
            entry["bytes"] += share
            entry["egress_usd"] += share / GIB * rate
    return out


def served_records(settings: Settings) -> list[Any]:
    """The audit records of responses that carried bytes (none when the API never served any)."""
    if not (settings.home / "audit" / "audit.db").exists():
        return []
    from labstream.governance.service import Governance

    gov = Governance.open(settings)
    try:
        records, seq = [], 0
        while batch := gov.audit.query(since_seq=seq, limit=10_000):
            records += [r for r in batch if (r.detail or {}).get("bytes")]
            seq = batch[-1].seq
        return records
    finally:
        gov.close()
