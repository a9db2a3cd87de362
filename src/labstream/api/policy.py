"""The one table saying who may call each route: (method, path) -> Policy.

`auth` is "public" (no token), "token" (a bearer token; `right` must be held in at least one project,
and handlers check it again for the specific project) or "signed" (a short-lived signed URL handed out
by an authorised call: DRS access URLs and htsget data blocks). `create_app` refuses to start if a
route has no entry here, and the matrix test checks every cell.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    auth: str  # public | token | signed
    right: str | None = None  # read | query | submit | cancel | sign | reidentify | None (any valid token)
    action: str = ""  # audit action name; "" = not audited (public metadata)
    patient_linked: bool = False


P = Policy
POLICY: dict[tuple[str, str], Policy] = {
    ("GET", "/healthz"): P("public"),
    ("GET", "/service-info"): P("public"),
    ("GET", "/api/v1/me"): P("token", None, "me.get"),
    ("GET", "/api/v1/projects"): P("token", "read", "projects.list"),
    ("GET", "/api/v1/runs"): P("token", "read", "runs.list"),
    ("POST", "/api/v1/runs"): P("token", "submit", "runs.submit"),
    ("GET", "/api/v1/runs/{run_id}"): P("token", "read", "runs.get"),
    ("POST", "/api/v1/runs/{run_id}/cancel"): P("token", "cancel", "runs.cancel"),
    ("GET", "/api/v1/samples"): P("token", "read", "samples.list", patient_linked=True),
    ("GET", "/api/v1/plates"): P("token", "read", "plates.list"),
    ("GET", "/api/v1/tables"): P("token", "read", "tables.list"),
    ("GET", "/api/v1/tables/{table}"): P("token", "read", "tables.read", patient_linked=True),
    ("POST", "/api/v1/sql"): P("token", "query", "sql.query", patient_linked=True),
    ("GET", "/api/v1/lineage/{lineage_id}"): P("token", "read", "lineage.get"),
    ("GET", "/api/v1/dead-letters"): P("token", "read", "dead_letters.list"),
    ("GET", "/api/v1/reports"): P("token", "read", "reports.list"),
    ("GET", "/api/v1/reports/{object_id}"): P("token", "read", "reports.get", patient_linked=True),
    ("POST", "/api/v1/reports/{object_id}/sign"): P("token", "sign", "reports.sign", patient_linked=True),
    ("POST", "/api/v1/reports/{object_id}/amend"): P("token", "sign", "reports.amend", patient_linked=True),
    ("GET", "/api/v1/reports/{object_id}/versions"): P("token", "read", "reports.versions"),
    ("GET", "/api/v1/pseudonyms/{pseudonym}"): P(
        "token", "reidentify", "pseudonym.reidentify", patient_linked=True
    ),
    ("GET", "/ga4gh/drs/v1/service-info"): P("public"),
    ("GET", "/ga4gh/drs/v1/objects/{object_id}"): P("token", "read", "drs.get"),
    ("GET", "/ga4gh/drs/v1/objects/{object_id}/access/{access_id}"): P(
        "token", "read", "drs.access", patient_linked=True
    ),
    ("GET", "/data/{object_id}"): P("signed", "read", "data.get", patient_linked=True),
    ("GET", "/reads/service-info"): P("public"),
    ("GET", "/variants/service-info"): P("public"),
    ("GET", "/reads/{object_id}"): P("token", "read", "htsget.reads", patient_linked=True),
    ("GET", "/variants/{object_id}"): P("token", "read", "htsget.variants", patient_linked=True),
    ("GET", "/htsget/data/{object_id}"): P("signed", "read", "htsget.data", patient_linked=True),
    ("GET", "/ga4gh/wes/v1/service-info"): P("public"),
    ("GET", "/ga4gh/wes/v1/runs"): P("token", "read", "wes.list"),
    ("POST", "/ga4gh/wes/v1/runs"): P("token", "submit", "wes.submit"),
    ("GET", "/ga4gh/wes/v1/runs/{run_id}"): P("token", "read", "wes.get"),
    ("GET", "/ga4gh/wes/v1/runs/{run_id}/status"): P("token", "read", "wes.status"),
    ("GET", "/ga4gh/wes/v1/runs/{run_id}/stderr"): P("token", "read", "wes.stderr"),
    ("POST", "/ga4gh/wes/v1/runs/{run_id}/cancel"): P("token", "cancel", "wes.cancel"),
    # dashboard: the page and its assets carry no data; its JSON routes are read-only and scoped
    ("GET", "/dashboard"): P("public"),
    ("GET", "/dashboard/app.js"): P("public"),
    ("GET", "/dashboard/app.css"): P("public"),
    ("GET", "/api/v1/dashboard/status"): P("token", "read", "dashboard.status"),
    ("GET", "/api/v1/dashboard/plates"): P("token", "read", "dashboard.plates"),
    ("GET", "/api/v1/dashboard/plates/{plate}/qc"): P("token", "read", "dashboard.plate_qc"),
    ("GET", "/api/v1/dashboard/hits"): P("token", "read", "dashboard.hits"),
    ("GET", "/api/v1/dashboard/samples"): P("token", "read", "dashboard.samples", patient_linked=True),
    ("GET", "/api/v1/dashboard/ops"): P("token", "read", "dashboard.ops"),
    # the model registry (routes_models.py): promotion is a right of its own (role steward)
    ("GET", "/api/v1/models"): P("token", "read", "models.list"),
    ("POST", "/api/v1/models/{name}/promote"): P("token", "promote", "models.promote"),
    ("POST", "/api/v1/models/{name}/rollback"): P("token", "promote", "models.rollback"),
    # the cohort variant lake (routes_cohort.py): every answer covers the caller's projects' samples only;
    # a sub-cohort can be one sample, so stats and carriers are patient-linked; Beacon answers aggregates
    ("GET", "/api/v1/cohort/stats"): P("token", "read", "cohort.stats", patient_linked=True),
    ("GET", "/api/v1/cohort/carriers"): P("token", "read", "cohort.carriers", patient_linked=True),
    ("GET", "/beacon/v2/info"): P("public"),
    ("GET", "/beacon/v2/g_variants"): P("token", "read", "beacon.g_variants"),
    ("POST", "/beacon/v2/g_variants"): P("token", "read", "beacon.g_variants"),
    # Prometheus scrapes: aggregates of the caller's projects, not audited per scrape (routes_metrics.py)
    ("GET", "/metrics"): P("token", "read"),
}
