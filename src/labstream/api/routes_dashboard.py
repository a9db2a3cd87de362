"""The read-only dashboard: a static page at /dashboard and the JSON routes it polls.

The page carries no data and no token: it is public. The reader pastes a token (or opens
`/dashboard#token=...`: a URL fragment never reaches the server, so tokens stay out of access logs);
the page keeps it in sessionStorage and sends it as a bearer header to the JSON routes below, which are
guarded like the rest of the API and scoped to the caller's projects with the `read` right.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from labstream.api.dashboard import science, status
from labstream.api.deps import ERRORS, ProjectQ, ctx, note, scope_projects

STATIC = FsPath(__file__).parent / "dashboard" / "static"
# The page runs only its own script and talks only to this origin.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

page_router = APIRouter(include_in_schema=True)
router = APIRouter(prefix="/api/v1/dashboard", responses=ERRORS)


@lru_cache(maxsize=8)
def _asset(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _static(name: str, media_type: str) -> Response:
    return Response(_asset(name), media_type=media_type, headers=HEADERS)


@page_router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page() -> Response:
    return _static("index.html", "text/html; charset=utf-8")


@page_router.get(
    "/dashboard/app.js", response_class=Response, responses={200: {"content": {"text/javascript": {}}}}
)
def dashboard_js() -> Response:
    return _static("app.js", "text/javascript; charset=utf-8")


@page_router.get(
    "/dashboard/app.css", response_class=Response, responses={200: {"content": {"text/css": {}}}}
)
def dashboard_css() -> Response:
    return _static("app.css", "text/css; charset=utf-8")


@router.get("/status", response_model=dict[str, Any])
async def dashboard_status(request: Request, project: str | None = ProjectQ()) -> dict[str, Any]:
    """Live pipeline status from persisted state (see dashboard/status.py for what is scoped)."""
    scope = scope_projects(request, "read", project)
    c = ctx(request)
    note(request, resource="dashboard/status")

    def gather() -> dict[str, Any]:
        return {
            "projects": scope,
            "stages": status.as_dicts(status.stage_status(c.gov, c.gov.settings.stream_url, scope)),
            "tables": status.as_dicts(status.table_status(c.lake, scope)),
            "catalog": status.catalog_counts(c.gov, scope),
            "runs": status.recent_runs(c.gov, scope),
            "panels": status.declared_panels(),
            "dead_letters": status.dead_letters(c.gov.settings.stream_url, scope),
        }

    return await to_thread.run_sync(gather)


def _lake_rows_route(name: str, rows: Callable[..., list[dict[str, Any]]]) -> None:
    """GET /{name}: `rows(lake, projects)` for the caller's readable projects (or `project` of them)."""

    async def route(request: Request, project: str | None = ProjectQ()) -> list[dict[str, Any]]:
        scope = scope_projects(request, "read", project)
        note(request, resource=f"dashboard/{name}")
        return await to_thread.run_sync(rows, ctx(request).lake, scope)

    router.add_api_route(
        f"/{name}", route, methods=["GET"], response_model=list[dict[str, Any]], name=f"dashboard_{name}"
    )


for _name, _rows in (
    ("plates", science.list_plates),
    ("hits", science.latest_hits),
    ("samples", science.sample_summary),
):
    _lake_rows_route(_name, _rows)


@router.get("/plates/{plate}/qc", response_model=dict[str, Any])
async def dashboard_plate_qc(
    request: Request,
    plate: str = Path(..., min_length=1, max_length=128),
    metric: str = Query("focus_score", max_length=64),
    project: str | None = ProjectQ(),
) -> dict[str, Any]:
    """One QC metric per well of one of the caller's plates. A plate they have not (or that does not
    exist) gives an empty grid with found=false: the answer is the same either way."""
    scope = scope_projects(request, "read", project)
    note(request, resource=f"dashboard/plate/{plate}")
    grid = await to_thread.run_sync(science.plate_grid, ctx(request).lake, scope, plate, metric, project)
    if grid.project:
        note(request, project=grid.project)
    return {**status.as_dicts([grid])[0], "found": bool(grid.wells), "metrics": list(science.METRICS)}


@router.get("/ops", response_model=dict[str, Any])
async def dashboard_ops(request: Request, project: str | None = ProjectQ()) -> dict[str, Any]:
    """Cost, CPU/GPU hours, turnaround against SLOs and alerts firing, for the caller's projects."""
    from labstream.ops.summary import ops_summary

    scope = scope_projects(request, "read", project)
    note(request, resource="dashboard/ops")
    return await to_thread.run_sync(ops_summary, ctx(request).gov.settings, scope)


__all__ = ["page_router", "router"]
