"""Validate rendered manifests offline against one Kubernetes version and the operators' CRD schemas.

Built-in kinds go to kubernetes-validate (its bundled OpenAPI schemas, strict: an unknown field fails).
Custom resources are validated with jsonschema against deploy/helm/crd-schemas/<group>/<kind>-<version>.json:
the dask-kubernetes schemas are its operator's CRDs as shipped (scripts/vendor-dask-crds.py); the Strimzi
ones are a hand-written subset of its API reference (each file says so). A custom resource without a
vendored schema is an error, never a silent pass.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from labstream.core.errors import ConfigError, MissingDependencyError
from labstream.deploy.chart import DEPLOY_DIR

KUBERNETES_VERSION = "1.31.0"  # the oldest minor the target clusters (GKE/EKS regular channels) still run
CRD_SCHEMAS = DEPLOY_DIR / "crd-schemas"


@cache
def _crd_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    path = CRD_SCHEMAS / group / f"{kind.lower()}-{version}.json"
    if not path.is_file():
        raise ConfigError(f"no vendored CRD schema {path} for {kind} {group}/{version}; vendor it first")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def validate_manifest(body: dict[str, Any], *, kubernetes_version: str = KUBERNETES_VERSION) -> None:
    """Raise ConfigError naming the object and the failing field when `body` is not valid."""
    try:
        import jsonschema
        import kubernetes_validate
    except ImportError as err:
        raise MissingDependencyError("kubernetes-validate", "deploy") from err
    api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
    where = f"{kind} {body.get('metadata', {}).get('name', '?')}"
    group, _, version = api_version.rpartition("/")
    try:
        if "." in group and not group.endswith(".k8s.io"):
            jsonschema.Draft7Validator(_crd_schema(group, kind, version)).validate(body)
        else:
            kubernetes_validate.validate(body, kubernetes_version, strict=True)
    except jsonschema.ValidationError as err:
        path = "/".join(str(p) for p in err.absolute_path) or "(top)"
        raise ConfigError(f"{where}: {path}: {err.message}; fix the template or the values") from err
    except kubernetes_validate.SchemaNotFoundError as err:
        raise ConfigError(
            f"{where}: {err.message}; use an API version Kubernetes {kubernetes_version} serves"
        ) from err
