"""A pipeline's results as served objects: every BAM, VCF and report a run writes becomes a DRS object of
its project (with its index, so htsget can cut regions) the moment the run has written it.

Why here and not in the API: the objects must exist whether or not a server is running, so the product
paths (`labstream genomics call --project`, governed runs) register them, and the API only serves what
is registered. Registering twice the same content of the same project and kind returns the first
record, so a re-run or a replayed commit adds nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from labstream.core.errors import InputError
from labstream.core.events import ObjectRef
from labstream.core.hashing import sha256_file
from labstream.governance.models import DataObject
from labstream.governance.objects import MEDIA, register_file
from labstream.governance.service import Governance
from labstream.objects.fsspec_store import DERIVED_PREFIX


@dataclass(frozen=True)
class Registered:
    """The served objects of one sample: ids clients use (DRS object ids; htsget /reads/ID, /variants/ID)."""

    bam: DataObject | None = None
    vcf: DataObject | None = None
    report: DataObject | None = None
    cram: DataObject | None = None

    def ids(self) -> dict[str, str]:
        pairs = (("bam", self.bam), ("vcf", self.vcf), ("report", self.report), ("cram", self.cram))
        return {k: o.id for k, o in pairs if o}


def _existing(gov: Governance, project: str, kind: str, sha256: str, name: str) -> DataObject | None:
    with gov.sessions() as s:
        q = select(DataObject).where(
            DataObject.project == project, DataObject.kind == kind, DataObject.sha256 == sha256,
            DataObject.name == name,
        )  # fmt: skip
        return s.scalars(q.limit(1)).first()


def register_once(
    gov: Governance, path: Path, *, project: str, kind: str, sample: str, run_id: str, index: Path | None
) -> DataObject:
    """register_file unless the same content is already registered under this name, kind and project."""
    found = _existing(gov, project, kind, sha256_file(path)[0], path.name)
    if found is not None:
        return found
    return register_file(
        gov, path, project=project, kind=kind, sample=sample, run_id=run_id, patient_linked=True,
        index_path=index if index is not None and index.is_file() else None,
    )  # fmt: skip


def register_results(
    gov: Governance,
    project: str,
    *,
    sample: str,
    run_id: str,
    bam: Path | None = None,
    vcf: Path | None = None,
    report: Path | None = None,
    cram: Path | None = None,
) -> Registered:
    """Register a sample's BAM (+.bai), VCF (+.tbi), report and CRAM (+.crai) as objects of `project`."""
    if gov.directory.project(project) is None:
        raise InputError(
            "project", f"no project {project!r} to register the results in",
            hint=f"create it with `labstream admin project add {project}`",
        )  # fmt: skip
    kw = {"project": project, "sample": sample, "run_id": run_id}
    return Registered(
        bam=register_once(gov, bam, kind="bam", index=Path(f"{bam}.bai"), **kw) if bam else None,
        vcf=register_once(gov, vcf, kind="vcf", index=Path(f"{vcf}.tbi"), **kw) if vcf else None,
        report=register_once(gov, report, kind="report", index=None, **kw) if report else None,
        cram=register_once(gov, cram, kind="cram", index=Path(f"{cram}.crai"), **kw) if cram else None,
    )


# -- governed runs: objects the stages stored in the project's store ----------------------------------

SERVED = (
    (".bam", "bam", ".bai"),
    (".cram", "cram", ".crai"),
    (".vcf.gz", "vcf", ".tbi"),
    (".report.html", "report", None),
)


def _plain_name(uri: str) -> str:
    return uri.removesuffix(".enc")


class ResultRegistrar:
    """The runtime's `on_outputs` hook of a governed run (governed.runner_options): each BAM, VCF and
    report a stage stored becomes a DRS object of the task's project in the same commit, pointing at the
    stored (encrypted) object and its index; nothing is copied. Idempotent per (project, URI)."""

    def __init__(self, gov: Governance) -> None:
        self.gov = gov

    def __call__(self, project: str, stage: str, lineage_id: str, objects: list[ObjectRef]) -> None:
        # named results only: content-addressed outputs are intermediates (a chunk's or batch's BAM, an
        # interim VCF), which would otherwise be served as a sample's results under a bogus sample name
        by_name = {_plain_name(o.uri): o for o in objects if f"/{DERIVED_PREFIX}/" in o.uri}
        for name, ref in by_name.items():
            for suffix, kind, idx in SERVED:
                if name.endswith(suffix):
                    index = by_name.get(name + idx) if idx else None
                    self.register(project, ref, kind, index)

    def register(self, project: str, ref: ObjectRef, kind: str, index: ObjectRef | None) -> DataObject:
        with self.gov.sessions() as s:
            q = select(DataObject).where(DataObject.project == project, DataObject.uri == ref.uri)
            found = s.scalars(q.limit(1)).first()
        if found is not None:
            return found
        data = self.gov.store(project).get_bytes(ref.uri, expect_sha256=ref.sha256)
        parts = _plain_name(ref.uri).split("/")
        obj = DataObject(
            id=secrets.token_hex(12), project=project, kind=kind, name=parts[-1], uri=ref.uri,
            index_uri=index.uri if index else None, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
            media_type=MEDIA[kind], encrypted=ref.uri.endswith(".enc"), patient_linked=True,
            sample=parts[-2] if len(parts) > 2 else "", run_id=parts[-3] if len(parts) > 3 else "",
        )  # fmt: skip
        with self.gov.sessions.begin() as s:
            s.add(obj)
        return obj


__all__ = ["SERVED", "Registered", "ResultRegistrar", "register_once", "register_results"]
