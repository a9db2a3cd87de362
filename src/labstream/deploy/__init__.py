"""Deployment artefacts checked offline: the Helm chart under deploy/helm, rendered by the real Helm
engine (helm-python-sdk), each manifest validated against a named Kubernetes version and the vendored
CRD schemas of the operators the chart uses (dask-kubernetes, Strimzi)."""

from labstream.deploy.chart import (
    CHART_DIR,
    VALUE_SETS,
    Manifest,
    lint_chart,
    load_value_set,
    operator_pods,
    render_chart,
)
from labstream.deploy.validate import CRD_SCHEMAS, KUBERNETES_VERSION, validate_manifest

__all__ = [
    "CHART_DIR",
    "CRD_SCHEMAS",
    "KUBERNETES_VERSION",
    "VALUE_SETS",
    "Manifest",
    "lint_chart",
    "load_value_set",
    "operator_pods",
    "render_chart",
    "validate_manifest",
]
