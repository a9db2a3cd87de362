"""Sign-off of clinical reports: a reviewer signs, a signed report never changes, a correction is a new
version with its reason.

Why a version chain rather than an edit: what a geneticist signed must stay readable exactly as signed
(it may already be in a patient's record), and a reader of a corrected report must see what changed and
why. So every step makes a new registered object and keeps the old one:

    draft (pipeline) --sign--> signed v1 --amend(reason)--> draft v2 --sign--> signed v2 ...

Each step is audited (`report.sign`, `report.amend`, denied attempts too) and recorded in the lineage
(stage `report.sign` / `report.amend`, input the previous version's object, output the new one), so
`labstream lineage SHA256` walks from an amended report back through the signed one to the pipeline.
Signing needs the `sign` right on the report's project (role `reviewer`); no other role holds it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from labstream.core.errors import AccessDenied, InputError
from labstream.genomics.report import read_model, write_html
from labstream.governance.auth import Principal
from labstream.governance.models import DataObject, ReportVersion
from labstream.governance.objects import get_object, register_file
from labstream.governance.service import Governance


class SignoffConflict(InputError):
    """The report is in a state that does not allow the step (already signed, superseded, a draft)."""


@dataclass(frozen=True)
class VersionInfo:
    object_id: str
    report_id: str
    version: int
    state: str  # draft | signed
    parent_id: str
    reason: str
    signed_by: str
    signed_at: float | None
    superseded_by: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row(gov: Governance, obj: DataObject) -> ReportVersion:
    """The version row of a report object; a pipeline's report without one is draft v1 of itself."""
    with gov.sessions() as s:
        row = s.get(ReportVersion, obj.id)
    return row or ReportVersion(object_id=obj.id, report_id=obj.id, version=1, state="draft", parent_id="")


def _child(gov: Governance, object_id: str) -> ReportVersion | None:
    with gov.sessions() as s:
        return s.scalar(select(ReportVersion).where(ReportVersion.parent_id == object_id))


def _report(gov: Governance, who: Principal, object_id: str, action: str, right: str = "sign") -> DataObject:
    obj = get_object(gov, object_id)
    if obj is None or obj.kind != "report" or not who.can("read", obj.project):
        raise LookupError(object_id)  # no oracle for other projects' ids
    if not who.can(right, obj.project):
        gov.audit.record(who.name, action, resource=f"object/{obj.id}", project=obj.project, outcome="denied")
        raise AccessDenied(
            f"{who.name} may not {action.split('.')[1]} reports of project {obj.project!r}; "
            "ask an admin for the reviewer role on it"
        )
    return obj


def _store_version(
    gov: Governance, who: Principal, prev: DataObject, model: dict[str, Any], row: ReportVersion, action: str
) -> DataObject:
    """Render `model`, register it as a new report object of the project, record row, audit, lineage."""
    state = "signed" if row.state == "signed" else "draft"
    name = f"{model['sample']}.report.v{row.version}.{state}.html"
    with tempfile.TemporaryDirectory(prefix="labstream-report-") as tmp:
        path = write_html(Path(tmp) / name, model)
        new = register_file(
            gov, path, project=prev.project, kind="report", name=name, sample=prev.sample, run_id=prev.run_id,
            patient_linked=prev.patient_linked,
        )  # fmt: skip
    row.object_id = new.id
    try:
        with gov.sessions.begin() as s:
            s.add(row)
    except sa_exc.IntegrityError as err:  # a concurrent sign/amend of the same version won the race
        raise SignoffConflict(
            prev.id, "this version was signed or amended meanwhile", hint="list its versions"
        ) from err
    detail = {"from": prev.id, "to": new.id, "version": row.version, "sha256": new.sha256}
    if row.reason:
        detail["reason"] = row.reason
    gov.audit.record(who.name, action, resource=f"object/{prev.id}", project=prev.project, detail=detail)
    _lineage(gov, action, prev, new, {"by": who.name, "version": row.version, "reason": row.reason})
    return new


def _lineage(gov: Governance, stage: str, prev: DataObject, new: DataObject, params: dict[str, Any]) -> None:
    from labstream.catalog import open_catalog
    from labstream.catalog.records import IORef, LineageRecord

    cat = open_catalog(gov.settings.catalog_url)
    try:
        # by URI: a pipeline's (encrypted) report is in its task's outputs under the ciphertext's sha256
        parents = [r.id for r in cat.lineage_for_object(prev.uri, direction="out")][:1]
        now = time.time()
        cat.record_lineage(
            LineageRecord(
                stage=stage,
                stage_version="1",
                params=params,
                project=prev.project,
                parent_ids=parents,
                inputs=[IORef(prev.uri, prev.sha256)],
                outputs=[IORef(new.uri, new.sha256)],
                started_at=now,
                ended_at=now,
            )  # fmt: skip
        )
    finally:
        cat.close()


def sign(
    gov: Governance,
    who: Principal,
    object_id: str,
    *,
    cost: Callable[[DataObject], Mapping[str, Any] | None] | None = None,
) -> DataObject:
    """Sign a draft report: a new, signed object of the same content with the sign-off block. `cost`:
    called with the report once the signer is allowed, it gives the sample's itemised cost to show on
    the signed report (labstream.ops.report_cost.report_cost; this layer does not read the ledger)."""
    obj = _report(gov, who, object_id, "report.sign")
    row = _row(gov, obj)
    if row.state == "signed":
        raise SignoffConflict(
            object_id, "the report is signed and cannot change", hint="amend it with a reason"
        )
    later = _child(gov, obj.id)
    if later is not None:
        raise SignoffConflict(
            object_id, "this draft was already signed or replaced", hint=f"see version {later.object_id}"
        )
    model = read_model(gov.store(obj.project).get_bytes(obj.uri).decode())
    model["signoff"] = {
        "by": who.name,
        "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "content_sha256": obj.sha256,
    }
    model["version"] = row.version
    priced = cost(obj) if cost is not None else None
    if priced is not None:
        model["cost"] = dict(priced)
    signed = ReportVersion(
        report_id=row.report_id, version=row.version, state="signed", parent_id=obj.id,
        reason=row.reason, signed_by=who.name, signed_at=time.time(), project=obj.project,
    )  # fmt: skip
    return _store_version(gov, who, obj, model, signed, "report.sign")


def amend(
    gov: Governance,
    who: Principal,
    object_id: str,
    reason: str,
    summary: str = "",
    *,
    revise: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    right: str = "sign",
) -> DataObject:
    """Correct a signed report: a new draft version carrying the reason (and a corrected summary), linked
    to the signed one, which stays as it was; the new draft must be signed in its turn. `revise` makes
    the new content from the signed one (a rescore by a new model: models/rescore_affected.py, whose
    callers hold `right` = rescore instead of sign: the amended version is a draft a reviewer signs)."""
    reason = " ".join(str(reason).split())
    if len(reason) < 5 or len(reason) > 2000:
        raise InputError(
            "reason", "an amendment needs a reason of 5 to 2000 characters", hint="say what changed"
        )
    obj = _report(gov, who, object_id, "report.amend", right)
    row = _row(gov, obj)
    if row.state != "signed":
        raise SignoffConflict(
            object_id, "only a signed report is amended", hint="sign this draft, or re-run it"
        )
    later = _child(gov, obj.id)
    if later is not None:
        raise SignoffConflict(object_id, "this version was already amended", hint=f"amend {later.object_id}")
    model = read_model(gov.store(obj.project).get_bytes(obj.uri).decode())
    model.pop("cost", None)  # priced again when the new version is signed
    if revise is not None:
        model = revise(model)
    version = row.version + 1
    model.update(signoff=None, version=version)
    model["amendment"] = {"supersedes": obj.id, "reason": reason}
    if summary:
        model["summary"] = " ".join(summary.split())[:2000]
    draft = ReportVersion(
        report_id=row.report_id, version=version, state="draft", parent_id=obj.id, reason=reason,
        project=obj.project,
    )  # fmt: skip
    return _store_version(gov, who, obj, model, draft, "report.amend")


def versions(gov: Governance, who: Principal, object_id: str) -> list[VersionInfo]:
    """Every version of the report `object_id` belongs to, oldest first, with what superseded what."""
    obj = get_object(gov, object_id)
    if obj is None or obj.kind != "report" or not who.can("read", obj.project):
        raise LookupError(object_id)
    root = _row(gov, obj).report_id
    with gov.sessions() as s:
        rows = list(s.scalars(select(ReportVersion).where(ReportVersion.report_id == root)))
    by_parent = {r.parent_id: r.object_id for r in rows}
    first = ReportVersion(object_id=root, report_id=root, version=1, state="draft", parent_id="", reason="")
    chain = [first, *sorted(rows, key=lambda r: (r.version, r.state == "signed"))]
    return [
        VersionInfo(
            r.object_id,
            root,
            r.version,
            r.state,
            r.parent_id or "",
            r.reason or "",
            r.signed_by or "",
            r.signed_at,
            by_parent.get(r.object_id, ""),
        )  # fmt: skip
        for r in chain
    ]


__all__ = ["SignoffConflict", "VersionInfo", "amend", "sign", "versions"]
