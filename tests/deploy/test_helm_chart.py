"""The Helm chart, rendered by the real Helm engine (helm-python-sdk) for each shipped value set, linted
strictly, and every object (the operator's Dask pods included) validated against Kubernetes 1.31 and the
vendored CRD schemas; the schema refuses unknown keys and credentials; pods meet the restricted Pod
Security Standard and sit behind a default-deny NetworkPolicy."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from labstream.core.errors import ConfigError
from labstream.deploy import (
    CHART_DIR,
    KUBERNETES_VERSION,
    VALUE_SETS,
    Manifest,
    lint_chart,
    load_value_set,
    operator_pods,
    render_chart,
    validate_manifest,
)

SETS = ["minimal", "gpu-strimzi-dask", "external"]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Manifest]]:
    return {name: render_chart(load_value_set(name)) for name in SETS}


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    out = [(m.name, m.body["spec"]["template"]["spec"]) for m in manifests if m.kind == "Deployment"]
    return out + [(p.name, p.body["spec"]) for p in operator_pods(manifests)]


def kinds(manifests: list[Manifest]) -> list[str]:
    return sorted(m.kind for m in manifests)


def test_value_sets_shipped() -> None:
    assert sorted(p.stem for p in VALUE_SETS.glob("*.yaml")) == sorted(SETS)


@pytest.mark.parametrize("name", SETS)
def test_lint_is_clean(name: str) -> None:
    assert lint_chart(load_value_set(name), kube_version=f"v{KUBERNETES_VERSION}") == []


@pytest.mark.parametrize("name", SETS)
def test_every_manifest_validates(rendered: dict[str, list[Manifest]], name: str) -> None:
    manifests = rendered[name] + operator_pods(rendered[name])
    for m in manifests:
        validate_manifest(m.body)
    assert len(manifests) >= 8


def test_each_value_set_renders_what_it_promises(rendered: dict[str, list[Manifest]]) -> None:
    minimal, gpu, external = (rendered[n] for n in SETS)
    assert "DaskCluster" not in kinds(minimal) and "Kafka" not in kinds(minimal)
    assert "PersistentVolumeClaim" in kinds(minimal)
    assert kinds(gpu).count("DaskWorkerGroup") == 3 and {"DaskCluster", "Kafka", "KafkaNodePool"} <= set(
        kinds(gpu)
    )
    settings = {m.kind: m for m in gpu}["ConfigMap"].body["data"]
    assert settings["LABSTREAM_EXECUTOR_URL"] == "dask://lab-dask-scheduler.labstream.svc:8786"
    assert settings["LABSTREAM_STREAM_URL"].startswith(
        "kafka://lab-kafka-kafka-bootstrap.labstream.svc:9093?"
    )
    ext_settings = {m.kind: m for m in external}["ConfigMap"].body["data"]
    assert "LABSTREAM_STREAM_URL" not in ext_settings  # it carries SASL credentials: from the Secret
    assert ext_settings["AWS_ENDPOINT_URL"] == "https://minio.storage.svc:9000"
    watcher = next(m for m in external if m.name == "lab-watch-sequencer")
    env = {e["name"]: e for e in watcher.body["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LABSTREAM_STREAM_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "labstream-stream",
        "key": "stream-url",
    }
    assert env["LABSTREAM_CATALOG_URL"]["valueFrom"]["secretKeyRef"]["name"] == "labstream-catalog"


def test_gpu_and_tpu_groups_are_placed_and_advertised(rendered: dict[str, list[Manifest]]) -> None:
    groups = {
        m.name: m.body["spec"]["worker"]["spec"]
        for m in rendered["gpu-strimzi-dask"]
        if m.kind == "DaskWorkerGroup"
    }
    gpu, tpu, cpu = groups["lab-dask-gpu"], groups["lab-dask-tpu"], groups["lab-dask-cpu"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu["tolerations"][0]["key"] == "nvidia.com/gpu"
    args = gpu["containers"][0]["args"]
    assert args[args.index("--resources") + 1] == "GPU=1"  # the name the stages' ResourceRequest asks for
    assert tpu["containers"][0]["resources"]["limits"]["google.com/tpu"] == "4"
    assert "--resources" not in cpu["containers"][0]["args"] and "nodeSelector" not in cpu
    # workers read the same configuration as the watchers: one ConfigMap plus the same Secret references
    watcher = next(m for m in rendered["gpu-strimzi-dask"] if m.name == "lab-watch-novaseq")
    wenv = watcher.body["spec"]["template"]["spec"]["containers"][0]
    for spec in (gpu, tpu, cpu):
        assert spec["containers"][0]["envFrom"] == wenv["envFrom"]
        assert spec["containers"][0]["env"] == wenv["env"]


def test_pods_meet_the_restricted_standard(rendered: dict[str, list[Manifest]]) -> None:
    specs = [s for name in SETS for s in pod_specs(rendered[name])]
    assert len(specs) >= 12
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec), name
        assert all("hostPath" not in v for v in spec.get("volumes", [])), name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert c["resources"]["limits"]["memory"] == c["resources"]["requests"]["memory"], name
            for e in c.get("env", []):  # a value is literal only for the home path; secrets by reference
                assert "value" not in e or e["name"] == "LABSTREAM_HOME", (name, e["name"])


def test_every_pod_is_behind_the_default_deny(rendered: dict[str, list[Manifest]]) -> None:
    for name in SETS:
        deny = next(m for m in rendered[name] if m.name == "lab-default-deny").body["spec"]
        assert deny["policyTypes"] == ["Ingress", "Egress"]
        pods = [
            (m.name, m.body["spec"]["template"]["metadata"]) for m in rendered[name] if m.kind == "Deployment"
        ]
        pods += [(p.name, p.body["metadata"]) for p in operator_pods(rendered[name])]
        for pod, meta in pods:
            assert deny["podSelector"]["matchLabels"].items() <= meta["labels"].items(), (name, pod)


def test_schema_declares_every_value() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if isinstance(value, dict) and node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path
            for key, sub in value.items():
                assert key in node["properties"], f"{path}.{key} is not in values.schema.json"
                walk(sub, node["properties"][key], f"{path}.{key}")
        elif isinstance(value, list) and "items" in node:
            for item in value:
                walk(item, node["items"], f"{path}[]")

    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    for values in [defaults] + [load_value_set(n) for n in SETS]:
        walk(values, schema, "")


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"catalog": {"password": "hunter2"}}, "password"),
        (
            {"stream": {"mode": "external", "external": {"url": "kafka://u:secret@b:9092"}}},
            "stream/external/url",
        ),
        ({"objects": {"url": "s3://AKIA:secret@bucket/x"}}, "objects/url"),
        (
            {"watchers": [{"name": "x", "pipeline": "p", "resources": {"cpu": "1", "memory": "lots"}}]},
            "memory",
        ),
        ({"dask": {"enabled": True}}, "objects.url"),
        ({"dask": {"enabled": True}, "objects": {"url": "s3://b/o"}}, "catalog.urlSecret.name"),
        ({"settings": {"governed": True}}, "masterKeySecret"),
    ],
)
def test_bad_values_are_refused_naming_the_value(values: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace(".", r"\.")):
        render_chart(values)


def test_the_validator_fails_on_broken_manifests(rendered: dict[str, list[Manifest]]) -> None:
    gpu = rendered["gpu-strimzi-dask"]
    group = copy.deepcopy(next(m for m in gpu if m.kind == "DaskWorkerGroup").body)
    group["spec"]["worker"]["replicas"] = "two"
    with pytest.raises(ConfigError, match="spec/worker/replicas"):
        validate_manifest(group)
    deploy = copy.deepcopy(next(m for m in gpu if m.kind == "Deployment").body)
    deploy["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(ConfigError, match="securityContex"):
        validate_manifest(deploy)
    pool = copy.deepcopy(next(m for m in gpu if m.kind == "KafkaNodePool").body)
    pool["spec"]["roles"] = ["zookeeper"]
    with pytest.raises(ConfigError, match="spec/roles/0"):
        validate_manifest(pool)
    with pytest.raises(ConfigError, match="no vendored CRD schema"):
        validate_manifest(
            {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaTopic", "metadata": {"name": "t"}}
        )
    with pytest.raises(ConfigError, match="PodSecurityPolicy"):
        validate_manifest(
            {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "p"}}
        )
