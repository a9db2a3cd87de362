"""REST routes over the platform's data: runs, samples, plates, tables, SQL, lineage, reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from labstream.api.deps import (
    ERRORS,
    LimitQ,
    OffsetQ,
    Page,
    ProjectQ,
    caller,
    ctx,
    jsonable,
    note,
    scope_projects,
    visible_run,
)
from labstream.governance.models import RunRow
from labstream.governance.objects import get_object, list_objects
from labstream.governance.scoped_sql import run_scoped_sql, scoped_table

router = APIRouter(prefix="/api/v1", responses=ERRORS)


def NameP() -> Any:  # noqa: N802 - a fresh Path() per parameter
    return Path(..., min_length=1, max_length=64)


class Me(BaseModel):
    name: str
    projects: dict[str, list[str]]
    superuser: bool


class ProjectOut(BaseModel):
    name: str
    region: str
    allowed_regions: list[str]


class RunIn(BaseModel):
    project: str = Field(..., min_length=1, max_length=128)
    pipeline: str = Field(..., min_length=1, max_length=128)
    params: dict[str, Any] = Field(default_factory=dict)


class RunOut(BaseModel):
    id: str
    project: str
    user: str
    pipeline: str
    params: dict[str, Any]
    state: str
    created_at: float
    updated_at: float
    started_at: float | None = None
    ended_at: float | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None


class SqlIn(BaseModel):
    sql: str = Field(..., min_length=1, max_length=20_000)
    project: str | None = Field(None, max_length=128)
    max_rows: int = Field(1000, ge=1, le=10_000)


class SqlOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


class ObjectOut(BaseModel):
    id: str
    project: str
    kind: str
    name: str
    size: int
    sha256: str
    media_type: str
    sample: str
    run_id: str


def _run_out(r: RunRow) -> RunOut:
    return RunOut(
        id=r.id,
        project=r.project,
        user=r.user,
        pipeline=r.pipeline,
        params=r.params,
        state=r.state,
        created_at=r.created_at,
        updated_at=r.updated_at,
        started_at=r.started_at,
        ended_at=r.ended_at,
        outputs=r.outputs,
        error=r.error,
    )


@router.get("/me", response_model=Me)
def me(request: Request) -> Me:
    who = caller(request)
    return Me(name=who.name, projects={p: sorted(r) for p, r in who.roles.items()}, superuser=who.superuser)


@router.get("/projects", response_model=list[ProjectOut])
def projects(request: Request) -> list[ProjectOut]:
    mine = set(scope_projects(request, "read", None))
    return [
        ProjectOut(name=p.name, region=p.region, allowed_regions=list(p.allowed_regions))
        for p in ctx(request).gov.directory.projects()
        if p.name in mine
    ]


@router.get("/runs", response_model=list[RunOut])
def list_runs(
    request: Request, project: str | None = ProjectQ(), offset: int = OffsetQ(), limit: int = LimitQ()
) -> list[RunOut]:
    scope = scope_projects(request, "read", project)
    return [_run_out(r) for r in ctx(request).runs.list(scope, offset=offset, limit=limit)]


@router.post("/runs", response_model=RunOut, status_code=201)
def submit_run(request: Request, body: RunIn) -> RunOut:
    scope_projects(request, "submit", body.project)
    row = ctx(request).runs.submit(caller(request), body.project, body.pipeline, body.params)
    note(request, resource=f"run/{row.id}")
    return _run_out(row)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(request: Request, run_id: str = NameP()) -> RunOut:
    return _run_out(visible_run(request, run_id))


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
def cancel_run(request: Request, run_id: str = NameP()) -> RunOut:
    visible_run(request, run_id)
    return _run_out(ctx(request).runs.cancel(caller(request), run_id))


def _page(request: Request, table: str, project: str | None, offset: int, limit: int) -> Page:
    scope = scope_projects(request, "read", project)
    lake = ctx(request).lake
    note(request, resource=f"table/{table}")
    if lake is None or table not in lake.tables():
        return Page(items=[], offset=offset, limit=limit)
    data = scoped_table(lake, table, scope)
    if data is None:
        raise HTTPException(404, f"table {table!r} has no project column and is not served")
    rows = data.slice(offset, limit + 1).to_pylist()
    more = len(rows) > limit
    return Page(
        items=[jsonable(r) for r in rows[:limit]],
        offset=offset,
        limit=limit,
        next_offset=offset + limit if more else None,
    )


@router.get("/samples", response_model=Page)
def samples(
    request: Request, project: str | None = ProjectQ(), offset: int = OffsetQ(), limit: int = LimitQ()
) -> Page:
    return _page(request, "samples", project, offset, limit)


@router.get("/plates", response_model=Page)
def plates(
    request: Request, project: str | None = ProjectQ(), offset: int = OffsetQ(), limit: int = LimitQ()
) -> Page:
    return _page(request, "plates", project, offset, limit)


@router.get("/tables", response_model=list[str])
def tables(request: Request) -> list[str]:
    scope_projects(request, "read", None)
    lake = ctx(request).lake
    return [t for t in (lake.tables() if lake else []) if "project" in lake.schema(t).names]  # type: ignore[union-attr]


@router.get("/tables/{table}", response_model=Page)
def table_rows(
    request: Request,
    table: str = Path(..., pattern=r"^[a-z][a-z0-9_]{0,62}$"),
    project: str | None = ProjectQ(),
    offset: int = OffsetQ(),
    limit: int = LimitQ(),
) -> Page:
    lake = ctx(request).lake
    if lake is None or table not in lake.tables():
        scope_projects(request, "read", project)
        raise HTTPException(404, f"no table {table!r}")
    return _page(request, table, project, offset, limit)


@router.post("/sql", response_model=SqlOut)
def sql(request: Request, body: SqlIn) -> SqlOut:
    scope = scope_projects(request, "query", body.project)
    lake = ctx(request).lake
    if lake is None:
        raise HTTPException(404, "no lake configured")
    note(request, resource="sql", sql=body.sql[:500])
    res = run_scoped_sql(lake, body.sql, scope, max_rows=body.max_rows)
    return SqlOut(columns=res.columns, rows=jsonable(res.rows), truncated=res.truncated)


class LineageOut(BaseModel):
    lineage_id: str
    project: str
    records: list[dict[str, Any]]  # the task first, then its ancestors, ending at the instrument file
    hidden: int = 0  # ancestors in projects the caller may not read (left out, not revealed)


@router.get("/lineage/{lineage_id}", response_model=LineageOut)
def lineage(request: Request, lineage_id: str = NameP()) -> LineageOut:
    """The walk from a task (e.g. a lake row's lineage_id) back to the instrument file it came from."""
    from dataclasses import asdict

    from labstream.core.errors import InputError
    from labstream.runtime.lineage import walk

    note(request, resource=f"lineage/{lineage_id}")
    who = caller(request)
    try:
        records = walk(ctx(request).catalog(), lineage_id)
    except InputError as err:
        raise HTTPException(404, f"no lineage record {lineage_id!r}") from err
    first = records[0]
    if not who.can("read", first.project):
        note(request, project=first.project, outcome="denied")
        raise HTTPException(404, f"no lineage record {lineage_id!r}")
    note(request, project=first.project)
    visible = [r for r in records if who.can("read", r.project)]
    return LineageOut(
        lineage_id=first.id,
        project=first.project,
        records=[jsonable(asdict(r)) for r in visible],
        hidden=len(records) - len(visible),
    )


@router.get("/reports", response_model=list[ObjectOut])
def reports(
    request: Request, project: str | None = ProjectQ(), offset: int = OffsetQ(), limit: int = LimitQ()
) -> list[ObjectOut]:
    scope = scope_projects(request, "read", project)
    return [
        ObjectOut(
            id=o.id,
            project=o.project,
            kind=o.kind,
            name=o.name,
            size=o.size,
            sha256=o.sha256,
            media_type=o.media_type,
            sample=o.sample,
            run_id=o.run_id,
        )
        for o in list_objects(ctx(request).gov, scope, kind="report", offset=offset, limit=limit)
    ]


@router.get(
    "/reports/{object_id}",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "application/octet-stream": {}}}},
)
def report(request: Request, object_id: str = NameP()) -> Response:
    obj = get_object(ctx(request).gov, object_id)
    note(request, resource=f"report/{object_id}")
    if obj is None or obj.kind != "report" or not caller(request).can("read", obj.project):
        if obj is not None:
            note(request, project=obj.project, outcome="denied")
        raise HTTPException(404, f"no report {object_id!r}")
    note(request, project=obj.project)
    data = ctx(request).gov.store(obj.project).get_bytes(obj.uri)
    return Response(data, media_type=obj.media_type)


class Identity(BaseModel):
    pseudonym: str
    value: str


@router.get("/pseudonyms/{pseudonym}", response_model=Identity)
def reidentify(request: Request, pseudonym: str = Path(..., min_length=1, max_length=64)) -> Identity:
    who = caller(request)
    note(
        request, resource=f"pseudonym/{pseudonym}", project=ctx(request).gov.pseudonyms.project_of(pseudonym)
    )
    value = ctx(request).gov.pseudonyms.reidentify(
        pseudonym,
        who,
        source=request.client.host if request.client else "",
        reason=who.break_glass,
        audit=False,
    )
    return Identity(pseudonym=pseudonym, value=value)
