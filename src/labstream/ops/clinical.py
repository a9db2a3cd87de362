"""The milestones of a sample that happen outside its pipeline: when it was received, when its clinical
report was signed and when the signed report was delivered. They end a clinical turnaround clock
(received -> signed, as clinical labs define TAT).

    received   the first arrival of any of the entity's files (the catalog's `first_seen`)
    signed     the first signing of the sample's report (governance sign-off, catalog revision 0005;
               an amendment signed later does not move it: the first signed answer is what was promised)
    delivered  the first time a signed version was served by the API (`GET /reports/{id}`, an allowed
               record of the audit log), at or after its signing

Why read governance's tables here and not add lineage: sign-off and reads already write their own
durable records (report versions, the audit log); a second copy could disagree with them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from labstream.catalog.records import IngestedFile
from labstream.core.settings import Settings

__all__ = ["after_pipeline", "received_at"]


def received_at(files: Iterable[IngestedFile], keys: Mapping[str, str]) -> dict[tuple[str, str], float]:
    """(project, key) -> the earliest `first_seen` of its files (raw object URI -> key: `object_keys`)."""
    out: dict[tuple[str, str], float] = {}
    for f in files:
        key = keys.get(f.object_uri, "")
        if key and f.first_seen > 0:
            ent = (f.project, key)
            out[ent] = min(out.get(ent, f.first_seen), f.first_seen)
    return out


def after_pipeline(settings: Settings) -> dict[tuple[str, str], list[tuple[str, float]]]:
    """(project, sample) -> [("signed", t), ("delivered", t)] for every sample with a signed report."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from labstream.governance.models import DataObject, ReportVersion
    from labstream.ops._db import catalog_engine, has_table

    engine = catalog_engine(settings.catalog_url)
    if not has_table(engine, ReportVersion.__tablename__):
        return {}
    with Session(engine) as s:
        q = (
            select(DataObject.project, DataObject.sample, ReportVersion.object_id, ReportVersion.signed_at)
            .join(DataObject, DataObject.id == ReportVersion.object_id)
            .where(ReportVersion.state == "signed", ReportVersion.signed_at.is_not(None))
        )
        signed = list(s.execute(q))
    first: dict[tuple[str, str], float] = {}
    version_of: dict[str, tuple[tuple[str, str], float]] = {}
    for project, sample, object_id, at in signed:
        if not sample:
            continue
        ent = (project, sample)
        first[ent] = min(first.get(ent, at), at)
        version_of[object_id] = (ent, at)
    delivered: dict[tuple[str, str], float] = {}
    for resource, ts in _served(settings.home / "audit" / "audit.db", [f"report/{i}" for i in version_of]):
        ent, signed_at = version_of[resource.removeprefix("report/")]
        if ts >= signed_at:
            delivered[ent] = min(delivered.get(ent, ts), ts)
    out: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for ent, at in first.items():
        out[ent] = [("signed", at)] + ([("delivered", delivered[ent])] if ent in delivered else [])
    return out


def _served(path: Path, resources: list[str]) -> list[tuple[str, float]]:
    """(resource, first allowed read) from the audit log; only read here (the API is its writer). Not
    opened read-only: a WAL database needs its -shm file, which a read-only reader cannot create."""
    if not resources or not path.exists():
        return []
    db = sqlite3.connect(path, timeout=10)
    try:
        out: list[tuple[str, float]] = []
        for i in range(0, len(resources), 500):
            part = resources[i : i + 500]
            marks = ",".join("?" * len(part))
            sql = (
                "SELECT resource, min(ts) FROM audit WHERE outcome = 'allowed' "
                f"AND resource IN ({marks}) GROUP BY resource"  # noqa: S608 - placeholders only
            )
            out += [(str(r), float(t)) for r, t in db.execute(sql, part)]
        return out
    finally:
        db.close()
