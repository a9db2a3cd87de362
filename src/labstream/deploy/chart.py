"""Render and lint the labstream Helm chart with the Helm v4 engine bundled by helm-python-sdk.

No helm binary and no cluster: `Chart.render` is `helm template`, `lint` is `helm lint` (with the chart's
values.schema.json applied to the values). The chart and its value sets live in the repository's
deploy/helm folder, next to the prometheus rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labstream.core.errors import ConfigError, MissingDependencyError

DEPLOY_DIR = Path(__file__).resolve().parents[3] / "deploy" / "helm"
CHART_DIR = DEPLOY_DIR / "labstream"
VALUE_SETS = DEPLOY_DIR / "values"


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object of a rendered release, with the template it came from."""

    template: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))


def _helm() -> Any:
    try:
        import helm_python
    except ImportError as err:
        raise MissingDependencyError("helm-python-sdk", "deploy") from err
    return helm_python


def load_value_set(name: str) -> dict[str, Any]:
    """A value set of deploy/helm/values by name (`minimal`, `gpu-strimzi-dask`, `external`)."""
    path = VALUE_SETS / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in VALUE_SETS.glob("*.yaml"))
        raise ConfigError(f"no value set {path}; use one of {known}")
    return yaml.safe_load(path.read_text()) or {}


def render_chart(
    values: dict[str, Any] | None = None,
    *,
    release: str = "lab",
    namespace: str = "labstream",
    chart_dir: Path = CHART_DIR,
) -> list[Manifest]:
    """Every object the chart renders for these values (schema-checked by Helm first)."""
    helm = _helm()
    chart = helm.Chart.load(str(chart_dir))
    try:
        rendered = chart.render(values or {}, name=release, namespace=namespace, is_install=True)
    except helm.HelmError as err:
        raise ConfigError(f"{chart_dir}: helm could not render these values: {err}; fix the values") from err
    out: list[Manifest] = []
    for template, text in sorted(rendered.items()):
        for body in yaml.safe_load_all(text):
            if body:
                out.append(Manifest(template, body))
    return out


def operator_pods(manifests: list[Manifest]) -> list[Manifest]:
    """The Pods the dask-kubernetes operator will create from the chart's Dask resources.

    A scanner that knows only built-in kinds (checkov) would otherwise never see the scheduler's and the
    workers' pod specs; as Pods they are validated and scanned like the chart's own Deployments.
    """
    pods: list[Manifest] = []
    for m in manifests:
        spec = m.body.get("spec", {})
        if m.kind == "DaskCluster":
            roles = {"scheduler": spec["scheduler"], "worker": spec["worker"]}
        elif m.kind == "DaskWorkerGroup":
            roles = {"worker": spec["worker"]}
        else:
            continue
        for role, part in roles.items():
            meta = dict(part.get("metadata", {}))
            meta.update(name=f"{m.name}-{role}", namespace=m.body["metadata"].get("namespace", "default"))
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": part["spec"]}
            pods.append(Manifest(f"{m.template}#{m.name}/{role}", body))
    return pods


def lint_chart(
    values: dict[str, Any] | None = None, *, kube_version: str, chart_dir: Path = CHART_DIR
) -> list[str]:
    """`helm lint --strict` findings above "info" (warnings and errors), one line each."""
    report = _helm().lint(str(chart_dir), values or {}, strict=True, kube_version=kube_version)
    lines = [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    return lines + [str(e) for e in report.get("errors", [])]
