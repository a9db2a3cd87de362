"""The governed HTTP service: `create_app(settings)` builds it, `labstream serve` runs it.

Every route is guarded by one app-wide dependency that looks the route up in the policy table
(api/policy.py), authenticates the caller and checks the right; every guarded request then writes
exactly one audit record (who, what, project, outcome, from where, break-glass reason) when it ends.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from labstream.api.deps import ApiContext
from labstream.api.limits import RequestLimits
from labstream.api.policy import POLICY, Policy
from labstream.api.signing import Signer
from labstream.core.errors import AccessDenied, ConfigError, InputError, IntegrityError
from labstream.core.settings import Settings
from labstream.governance.run_params import ParamNotAllowed, ParamsTooLarge
from labstream.governance.runs import Runs, stream_announcer
from labstream.governance.scoped_sql import TableSource
from labstream.governance.service import Governance

log = logging.getLogger("labstream.api")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message, "msg": message, "status_code": status}, status_code=status)


def _status_handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return _error(status, str(exc))

    return handle


def enforce(request: Request) -> None:
    """App-wide guard: find the route's policy, authenticate, check the right in some project."""
    route = request.scope.get("route")
    policy = POLICY.get((request.method, getattr(route, "path_format", "")))
    if policy is None:  # create_app refuses such apps; defence in depth
        raise HTTPException(403, "route has no declared policy")
    request.state.policy = policy
    context: ApiContext = request.app.state.ctx
    if policy.auth == "public":
        return
    if policy.auth == "signed":
        params = dict(request.query_params)
        try:
            request.state.actor = context.signer.verify(request.url.path, params)
        except AccessDenied as err:
            raise HTTPException(403, str(err)) from err
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        who = context.gov.directory.authenticate(
            token.strip(), break_glass=request.headers.get("x-break-glass", "")
        )
    except AccessDenied as err:
        raise HTTPException(401, str(err), headers={"WWW-Authenticate": "Bearer"}) from err
    request.state.principal = who
    request.state.actor = who.name
    if policy.right and not who.projects(policy.right, context.project_names()):
        raise HTTPException(403, f"{who.name} holds the {policy.right!r} right in no project")


def _audit(request: Request, status: int, size: str | None = None) -> None:
    policy: Policy | None = getattr(request.state, "policy", None)
    if policy is None or not policy.action:
        return
    st = request.state
    outcome = getattr(st, "audit_outcome", "")
    if not outcome:
        outcome = (
            "allowed"
            if status < 400
            else "denied"
            if status in (401, 403)
            else "not_found"
            if status == 404
            else "error"
        )
    who = getattr(st, "principal", None)
    detail: dict[str, Any] = {"status": status, "method": request.method, **getattr(st, "audit_detail", {})}
    if policy.patient_linked:
        detail["patient_linked"] = True
    if size and size.isdigit() and status < 400:  # bytes served: egress cost (labstream.ops.egress)
        detail["bytes"] = int(size)
    request.app.state.ctx.gov.audit.record(
        getattr(st, "actor", "") or "anonymous",
        policy.action,
        resource=getattr(st, "audit_resource", "") or request.url.path,
        project=getattr(st, "audit_project", ""),
        outcome=outcome,
        source=request.client.host if request.client else "",
        reason=who.break_glass if who is not None else "",
        detail=detail,
    )


def declared_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path template) of every operation the app serves, read from its OpenAPI document
    (the public view of the routing table, whatever FastAPI's internal router nesting)."""
    paths = app.openapi()["paths"]
    return {(m.upper(), p) for p, ops in paths.items() for m in ops if m.upper() in _METHODS}


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def create_app(
    settings: Settings | None = None,
    *,
    gov: Governance | None = None,
    lake: TableSource | None = None,
    announce: Any = "stream",
) -> FastAPI:
    """Build the service. `lake` defaults to the Delta lake at settings.lake_url; `announce` is how
    submissions reach the runtime ("stream" = the platform stream, None = record only)."""
    settings = settings or (gov.settings if gov else Settings())
    gov = gov or Governance.open(settings)
    if lake is None:
        from labstream.lake import open_lake

        lake = open_lake(settings.lake_url)
    scratch = settings.home / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    if announce == "stream":
        announce = stream_announcer(settings.stream_url)
    context = ApiContext(
        gov=gov,
        lake=lake,
        runs=Runs(gov, announce),
        scratch=Path(scratch),
        signer=Signer(gov.provider.derive("url-sign")),
    )

    app = FastAPI(
        title="labstream",
        version="0.1.0",
        dependencies=[Depends(enforce)],
        description="Governed access to labstream data: REST, GA4GH DRS, htsget and WES.",
    )
    app.state.ctx = context

    from labstream.api import routes_data, routes_failures, routes_ga4gh, routes_htsget, routes_reports

    app.include_router(routes_data.router)
    app.include_router(routes_failures.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_ga4gh.router)
    app.include_router(routes_htsget.router)
    from labstream.api import routes_dashboard

    app.include_router(routes_dashboard.page_router)
    app.include_router(routes_dashboard.router)
    from labstream.api import routes_metrics

    app.include_router(routes_metrics.router)
    from labstream.api import routes_models

    app.include_router(routes_models.router)
    from labstream.api import routes_cohort

    app.include_router(routes_cohort.router)
    app.include_router(routes_cohort.beacon)

    missing = [key for key in declared_routes(app) if key not in POLICY]
    if missing:
        raise ConfigError(f"routes without a declared policy: {missing}; add them to api/policy.py")

    @app.middleware("http")
    async def audit_every_request(request: Request, call_next):  # type: ignore[no-untyped-def]
        try:
            response = await call_next(request)
        except Exception:
            await to_thread.run_sync(_audit, request, 500)
            raise
        await to_thread.run_sync(
            _audit, request, response.status_code, response.headers.get("content-length")
        )
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = _error(exc.status_code, str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    # errors whose message is the answer: the most specific class wins (Starlette walks the MRO)
    from labstream.governance.signoff import SignoffConflict

    for cls, status in (
        (SignoffConflict, 409),
        (AccessDenied, 403),
        (InputError, 400),
        (ParamsTooLarge, 413),
        (ParamNotAllowed, 422),
    ):
        app.add_exception_handler(cls, _status_handler(status))

    app.add_middleware(RequestLimits)  # outermost: sizes are checked before anything reads the body

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """htsget routes answer InvalidInput in the htsget shape; the rest keep FastAPI's 422."""
        from labstream.api.routes_htsget import is_htsget_path, validation_error

        if is_htsget_path(request.url.path):
            where = "; ".join(
                f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in exc.errors()
            )
            return validation_error(f"invalid request ({where})")
        return await request_validation_exception_handler(request, exc)

    from labstream.objects.tiers import ObjectArchived

    @app.exception_handler(ObjectArchived)
    async def _archived(request: Request, exc: ObjectArchived) -> JSONResponse:
        """An archived object is not an error of the server: 503 with when to come back (rounded up: a
        client that waits the Retry-After seconds must find the restore done)."""
        resp = _error(503, f"the object {exc.public_message()}")
        resp.headers["Retry-After"] = str(max(1, math.ceil(exc.ready_in_s)))
        return resp

    @app.exception_handler(LookupError)
    async def _missing(request: Request, exc: LookupError) -> JSONResponse:
        return _error(404, "not found")

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.error("integrity failure on %s: %s", request.url.path, exc)
        return _error(500, str(exc))

    return app
