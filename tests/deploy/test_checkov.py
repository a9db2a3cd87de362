"""checkov (its own venv, scripts/setup-checkov.sh, built by `make setup`) scans, in one run, every object
the chart renders for the three value sets plus the Pods the Dask operator will create, and the GCP
Terraform: no failed check, and every skipped check carries its reason. A deliberately insecure Pod in
the same run proves the scan bites."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from labstream.deploy import load_value_set, operator_pods, render_chart

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SETS = ["minimal", "gpu-strimzi-dask", "external"]
CANARY = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "canary", "namespace": "labstream"},
    "spec": {
        "containers": [{"name": "c", "image": "busybox:latest", "securityContext": {"privileged": True}}]
    },
}


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    assert CHECKOV.exists(), "checkov is missing: run scripts/setup-checkov.sh (make setup does)"
    root = tmp_path_factory.mktemp("checkov")
    for name in SETS:
        manifests = render_chart(load_value_set(name))
        bodies = [m.body for m in manifests + operator_pods(manifests)]
        (root / f"{name}.yaml").write_text(yaml.safe_dump_all(bodies))
    (root / "canary.yaml").write_text(yaml.safe_dump(CANARY))
    shutil.copytree(ROOT / "deploy" / "terraform", root / "terraform")
    (root / "image").mkdir()
    shutil.copy(ROOT / "Dockerfile", root / "image" / "Dockerfile")
    run = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(root),
            "--framework",
            "kubernetes",
            "terraform",
            "dockerfile",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.stdout.strip(), run.stderr[-2000:]
    reports = json.loads(run.stdout)
    return {r["check_type"]: r for r in (reports if isinstance(reports, list) else [reports])}


@pytest.mark.slow
def test_checkov_finds_nothing_unexplained_in_the_chart(scan: dict[str, dict]) -> None:
    results = scan["kubernetes"]["results"]
    assert scan["kubernetes"]["summary"]["parsing_errors"] == 0
    failed = [(c["check_id"], c["resource"], Path(c["file_path"]).name) for c in results["failed_checks"]]
    ours = [f for f in failed if f[2] != "canary.yaml"]
    assert ours == [], ours
    # the canary fails the checks it should: privileged container, latest tag, no limits
    canary = {f[0] for f in failed if f[2] == "canary.yaml"}
    assert {"CKV_K8S_16", "CKV_K8S_14", "CKV_K8S_13"} <= canary
    for c in results["skipped_checks"]:
        assert len(c["check_result"].get("suppress_comment", "")) > 40, c["check_id"]
    # the operator's Dask pods were scanned, not just the Deployments
    scanned = {
        c["resource"].split(".")[2] for c in results["passed_checks"] if c["resource"].startswith("Pod.")
    }
    assert {"lab-dask-gpu-worker", "lab-dask-scheduler", "lab-dask-tpu-worker"} <= scanned


@pytest.mark.slow
def test_checkov_finds_nothing_unexplained_in_the_terraform(scan: dict[str, dict]) -> None:
    tf = scan["terraform"]
    assert tf["summary"]["parsing_errors"] == 0 and tf["summary"]["passed"] >= 60
    assert tf["results"]["failed_checks"] == [], [c["check_id"] for c in tf["results"]["failed_checks"]]
    skipped = {
        c["check_id"]: c["check_result"].get("suppress_comment", "") for c in tf["results"]["skipped_checks"]
    }
    assert set(skipped) == {"CKV_GCP_12", "CKV_GCP_6", "CKV_GCP_62"} and all(
        len(r) > 40 for r in skipped.values()
    )


@pytest.mark.slow
def test_checkov_finds_nothing_unexplained_in_the_dockerfile(scan: dict[str, dict]) -> None:
    image = scan["dockerfile"]
    assert image["summary"]["parsing_errors"] == 0 and image["summary"]["passed"] >= 5
    assert image["results"]["failed_checks"] == [], [c["check_id"] for c in image["results"]["failed_checks"]]
    skipped = {
        c["check_id"]: c["check_result"].get("suppress_comment", "")
        for c in image["results"]["skipped_checks"]
    }
    assert set(skipped) <= {"CKV_DOCKER_2"} and all(len(r) > 40 for r in skipped.values()), skipped
