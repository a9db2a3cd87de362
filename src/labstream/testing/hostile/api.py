"""API requests: hostile requests to the FastAPI app (TestClient) over a real governed home (one
project, a scientist's token, lake rows), each followed by a good control request (a scoped SQL count).
A hostile request must get a 4xx, create no run, and its response must hold no server path, no
planted secret and no line of /etc/passwd."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from labstream.testing.hostile import _probe
from labstream.testing.hostile._case import Case, Expect, Observed

FAMILY = "api"
PROJECT = "alpha"
ROWS = 5
COPY_TARGET = Path(tempfile.gettempdir()) / "labstream-hostile-copy.csv"


@functools.cache
def world() -> dict[str, Any]:
    """One governed home for the family (requests do not change what the next one sees, runs aside)."""
    import pyarrow as pa
    from fastapi.testclient import TestClient

    from labstream.api.app import create_app
    from labstream.governance.service import Governance
    from labstream.lake import open_lake

    root = Path(tempfile.mkdtemp(prefix="labstream-hostile-api-"))
    settings = _probe.settings(root / "home")
    gov = Governance.open(settings)
    gov.directory.add_project(PROJECT, region="eu")
    gov.directory.add_user("sci")
    gov.directory.grant("sci", PROJECT, "scientist")
    token = gov.directory.create_token("sci")[1]
    rows = [{"sample_id": f"S{i}", "value": float(i), "project": PROJECT} for i in range(ROWS)]
    open_lake(settings.lake_url).append("samples", pa.Table.from_pylist(rows), project=PROJECT)
    secret, secret_token = _probe.plant_secret(root / "outside")
    client = TestClient(create_app(settings, gov=gov, announce=None))
    return {
        "root": root,
        "home": settings.home,
        "client": client,
        "token": token,
        "secret": secret,
        "secret_token": secret_token.decode(),
        "auth": {"Authorization": f"Bearer {token}"},
    }


def _runs(w: dict[str, Any]) -> int:
    res = w["client"].get("/api/v1/runs", headers=w["auth"])
    return len(res.json()) if res.status_code == 200 else -1


def _build(request):  # type: ignore[no-untyped-def]
    def build(tmp: Path) -> dict[str, Any]:
        return {"world": world(), "request": request}

    return build


def _run(inputs: dict[str, Any]) -> Observed:
    o = Observed()
    w = inputs["world"]
    before = _runs(w)
    method, url, kw = inputs["request"](w)
    res = w["client"].request(method, url, **kw)
    o.status = res.status_code
    o.add(f"HTTP {res.status_code}", res.text[:2000])
    o.offender_rows = max(_runs(w) - before, 0)
    good = w["client"].post(
        "/api/v1/sql", headers=w["auth"], json={"sql": "SELECT count(*) FROM samples", "project": PROJECT}
    )
    o.control_rows = int(good.status_code == 200 and good.json()["rows"] == [[ROWS]])
    body = res.text
    for needle, what in (
        (str(w["root"]), "a server path"),
        (w["secret_token"], "the planted secret"),
        ("root:x:0:0", "a line of /etc/passwd"),
        (str(Path.home()), "the server's home folder"),
    ):
        if needle in body:
            o.leaks.append(f"the response holds {what}")
    if COPY_TARGET.exists():
        COPY_TARGET.unlink()
        o.leaks.append(f"{COPY_TARGET} was written by a query")
    return o


def _sql(sql: str):  # type: ignore[no-untyped-def]
    return lambda w: ("POST", "/api/v1/sql", {"headers": w["auth"], "json": {"sql": sql, "project": PROJECT}})


def _submit(pipeline: str, params: Any):  # type: ignore[no-untyped-def]
    body = {"project": PROJECT, "pipeline": pipeline, "params": params}
    return lambda w: ("POST", "/api/v1/runs", {"headers": w["auth"], "json": body})


def _secret_params(w: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    return _submit("phenomics", {"platemap": str(w["secret"]), "images": str(w["secret"].parent)})(w)


def _case(cid: str, description: str, request, names: str | None = None, **kw) -> Case:  # type: ignore[no-untyped-def]
    return Case(cid, FAMILY, description, _build(request), _run, Expect("http4xx", names=names), **kw)


CASES = [
    _case("api-no-token", "GET /api/v1/runs without a token", lambda w: ("GET", "/api/v1/runs", {})),
    _case(
        "api-forged-token",
        "a made-up bearer token",
        lambda w: ("GET", "/api/v1/runs", {"headers": {"Authorization": "Bearer " + "A" * 43}}),
    ),
    _case(
        "api-10mb-params",
        "a run with a 10 MB parameter object",
        _submit("genomics", {"blob": "x" * 10_000_000}),
    ),
    _case(
        "api-huge-headers",
        "200 headers of 8 KB each",
        lambda w: (
            "GET",
            "/api/v1/runs",
            {"headers": {**w["auth"], **{f"X-Pad-{i}": "y" * 8192 for i in range(200)}}},
        ),
    ),
    _case(
        "api-params-server-path",
        "run parameters naming a server file (another project's platemap)",
        _secret_params,
        names="platemap",
    ),
    _case(
        "api-pipeline-params-server-path",
        "pipeline_params naming a server file (another project's platemap)",
        lambda w: _submit("phenomics", {"pipeline_params": {"platemap": str(w["secret"])}})(w),
        names="platemap",
    ),
    _case(
        "api-sql-duckdb-settings", "SELECT * FROM duckdb_settings()", _sql("SELECT * FROM duckdb_settings()")
    ),
    _case("api-sql-read-csv", "read_csv('/etc/passwd')", _sql("SELECT * FROM read_csv('/etc/passwd')")),
    _case(
        "api-sql-write", "CREATE TABLE / INSERT", _sql("CREATE TABLE x AS SELECT 1; INSERT INTO x VALUES (2)")
    ),
    _case("api-sql-copy-out", "COPY ... TO a server file", _sql(f"COPY (SELECT 1) TO '{COPY_TARGET}'")),
    _case("api-sql-attach", "ATTACH the catalog database", _sql("ATTACH 'catalog.db' AS c")),
    _case("api-unknown-pipeline", "a run of pipeline `phenomic`", _submit("phenomic", {}), names="phenomic"),
    _case("api-params-not-object", "run params as a list", _submit("genomics", [1, 2, 3])),
    _case(
        "api-drs-dotdot",
        "DRS object id ../../catalog.db",
        lambda w: ("GET", "/ga4gh/drs/v1/objects/..%2F..%2Fcatalog.db", {"headers": w["auth"]}),
    ),
    _case(
        "api-other-project",
        "SQL scoped to a project the caller has no role in",
        lambda w: (
            "POST",
            "/api/v1/sql",
            {"headers": w["auth"], "json": {"sql": "SELECT 1", "project": "beta"}},
        ),
    ),
    _case(
        "api-bad-json",
        "a body that is not JSON",
        lambda w: (
            "POST",
            "/api/v1/runs",
            {"headers": {**w["auth"], "Content-Type": "application/json"}, "content": b"{not json"},
        ),
    ),
]
