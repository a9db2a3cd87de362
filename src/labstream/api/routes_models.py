"""The model registry over REST: list versions; promote and roll back (right `promote`, role
steward), each through the same gate as the CLI (models/gate.py) and recorded twice: the decision
in the registry and a `models.<outcome>` record in the audit log (besides the request's own record).
Rescore (right `rescore`, role rescorer): every sample of the project whose lake rows name an older
version of the model is re-called with the given one and its signed reports are amended through
governance's sign-off path (models/rescore_affected.py); one `models.rescore` audit record per sample.

Models are not a project's data; a promotion is approved for a project (`?project=`), where the caller
must hold `promote`. The registry is `LABSTREAM_MODEL_REGISTRY` or `<home>/models/registry.db`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from labstream.api.deps import ERRORS, caller, ctx, note

router = APIRouter(prefix="/api/v1", responses={**ERRORS, 409: ERRORS[400]})


class Promotion(BaseModel):
    version: int = Field(..., ge=1, le=1_000_000)
    alias: str = Field("champion", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    reason: str = Field("", max_length=2000)


class Rollback(BaseModel):
    alias: str = Field("champion", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    reason: str = Field("", max_length=2000)


class Rescore(BaseModel):
    alias: str = Field("champion", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    version: int | None = Field(None, ge=1, le=1_000_000, description="a version instead of the alias")


class RescoreOut(BaseModel):
    model: str
    samples: list[dict[str, Any]]


class DecisionOut(BaseModel):
    model: str
    alias: str
    challenger: int
    champion: int | None
    outcome: str
    actor: str
    reason: str
    comparison: dict[str, Any]
    ts: float


def _registry(request: Request) -> Any:
    """The registry, or None when its SQLite file does not exist yet (a read never creates it)."""
    from labstream.models import open_registry
    from labstream.models.base import registry_url

    url = registry_url(ctx(request).gov.settings.home)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return open_registry(url)


def _check(request: Request, project: str, right: str = "promote") -> None:
    note(request, project=project)
    if not caller(request).can(right, project):
        note(request, outcome="denied")
        raise HTTPException(403, f"no {right} access to project {project!r}")


def _audit(request: Request, project: str):  # type: ignore[no-untyped-def]
    gov = ctx(request).gov

    def record(actor: str, action: str, detail: dict[str, Any]) -> None:
        gov.audit.record(
            actor,
            action,
            resource=f"model:{detail['model']}@{detail['alias']}",
            project=project,
            detail=detail,
        )

    return record


def _rescore_audit(request: Request):  # type: ignore[no-untyped-def]
    gov, actor = ctx(request).gov, caller(request).name

    def record(project: str, detail: dict[str, Any]) -> None:
        resource = f"sample:{project}/{detail['sample']}"
        gov.audit.record(actor, "models.rescore", resource=resource, project=project, detail=detail)

    return record


def _decide(request: Request, fn: Any, name: str, **kw: Any) -> DecisionOut:
    from labstream.models import ModelNotFound, RegistryError

    note(request, resource=f"model/{name}")
    reg = _registry(request)
    if reg is None:
        raise HTTPException(404, f"no model {name!r}: the model registry is empty")
    try:
        d = fn(reg, name, actor=caller(request).name, **kw)
    except ModelNotFound as err:
        raise HTTPException(404, str(err)) from err
    except RegistryError as err:  # refused by the gate (recorded) or nothing to roll back
        raise HTTPException(409, str(err)) from err
    return DecisionOut(**d.__dict__)


@router.get("/models")
def list_models(request: Request) -> list[dict[str, Any]]:
    """Every version of every model: tag, digest, aliases, metrics per evaluation set."""
    reg = _registry(request)
    if reg is None:
        return []
    return [mv.to_dict() for name in reg.models() for mv in reg.versions(name)]


@router.post("/models/{name}/promote", response_model=DecisionOut)
def promote(
    request: Request, body: Promotion, name: str, project: str = Query(..., min_length=1, max_length=64)
) -> DecisionOut:
    """Move an alias to a version if it passes the gate; 409 with the numbers when refused."""
    from labstream.models.gate import promote as gate

    _check(request, project)
    return _decide(
        request, gate, name, version=body.version, alias=body.alias, reason=body.reason,
        audit=_audit(request, project),
    )  # fmt: skip


@router.post("/models/{name}/rollback", response_model=DecisionOut)
def rollback(
    request: Request, body: Rollback, name: str, project: str = Query(..., min_length=1, max_length=64)
) -> DecisionOut:
    """Move an alias back to the version it named before its last promotion."""
    from labstream.models.gate import rollback as gate

    _check(request, project)
    return _decide(request, gate, name, alias=body.alias, reason=body.reason, audit=_audit(request, project))


@router.post("/models/{name}/rescore", response_model=RescoreOut)
def rescore(
    request: Request, body: Rescore, name: str, project: str = Query(..., min_length=1, max_length=64)
) -> RescoreOut:
    """Re-call every sample of the project whose rows name an older version of the model; amend its
    signed reports (new draft versions, the signed ones kept). Runs to completion in the request."""
    from labstream.models import ModelNotFound, resolve
    from labstream.models.rescore_affected import rescore_affected

    _check(request, project, "rescore")
    note(request, resource=f"model/{name}")
    reg = _registry(request)
    if reg is None:
        raise HTTPException(404, f"no model {name!r}: the model registry is empty")
    try:
        mv = resolve(reg, f"{name}/{body.version}" if body.version else f"{name}@{body.alias}")
    except ModelNotFound as err:
        raise HTTPException(404, str(err)) from err
    settings = ctx(request).gov.settings
    outcomes = rescore_affected(
        reg, mv, lake_url=settings.lake_url, catalog_url=settings.catalog_url, project=project,
        gov=ctx(request).gov, who=caller(request), audit=_rescore_audit(request),
    )  # fmt: skip
    return RescoreOut(model=mv.tag, samples=[o.to_dict() for o in outcomes])
