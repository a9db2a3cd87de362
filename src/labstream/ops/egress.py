"""Egress cost: the bytes the API served (DRS downloads, htsget blocks, reports, tables) per project x
the price book's egress rate.

Why the audit log: every guarded response already writes one audit record with its project, and the
API adds the response's Content-Length (`detail.bytes`), so the bytes that left are counted where
they left, once, with no second log to keep in step. Ranged reads count the bytes of the range.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from labstream.ops.pricebook import PriceBook

__all__ = ["egress_costs"]

GIB = float(2**30)


def egress_costs(
    records: Iterable[Any], book: PriceBook, *, region: str, since: float = 0.0
) -> dict[str, dict[str, float]]:
    """project -> {"bytes", "egress_usd"} from audit records (`AuditRecord`) at or after `since`."""
    rate = book.egress_gb(region)
    out: dict[str, dict[str, float]] = {}
    for r in records:
        size = (r.detail or {}).get("bytes")
        if not size or r.outcome != "allowed" or not r.project or r.ts < since:
            continue
        for project in str(r.project).split(","):
            entry = out.setdefault(project, {"bytes": 0.0, "egress_usd": 0.0})
            share = float(size) / len(str(r.project).split(","))
            entry["bytes"] += share
            entry["egress_usd"] += share / GIB * rate
    return out
