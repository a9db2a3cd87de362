"""The GCP Terraform (deploy/terraform/gcp), parsed with HCL2 offline: the bucket has lifecycle rules and
a customer-managed key, the catalog is private PostgreSQL with TLS and point-in-time recovery, the GPU
pool is labelled and tainted exactly as the chart's GPU worker group selects and tolerates. Applying it
needs a GCP project and is not done here. The parser is checkov's HCL2 (bc-python-hcl2, in the checkov
venv that `make setup` builds), the one checkov scans the same files with."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from labstream.deploy import load_value_set

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "deploy" / "terraform" / "gcp"
PYTHON = ROOT / ".venv-checkov" / "bin" / "python"
PARSE = "import hcl2, json, sys; print(json.dumps({f: hcl2.load(open(f)) for f in sys.argv[1:]}))"


@pytest.fixture(scope="module")
def resources() -> dict[str, dict[str, Any]]:
    assert PYTHON.exists(), "the checkov venv is missing: run scripts/setup-checkov.sh (make setup does)"
    files = sorted(str(p) for p in TF.glob("*.tf"))
    parsed = json.loads(
        subprocess.run(
            [str(PYTHON), "-c", PARSE, *files], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    )
    out: dict[str, dict[str, Any]] = {}
    for doc in parsed.values():
        for block in doc.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    out[f"{kind}.{name}"] = body
    return out


def one(value: Any) -> Any:
    """HCL2 wraps each block and attribute in a list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def test_bucket_has_lifecycle_and_customer_managed_encryption(resources: dict[str, dict[str, Any]]) -> None:
    bucket = resources["google_storage_bucket.lab"]
    assert one(bucket["public_access_prevention"]) == "enforced"
    assert "google_kms_crypto_key.objects.id" in one(one(bucket["encryption"])["default_kms_key_name"])
    actions = [one(one(rule)["action"])["type"] for rule in bucket["lifecycle_rule"]]
    assert [one(a) for a in actions] == ["SetStorageClass", "Delete"]


def test_catalog_is_private_postgres_with_tls_and_recovery(resources: dict[str, dict[str, Any]]) -> None:
    sql = resources["google_sql_database_instance.catalog"]
    assert one(sql["database_version"]).startswith("POSTGRES_")
    settings = one(sql["settings"])
    ip = one(settings["ip_configuration"])
    assert one(ip["ipv4_enabled"]) is False and one(ip["ssl_mode"]) == "ENCRYPTED_ONLY"
    assert one(one(settings["backup_configuration"])["point_in_time_recovery_enabled"]) is True


def test_gpu_pool_matches_the_charts_gpu_worker_group(resources: dict[str, dict[str, Any]]) -> None:
    pool = resources["google_container_node_pool.gpu"]
    node = one(pool["node_config"])
    assert one(one(pool["autoscaling"])["min_node_count"]) == 0
    assert one(one(node["guest_accelerator"])["count"]) == 1
    group = next(g for g in load_value_set("gpu-strimzi-dask")["dask"]["workerGroups"] if g["name"] == "gpu")
    assert one(node["labels"]) == group["nodeSelector"]
    taint = one(node["taint"])
    toleration = group["tolerations"][0]
    assert one(taint["key"]) == toleration["key"] and one(taint["effect"]) == "NO_SCHEDULE"
    assert toleration["effect"] == "NoSchedule" and toleration["operator"] == "Exists"
    cluster = resources["google_container_cluster.lab"]
    assert one(cluster["datapath_provider"]) == "ADVANCED_DATAPATH"  # enforces the chart's NetworkPolicies
