"""Role x route x project matrix: every route has a declared policy and a request here, and every cell
behaves as the policy says (public: open; token: 401 without a token, 403 without the right, success in
the caller's project, nothing of the other project)."""

from __future__ import annotations

import json

import pytest

from conftest import PROJECTS, World, auth
from labstream.api.app import declared_routes
from labstream.api.policy import POLICY
from labstream.governance.auth import ROLES


@pytest.fixture(scope="module", autouse=True)
def _models(with_models: World) -> None:
    """variant-caller v1 (champion) and v2 in the registry, for the promote and rollback rows."""


@pytest.fixture(scope="module", autouse=True)
def _cohort(with_cohort) -> None:  # type: ignore[no-untyped-def]
    """Samples of both projects in the cohort lake, for the cohort and Beacon rows."""


def requests_for(world: World, project: str) -> dict[tuple[str, str], tuple[str, dict, str]]:
    """(method, path) -> (url, request kwargs, kind). kind says how the other project is kept out:
    "param" = 403 when the other project is asked for, "resource" = 404 for its ids, "list" = absent."""
    o = world.objects[project]
    run = world.runs[project][0]
    return {
        ("GET", "/healthz"): ("/healthz", {}, "public"),
        ("GET", "/service-info"): ("/service-info", {}, "public"),
        ("GET", "/ga4gh/drs/v1/service-info"): ("/ga4gh/drs/v1/service-info", {}, "public"),
        ("GET", "/ga4gh/wes/v1/service-info"): ("/ga4gh/wes/v1/service-info", {}, "public"),
        ("GET", "/reads/service-info"): ("/reads/service-info", {}, "public"),
        ("GET", "/variants/service-info"): ("/variants/service-info", {}, "public"),
        ("GET", "/api/v1/me"): ("/api/v1/me", {}, "list"),
        ("GET", "/api/v1/projects"): ("/api/v1/projects", {}, "list"),
        ("GET", "/api/v1/runs"): (f"/api/v1/runs?project={project}", {}, "param"),
        ("POST", "/api/v1/runs"): (
            "/api/v1/runs",
            {"json": {"project": project, "pipeline": "filestats"}},
            "param",
        ),
        ("GET", "/api/v1/runs/{run_id}"): (f"/api/v1/runs/{run}", {}, "resource"),
        ("POST", "/api/v1/runs/{run_id}/cancel"): (f"/api/v1/runs/{run}/cancel", {}, "resource"),
        ("GET", "/api/v1/samples"): (f"/api/v1/samples?project={project}", {}, "param"),
        ("GET", "/api/v1/plates"): (f"/api/v1/plates?project={project}", {}, "param"),
        ("GET", "/api/v1/tables"): ("/api/v1/tables", {}, "list"),
        ("GET", "/api/v1/tables/{table}"): (f"/api/v1/tables/samples?project={project}", {}, "param"),
        ("POST", "/api/v1/sql"): (
            "/api/v1/sql",
            {"json": {"sql": "select * from samples", "project": project}},
            "param",
        ),
        ("GET", "/api/v1/lineage/{lineage_id}"): (f"/api/v1/lineage/lin-{project}", {}, "resource"),
        ("GET", "/api/v1/reports"): (f"/api/v1/reports?project={project}", {}, "param"),
        ("GET", "/api/v1/dead-letters"): (f"/api/v1/dead-letters?project={project}", {}, "param"),
        ("GET", "/api/v1/reports/{object_id}"): (f"/api/v1/reports/{o['report']}", {}, "resource"),
        ("POST", "/api/v1/reports/{object_id}/sign"): (
            f"/api/v1/reports/{o['report_draft']}/sign",
            {},
            "resource",
        ),
        ("POST", "/api/v1/reports/{object_id}/amend"): (
            f"/api/v1/reports/{o['report_signed']}/amend",
            {"json": {"reason": "matrix: corrected classification"}},
            "resource",
        ),
        ("GET", "/api/v1/reports/{object_id}/versions"): (
            f"/api/v1/reports/{o['report_signed']}/versions",
            {},
            "resource",
        ),
        ("GET", "/api/v1/pseudonyms/{pseudonym}"): (
            f"/api/v1/pseudonyms/{world.pseudonym(project)}",
            {},
            "denied",
        ),
        ("GET", "/ga4gh/drs/v1/objects/{object_id}"): (f"/ga4gh/drs/v1/objects/{o['bam']}", {}, "resource"),
        ("GET", "/ga4gh/drs/v1/objects/{object_id}/access/{access_id}"): (
            f"/ga4gh/drs/v1/objects/{o['bam']}/access/https",
            {},
            "resource",
        ),
        ("GET", "/reads/{object_id}"): (
            f"/reads/{o['bam']}?referenceName=chr1&start=0&end=1000",
            {},
            "resource",
        ),
        ("GET", "/variants/{object_id}"): (f"/variants/{o['vcf']}?referenceName=chr2", {}, "resource"),
        ("GET", "/ga4gh/wes/v1/runs"): ("/ga4gh/wes/v1/runs", {}, "list"),
        ("POST", "/ga4gh/wes/v1/runs"): (
            "/ga4gh/wes/v1/runs",
            {"data": {"workflow_url": "filestats", "tags": json.dumps({"project": project})}},
            "param",
        ),
        ("GET", "/ga4gh/wes/v1/runs/{run_id}"): (f"/ga4gh/wes/v1/runs/{run}", {}, "resource"),
        ("GET", "/ga4gh/wes/v1/runs/{run_id}/status"): (f"/ga4gh/wes/v1/runs/{run}/status", {}, "resource"),
        ("GET", "/ga4gh/wes/v1/runs/{run_id}/stderr"): (f"/ga4gh/wes/v1/runs/{run}/stderr", {}, "resource"),
        ("POST", "/ga4gh/wes/v1/runs/{run_id}/cancel"): (f"/ga4gh/wes/v1/runs/{run}/cancel", {}, "resource"),
        ("GET", "/dashboard"): ("/dashboard", {}, "public"),
        ("GET", "/dashboard/app.js"): ("/dashboard/app.js", {}, "public"),
        ("GET", "/dashboard/app.css"): ("/dashboard/app.css", {}, "public"),
        ("GET", "/api/v1/dashboard/status"): (f"/api/v1/dashboard/status?project={project}", {}, "param"),
        ("GET", "/api/v1/dashboard/plates"): (f"/api/v1/dashboard/plates?project={project}", {}, "param"),
        ("GET", "/api/v1/dashboard/plates/{plate}/qc"): (
            f"/api/v1/dashboard/plates/{project}-PL0/qc?project={project}",
            {},
            "param",
        ),
        ("GET", "/api/v1/dashboard/hits"): (f"/api/v1/dashboard/hits?project={project}", {}, "param"),
        ("GET", "/api/v1/dashboard/samples"): (f"/api/v1/dashboard/samples?project={project}", {}, "param"),
        ("GET", "/api/v1/dashboard/ops"): (f"/api/v1/dashboard/ops?project={project}", {}, "param"),
        ("GET", "/metrics"): ("/metrics", {}, "list"),
        ("GET", "/api/v1/cohort/stats"): (f"/api/v1/cohort/stats?project={project}", {}, "param"),
        ("GET", "/api/v1/cohort/carriers"): (
            f"/api/v1/cohort/carriers?contig=chr1&pos=100&project={project}",
            {},
            "param",
        ),
        ("GET", "/beacon/v2/info"): ("/beacon/v2/info", {}, "public"),
        ("GET", "/beacon/v2/g_variants"): (
            f"/beacon/v2/g_variants?referenceName=chr1&start=0&end=60000&project={project}",
            {},
            "param",
        ),
        ("POST", "/beacon/v2/g_variants"): (
            f"/beacon/v2/g_variants?project={project}",
            {
                "json": {
                    "query": {"requestParameters": {"referenceName": "chr1", "start": [0], "end": [60000]}}
                }
            },
            "param",
        ),
        ("GET", "/api/v1/models"): ("/api/v1/models", {}, "list"),
        # the one model steward of alpha promotes v2 (it passes the gate), then rolls back to v1
        ("POST", "/api/v1/models/{name}/promote"): (
            f"/api/v1/models/variant-caller/promote?project={project}",
            {"json": {"version": 2, "reason": "matrix"}},
            "param",
        ),
        ("POST", "/api/v1/models/{name}/rollback"): (
            f"/api/v1/models/variant-caller/rollback?project={project}",
            {"json": {"reason": "matrix"}},
            "param",
        ),
    }


SIGNED = {("GET", "/data/{object_id}"), ("GET", "/htsget/data/{object_id}")}


def test_every_route_has_a_policy_and_a_matrix_row(app, world: World) -> None:
    routes = declared_routes(app)
    assert routes, "no routes"
    assert routes - set(POLICY) == set(), "routes without a declared policy"
    covered = set(requests_for(world, "alpha")) | SIGNED
    assert routes - covered == set(), "routes the matrix does not exercise"
    assert set(POLICY) - routes == set(), "policies for routes that do not exist"


def test_a_route_without_policy_is_refused_at_startup(world: World, monkeypatch) -> None:
    from labstream.api import app as app_module
    from labstream.core.errors import ConfigError

    trimmed = dict(POLICY)
    trimmed.pop(("GET", "/api/v1/samples"))
    monkeypatch.setattr(app_module, "POLICY", trimmed)
    with pytest.raises(ConfigError, match="without a declared policy"):
        app_module.create_app(world.settings, gov=world.gov, announce=None)


USERS = [f"{role}_alpha" for role in ROLES] + ["nobody", None]


@pytest.mark.parametrize("user", USERS, ids=[str(u) for u in USERS])
def test_matrix(client, world: World, user: str | None) -> None:
    role = user.split("_")[0] if user and user != "nobody" else None
    rights = ROLES.get(role or "", frozenset())
    headers = auth(world, user) if user else {}
    other_ids = [*world.objects["beta"].values(), *world.runs["beta"], "lin-beta", world.pseudonym("beta")]
    cells = 0
    for target in PROJECTS:
        for (method, path), (url, kw, kind) in requests_for(world, target).items():
            policy = POLICY[(method, path)]
            r = client.request(method, url, headers=headers, **kw)
            cells += 1
            where = f"{user} {method} {url} -> {r.status_code} {r.text[:200]}"
            if policy.auth == "public":
                assert r.status_code == 200, where
            elif user is None:
                assert r.status_code == 401, where
            elif policy.right is not None and policy.right not in rights:
                assert r.status_code == 403, where
            elif target == "alpha":
                assert r.status_code in (200, 201), where
            elif kind == "param":
                assert r.status_code == 403, where
            elif kind in ("resource",):
                assert r.status_code == 404, where
            elif kind == "denied":
                assert r.status_code == 403, where
            else:  # list: success, but nothing of the other project
                assert r.status_code == 200, where
                assert "beta" not in r.text and not any(i in r.text for i in other_ids), where
    assert cells == 2 * len(requests_for(world, "alpha"))


def test_signed_data_urls(client, world: World) -> None:
    h = auth(world, "viewer_alpha")
    obj = world.objects["alpha"]["bam"]
    url = client.get(f"/ga4gh/drs/v1/objects/{obj}/access/https", headers=h).json()["url"]
    ok = client.get(url)
    assert ok.status_code == 200 and ok.content == world.files["bam"].read_bytes()
    part = client.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == world.files["bam"].read_bytes()[10:100]
    path = url.split("testserver", 1)[1]
    assert client.get(path.replace(obj, world.objects["beta"]["bam"])).status_code == 403  # other object
    assert client.get(path.replace("u=viewer_alpha", "u=admin_alpha")).status_code == 403  # altered
    assert client.get(f"/data/{obj}").status_code == 403  # unsigned
    ticket = client.get(f"/reads/{obj}?referenceName=chr1", headers=h).json()["htsget"]["urls"][0]["url"]
    tpath = ticket.split("testserver", 1)[1]
    assert client.get(tpath.replace("referenceName=chr1", "referenceName=chr2")).status_code == 403
