"""Request-scoped helpers shared by the routers: the app context, the caller, paging, errors."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Query, Request
from pydantic import BaseModel

from labstream.api.signing import Signer
from labstream.catalog.base import CatalogStore
from labstream.governance.auth import Principal
from labstream.governance.runs import Runs
from labstream.governance.scoped_sql import TableSource
from labstream.governance.service import Governance


@dataclass
class ApiContext:
    gov: Governance
    lake: TableSource | None
    runs: Runs
    signer: Signer
    scratch: Path
    known_projects: list[str] = field(default_factory=list)
    _catalog: CatalogStore | None = None

    def catalog(self) -> CatalogStore:
        """The platform catalog (lineage), opened once on first use."""
        if self._catalog is None:
            from labstream.catalog import open_catalog

            self._catalog = open_catalog(self.gov.settings.catalog_url)
        return self._catalog

    def project_names(self) -> list[str]:
        return [p.name for p in self.gov.directory.projects()]


class Error(BaseModel):
    """Every error body: `detail` (FastAPI style) plus `msg` and `status_code` (GA4GH DRS/WES style)."""

    detail: str
    msg: str = ""
    status_code: int = 0


ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": Error} for c in (400, 401, 403, 404)}


class Page(BaseModel):
    items: list[dict[str, Any]]
    offset: int
    limit: int
    next_offset: int | None = None


def ctx(request: Request) -> ApiContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def caller(request: Request) -> Principal:
    who = getattr(request.state, "principal", None)
    if who is None:  # pragma: no cover - enforce() always sets it on token routes
        raise HTTPException(401, "authentication required")
    return who  # type: ignore[no-any-return]


def note(
    request: Request, *, project: str = "", resource: str = "", outcome: str = "", **detail: Any
) -> None:
    """What the audit record of this request should say (the middleware writes it once, at the end)."""
    if project:
        request.state.audit_project = project
    if resource:
        request.state.audit_resource = resource
    if outcome:
        request.state.audit_outcome = outcome
    if detail:
        request.state.audit_detail = {**getattr(request.state, "audit_detail", {}), **detail}


def scope_projects(request: Request, right: str, project: str | None) -> list[str]:
    """The projects this request may touch: the caller's, narrowed to `project` when given."""
    who = caller(request)
    mine = who.projects(right, ctx(request).project_names())
    if project is None or project == "":
        note(request, project=",".join(mine))
        return mine
    if project not in mine:
        note(request, project=project, outcome="denied")
        raise HTTPException(403, f"no {right} access to project {project!r}")
    note(request, project=project)
    return [project]


def OffsetQ() -> Any:  # noqa: N802 - parameter factories: FastAPI needs a fresh object per parameter
    return Query(0, ge=0, le=1_000_000_000)


def LimitQ() -> Any:  # noqa: N802
    return Query(100, ge=1, le=1000)


def ProjectQ() -> Any:  # noqa: N802
    return Query(None, max_length=128)


def jsonable(v: Any) -> Any:
    """Lake values as JSON: timestamps ISO, decimals float, bytes base64, NaN as null."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def visible_run(request: Request, run_id: str) -> Any:
    """The run if the caller may read its project; 404 otherwise (a denied look is audited, and the
    answer does not tell whether the run exists)."""
    row = ctx(request).runs.get(run_id)
    note(request, resource=f"run/{run_id}")
    if row is None or not caller(request).can("read", row.project):
        if row is not None:
            note(request, project=row.project, outcome="denied")
        raise HTTPException(404, f"no run {run_id!r}")
    note(request, project=row.project)
    return row
