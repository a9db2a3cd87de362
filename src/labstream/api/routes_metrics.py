"""`GET /metrics`: the platform's Prometheus metrics (labstream.ops.metrics), scoped to the caller.

Guarded like every data route: a bearer token with the `read` right, and only that caller's projects
appear in per-project series (a Prometheus server scrapes with a service account's token,
`authorization: {credentials_file: ...}` in its scrape config). Scrapes are not audited one by one:
they carry aggregates, never rows, and come every few seconds.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from labstream.api.deps import ERRORS, ctx, scope_projects

router = APIRouter(responses=ERRORS)


@router.get(
    "/metrics", response_class=Response, summary="Prometheus metrics (throughput, lag, cost, SLO burn)"
)
async def metrics(request: Request) -> Response:
    from labstream.ops.metrics import render_metrics

    projects = scope_projects(request, "read", None)
    body = await to_thread.run_sync(lambda: render_metrics(ctx(request).gov.settings, projects=projects))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
