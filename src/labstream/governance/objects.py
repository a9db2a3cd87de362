"""Registry of served data objects (BAM, VCF, reports, raw files) for DRS, htsget and reports.

Registering encrypts the file into the project's store and records an opaque id; clients only ever see
the id, never a path or URI, so no request parameter can name a file on the server.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from labstream.core.errors import InputError
from labstream.core.hashing import sha256_file
from labstream.governance.models import DataObject
from labstream.governance.service import Governance

MEDIA = {
    "bam": "application/vnd.ga4gh.bam",
    "cram": "application/vnd.ga4gh.cram",
    "vcf": "application/vnd.ga4gh.vcf",
    "report": "text/html",
    "raw": "application/octet-stream",
}


def register_file(
    gov: Governance,
    path: str | Path,
    *,
    project: str,
    kind: str,
    name: str = "",
    sample: str = "",
    run_id: str = "",
    patient_linked: bool = False,
    index_path: str | Path | None = None,
    media_type: str = "",
) -> DataObject:
    """Encrypt `path` (and its index) into the project's store and register it; returns the record."""
    path = Path(path)
    if kind not in MEDIA:
        raise InputError(str(path), f"unknown object kind {kind!r}", hint=f"use one of {', '.join(MEDIA)}")
    if not path.is_file():
        raise InputError(str(path), "no such file")
    store = gov.store(project)
    sha, size = sha256_file(path)
    ref = store.put_file(path, suffix=_suffix(path))
    index_uri = store.put_file(index_path, suffix=_suffix(Path(index_path))).uri if index_path else None
    obj = DataObject(
        id=secrets.token_hex(12),
        project=project,
        kind=kind,
        name=name or path.name,
        uri=ref.uri,
        index_uri=index_uri,
        sha256=sha,
        size=size,
        media_type=media_type or MEDIA[kind],
        encrypted=True,
        patient_linked=patient_linked,
        sample=sample,
        run_id=run_id,
    )
    with gov.sessions.begin() as s:
        s.add(obj)
    return obj


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:])[:16]


def get_object(gov: Governance, object_id: str) -> DataObject | None:
    if not isinstance(object_id, str) or len(object_id) > 64:
        return None
    with gov.sessions() as s:
        return s.get(DataObject, object_id)


def list_objects(
    gov: Governance, projects: list[str], *, kind: str | None = None, offset: int = 0, limit: int = 100
) -> list[DataObject]:
    with gov.sessions() as s:
        q = select(DataObject).where(DataObject.project.in_(projects))
        if kind:
            q = q.where(DataObject.kind == kind)
        return list(s.scalars(q.order_by(DataObject.created_at, DataObject.id).offset(offset).limit(limit)))


def served_uris(engine: Engine, ident: str) -> list[str]:
    """Stored URIs of the served objects whose DRS id or (plaintext) sha256 is `ident`: what a client
    holds of an object, resolved to what the lineage records (an encrypted object's tasks list its URI
    with the ciphertext's sha256)."""
    if not isinstance(ident, str) or not 0 < len(ident) <= 64:
        return []
    q = select(DataObject.uri).where((DataObject.id == ident) | (DataObject.sha256 == ident.lower()))
    with Session(engine) as s:
        return list(dict.fromkeys(s.scalars(q)))
