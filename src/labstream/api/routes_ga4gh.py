"""GA4GH interfaces: service-info, DRS 1.x (objects + access URLs) and WES 1.x (runs)."""

from __future__ import annotations

import datetime as dt
import json
from os import PathLike
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from labstream.api.deps import ERRORS, caller, ctx, note, scope_projects, visible_run
from labstream.governance.models import DataObject
from labstream.governance.objects import get_object
from labstream.objects.base import ObjectStore

router = APIRouter(responses=ERRORS)


def IdP() -> Any:  # noqa: N802 - a fresh Path() per parameter
    return Path(..., min_length=1, max_length=64)


VERSION = "0.1.0"


def _service_info(artifact: str, version: str) -> dict[str, Any]:
    return {
        "id": f"org.labstream.{artifact}",
        "name": f"labstream {artifact}",
        "type": {"group": "org.ga4gh", "artifact": artifact, "version": version},
        "description": "labstream governed data service",
        "organization": {"name": "labstream", "url": "https://labstream.invalid"},
        "version": VERSION,
    }


class ServiceInfo(BaseModel):
    id: str
    name: str
    type: dict[str, str]
    description: str
    organization: dict[str, str]
    version: str


@router.get("/healthz", response_model=dict[str, str])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/service-info", response_model=ServiceInfo)
def service_info() -> dict[str, Any]:
    return _service_info("labstream", VERSION)


@router.get("/ga4gh/drs/v1/service-info", response_model=ServiceInfo)
def drs_service_info() -> dict[str, Any]:
    return _service_info("drs", "1.2.0")


# ---- DRS -------------------------------------------------------------------------------------------


class Checksum(BaseModel):
    checksum: str
    type: str


class AccessMethod(BaseModel):
    type: str
    access_id: str
    region: str | None = None


class DrsObject(BaseModel):
    id: str
    self_uri: str
    size: int
    created_time: str
    checksums: list[Checksum]
    access_methods: list[AccessMethod]
    name: str | None = None
    mime_type: str | None = None


class AccessURL(BaseModel):
    url: str
    headers: list[str] = []


def visible_object(request: Request, object_id: str, right: str = "read") -> DataObject:
    """The object if the caller may read it; 404 otherwise (no oracle for other projects' ids)."""
    obj = get_object(ctx(request).gov, object_id)
    note(request, resource=f"object/{object_id}")
    if obj is None or not caller(request).can(right, obj.project):
        if obj is not None:
            note(request, project=obj.project, outcome="denied")
        raise HTTPException(404, f"no object {object_id!r}")
    note(request, project=obj.project)
    return obj


@router.get("/ga4gh/drs/v1/objects/{object_id}", response_model=DrsObject)
def drs_object(request: Request, object_id: str = IdP()) -> DrsObject:
    obj = visible_object(request, object_id)
    project = ctx(request).gov.directory.project(obj.project)
    return DrsObject(
        id=obj.id,
        self_uri=f"drs://{request.url.netloc}/{obj.id}",
        size=obj.size,
        created_time=dt.datetime.fromtimestamp(obj.created_at, dt.UTC).isoformat().replace("+00:00", "Z"),
        checksums=[Checksum(checksum=obj.sha256, type="sha-256")],
        access_methods=[
            AccessMethod(type="https", access_id="https", region=project.region if project else None)
        ],
        name=obj.name,
        mime_type=obj.media_type,
    )


@router.get("/ga4gh/drs/v1/objects/{object_id}/access/{access_id}", response_model=AccessURL)
def drs_access(request: Request, object_id: str = IdP(), access_id: str = IdP()) -> AccessURL:
    obj = visible_object(request, object_id)
    if access_id != "https":
        raise HTTPException(404, f"no access method {access_id!r}")
    path = f"/data/{obj.id}"
    return AccessURL(
        url=str(request.base_url).rstrip("/") + ctx(request).signer.sign(path, {}, caller(request).name)
    )


@router.get(
    "/data/{object_id}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "a byte range"}},
)
def data(
    request: Request,
    object_id: str = IdP(),
    u: str = Query(..., max_length=128),
    exp: str = Query(..., max_length=20),
    sig: str = Query(..., max_length=64),
) -> FileResponse:
    """Signed data URL: the decrypted object, with HTTP Range support."""
    obj = get_object(ctx(request).gov, object_id)
    note(request, resource=f"object/{object_id}")
    if obj is None:
        raise HTTPException(404, f"no object {object_id!r}")
    note(request, project=obj.project)
    return plaintext_file_response(request, obj)


def save_plaintext(store: ObjectStore, uri: str, dest: str | PathLike[str]) -> None:
    """The object's plaintext into `dest`, streamed: a BAM of any size, never whole in memory."""
    import shutil

    with store.open(uri) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


def plaintext_file_response(request: Request, obj: DataObject) -> FileResponse:
    import shutil
    import tempfile

    c = ctx(request)
    tmp = tempfile.mkdtemp(prefix="dl-", dir=c.scratch)
    path = f"{tmp}/{obj.id}"
    save_plaintext(c.gov.store(obj.project), obj.uri, path)
    return FileResponse(
        path,
        media_type=obj.media_type,
        filename=obj.name,
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )


# ---- WES -------------------------------------------------------------------------------------------


class RunId(BaseModel):
    run_id: str


class RunStatus(BaseModel):
    run_id: str
    state: str


class RunListResponse(BaseModel):
    runs: list[RunStatus]
    next_page_token: str


class RunLog(BaseModel):
    run_id: str
    request: dict[str, Any]
    state: str
    run_log: dict[str, Any]
    task_logs: list[dict[str, Any]]
    outputs: dict[str, Any]


@router.get("/ga4gh/wes/v1/service-info", response_model=dict[str, Any])
def wes_service_info() -> dict[str, Any]:
    info = _service_info("wes", "1.1.0")
    info.update(
        workflow_type_versions={"labstream": {"workflow_type_version": ["1"]}},
        supported_wes_versions=["1.0.0", "1.1.0"],
        supported_filesystem_protocols=["file", "s3"],
        workflow_engine_versions={"labstream": VERSION},
        default_workflow_engine_parameters=[],
        system_state_counts={},
        auth_instructions_url="https://labstream.invalid/auth",
        tags={},
    )
    return info


def _json_field(name: str, raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise HTTPException(400, f"{name} is not valid JSON") from err
    if not isinstance(value, dict):
        raise HTTPException(400, f"{name} must be a JSON object")
    return value


@router.post("/ga4gh/wes/v1/runs", response_model=RunId)
def wes_submit(
    request: Request,
    workflow_url: str = Form(..., min_length=1, max_length=128),
    workflow_type: str = Form("labstream", max_length=64),
    workflow_type_version: str = Form("1", max_length=16),
    workflow_params: str | None = Form(None, max_length=100_000),
    tags: str | None = Form(None, max_length=10_000),
    workflow_engine_parameters: str | None = Form(None, max_length=10_000),
) -> RunId:
    """Submit a run: `workflow_url` names the pipeline, tags.project (or workflow_params.project)
    the project."""
    params = _json_field("workflow_params", workflow_params)
    tag = _json_field("tags", tags)
    if workflow_type != "labstream":
        raise HTTPException(400, f"unsupported workflow_type {workflow_type!r}; use 'labstream'")
    project = str(tag.get("project") or params.get("project") or "")
    if not project:
        raise HTTPException(400, "name the project in tags.project (or workflow_params.project)")
    scope_projects(request, "submit", project)
    row = ctx(request).runs.submit(caller(request), project, workflow_url, params, tags=tag)
    note(request, resource=f"run/{row.id}")
    return RunId(run_id=row.id)


@router.get("/ga4gh/wes/v1/runs", response_model=RunListResponse)
def wes_list(
    request: Request,
    page_size: int = Query(100, ge=1, le=1000),
    page_token: str = Query("", max_length=9, pattern=r"^[0-9]{0,9}$"),
) -> RunListResponse:
    scope = scope_projects(request, "read", None)
    offset = int(page_token or 0)
    rows = ctx(request).runs.list(scope, offset=offset, limit=page_size + 1)
    nxt = str(offset + page_size) if len(rows) > page_size else ""
    return RunListResponse(
        runs=[RunStatus(run_id=r.id, state=r.state) for r in rows[:page_size]], next_page_token=nxt
    )


@router.get("/ga4gh/wes/v1/runs/{run_id}", response_model=RunLog)
def wes_get(request: Request, run_id: str = IdP()) -> RunLog:
    r = visible_run(request, run_id)
    outputs = dict(r.outputs or {})
    stages = outputs.pop("stages", {}) or {}
    return RunLog(
        run_id=r.id,
        state=r.state,
        task_logs=[
            {"name": name, **{k: v for k, v in st.items() if isinstance(v, (int, float, str))}}
            for name, st in stages.items()
        ],
        outputs=outputs,
        request={
            "workflow_url": r.pipeline,
            "workflow_type": "labstream",
            "workflow_type_version": "1",
            "workflow_params": r.params,
            "tags": r.tags,
        },
        run_log={
            "name": r.pipeline,
            "start_time": _iso(r.started_at or r.created_at),
            "end_time": _iso(r.ended_at) if r.ended_at else None,
            # WES: stdout/stderr are URLs of logs (clients such as wes-client fetch them); the run's
            # stderr is its executor error, served as text; there is no stdout to point at
            "stderr": str(request.base_url).rstrip("/") + f"/ga4gh/wes/v1/runs/{r.id}/stderr",
            "system_logs": [r.error] if r.error else [],
            "exit_code": None
            if r.state not in ("COMPLETE", "EXECUTOR_ERROR")
            else int(r.state != "COMPLETE"),
        },
    )


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


@router.get(
    "/ga4gh/wes/v1/runs/{run_id}/stderr",
    response_class=PlainTextResponse,
    # errors stay JSON (the router's Error model); only the log itself is text
    responses={
        200: {"content": {"text/plain": {}}},
        **{c: {**v, "content": {"application/json": {}}} for c, v in ERRORS.items()},
    },
)
def wes_stderr(request: Request, run_id: str = IdP()) -> PlainTextResponse:
    """The run's stderr as WES clients fetch it from run_log.stderr: the executor's error, if any."""
    r = visible_run(request, run_id)
    return PlainTextResponse(r.error or "")


@router.get("/ga4gh/wes/v1/runs/{run_id}/status", response_model=RunStatus)
def wes_status(request: Request, run_id: str = IdP()) -> RunStatus:
    r = visible_run(request, run_id)
    return RunStatus(run_id=r.id, state=r.state)


@router.post("/ga4gh/wes/v1/runs/{run_id}/cancel", response_model=RunId)
def wes_cancel(request: Request, run_id: str = IdP()) -> RunId:
    visible_run(request, run_id)
    r = ctx(request).runs.cancel(caller(request), run_id)
    return RunId(run_id=r.id)
