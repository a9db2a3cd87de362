"""The cost of one sample, itemised, for its signed report: what the test cost the lab (COGS) at the
moment a geneticist signs it.

    sample_cost(settings, project, sample) -> {"compute_usd", "storage_usd", "egress_usd", "total_usd",
                                              "tasks", "attempts", "price_book", "as_of"}

compute: every task of the sample in the `costs` table (refreshed first, so the last task is in;
retries and failed attempts included, each row priced by the book it names); storage: the sample's raw
objects and stage outputs from arrival to now, per tier, with early-deletion and retrieval fees
(labstream.ops.stored); egress: the bytes the API served of the sample's governed objects (DRS,
htsget, reports) from the audit log. Why the caller passes it to sign-off and sign-off does not ask
for it: governance (layer 6) must not import ops (layer 6, which reads governance's tables).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pyarrow.compute as pc

from labstream.core.errors import LabstreamError
from labstream.core.settings import Settings

__all__ = ["report_cost", "sample_cost"]

log = logging.getLogger(__name__)


def report_cost(settings: Settings) -> Callable[[Any], dict[str, Any] | None]:
    """For governance.signoff.sign(cost=...): the cost of the signed report's sample; None (the report
    is signed without it) when the report names no sample, no task of the sample ran on this platform,
    or the ledger cannot be read (logged): a cost must never stop a clinical sign-off."""

    def cost(report: Any) -> dict[str, Any] | None:
        if not report.sample:
            return None
        try:
            priced = sample_cost(settings, report.project, report.sample)
        except (LabstreamError, OSError) as err:
            log.warning("report %s signed without its cost: %s", report.id, err)
            return None
        return priced if priced["tasks"] else None  # no task of it ran here: its cost is not known

    return cost


def sample_cost(settings: Settings, project: str, sample: str, *, now: float | None = None) -> dict[str, Any]:
    from labstream.ops.egress import egress_costs, served_records
    from labstream.ops.ledger import costs_table, refresh
    from labstream.ops.pricebook import load_price_book
    from labstream.ops.stored import storage_inventory

    stamp = time.time() if now is None else now
    refresh(settings)
    costs = costs_table(settings)
    mine = costs.filter(pc.and_(pc.equal(costs["project"], project), pc.equal(costs["key"], sample)))
    book = load_price_book(settings.price_book or None)
    stored = storage_inventory(settings, now=stamp, book=book)[0].get((project, sample), {})
    owners = _object_samples(settings)

    def of_sample(r: Any) -> list[str]:
        kind, _, oid = str(r.resource).partition("/")
        return [sample] if kind in ("object", "report") and owners.get(oid) == (project, sample) else []

    served = egress_costs(served_records(settings), book, region=settings.region, groups=of_sample)
    compute = float(pc.sum(mine["cost_usd"]).as_py() or 0.0)
    storage = float(stored.get("storage_usd", 0.0)) + float(stored.get("fees_usd", 0.0))
    egress = served.get(sample, {}).get("egress_usd", 0.0)
    books = sorted(set(mine["price_book"].to_pylist()) | {f"{book.name}@{book.version}"})
    return {
        "compute_usd": compute,
        "storage_usd": storage,
        "egress_usd": egress,
        "total_usd": compute + storage + egress,
        "tasks": mine.num_rows,
        "attempts": int(pc.sum(mine["attempts"]).as_py() or 0),
        "stored_bytes": int(stored.get("bytes", 0)),
        "egress_bytes": int(served.get(sample, {}).get("bytes", 0.0)),
        "price_book": ", ".join(books),
        "currency": book.currency,
        "as_of": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp)),
    }


def _object_samples(settings: Settings) -> dict[str, tuple[str, str]]:
    """governed object id -> (project, sample)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from labstream.governance.models import DataObject
    from labstream.ops._db import catalog_engine, has_table

    engine = catalog_engine(settings.catalog_url)
    if not has_table(engine, DataObject.__tablename__):
        return {}
    with Session(engine) as s:
        return {
            i: (p, smp)
            for i, p, smp in s.execute(select(DataObject.id, DataObject.project, DataObject.sample))
        }
