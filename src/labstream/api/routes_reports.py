"""Sign-off of clinical reports over REST: sign, amend with a reason, list the versions.

The rules (who may sign, immutability, versions and their lineage) live in governance/signoff.py; these
routes only resolve the caller and shape the answers, so the CLI and the API cannot disagree.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from labstream.api.deps import ERRORS, caller, ctx, note
from labstream.governance import signoff
from labstream.governance.models import DataObject
from labstream.governance.objects import get_object

router = APIRouter(prefix="/api/v1", responses={**ERRORS, 409: ERRORS[400]})


def IdP() -> Any:  # noqa: N802 - a fresh Path() per parameter
    return Path(..., min_length=1, max_length=64)


class Amendment(BaseModel):
    reason: str = Field(..., min_length=5, max_length=2000)
    summary: str = Field("", max_length=2000)


class ReportVersionOut(BaseModel):
    object_id: str
    report_id: str
    version: int
    state: str
    parent_id: str
    reason: str
    signed_by: str
    signed_at: float | None
    superseded_by: str
    sha256: str = ""


def _note(request: Request, object_id: str) -> None:
    obj = get_object(ctx(request).gov, object_id)
    note(request, resource=f"report/{object_id}", **({"project": obj.project} if obj else {}))


def _out(request: Request, new: DataObject) -> ReportVersionOut:
    info = next(
        v for v in signoff.versions(ctx(request).gov, caller(request), new.id) if v.object_id == new.id
    )
    return ReportVersionOut(**info.to_dict(), sha256=new.sha256)


@router.post("/reports/{object_id}/sign", response_model=ReportVersionOut)
def sign(request: Request, object_id: str = IdP()) -> ReportVersionOut:
    """Sign a draft report (role reviewer); answers the new signed version."""
    _note(request, object_id)
    from labstream.ops.report_cost import report_cost

    gov = ctx(request).gov  # the signed report shows the sample's cost (labstream.ops.report_cost)
    return _out(request, signoff.sign(gov, caller(request), object_id, cost=report_cost(gov.settings)))


@router.post("/reports/{object_id}/amend", response_model=ReportVersionOut)
def amend(request: Request, body: Amendment, object_id: str = IdP()) -> ReportVersionOut:
    """Correct a signed report: a new draft version with the reason, to be signed in its turn."""
    _note(request, object_id)
    new = signoff.amend(ctx(request).gov, caller(request), object_id, body.reason, body.summary)
    return _out(request, new)


@router.get("/reports/{object_id}/versions", response_model=list[ReportVersionOut])
def versions(request: Request, object_id: str = IdP()) -> list[ReportVersionOut]:
    _note(request, object_id)
    return [
        ReportVersionOut(**v.to_dict())
        for v in signoff.versions(ctx(request).gov, caller(request), object_id)
    ]
