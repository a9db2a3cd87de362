"""Vendor the dask-kubernetes operator's CRD schemas for offline validation of the Helm chart.

Reads the CustomResourceDefinitions shipped inside the dask-kubernetes wheel (its operator Helm chart's
`crds/` folder) and writes each served version's `openAPIV3Schema` as JSON under
deploy/helm/crd-schemas/<group>/<kind>-<version>.json, the layout tests/deploy/ validates against.
Usage: pip download --no-deps dask-kubernetes==2026.3.0 -d /tmp/dk &&
       python scripts/vendor-dask-crds.py /tmp/dk/dask_kubernetes-2026.3.0-py3-none-any.whl
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "deploy" / "helm" / "crd-schemas"
USED = {"DaskCluster", "DaskWorkerGroup", "DaskAutoscaler"}  # the kinds the chart renders
CRDS = "dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds/"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(n for n in zf.namelist() if n.startswith(CRDS) and n.endswith(".yaml")):
            crd = yaml.safe_load(zf.read(name))
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            if kind not in USED:
                continue
            for version in crd["spec"]["versions"]:
                schema = version["schema"]["openAPIV3Schema"]
                path = OUT / group / f"{kind.lower()}-{version['name']}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
                print(path.relative_to(OUT.parents[2]), path.stat().st_size)


if __name__ == "__main__":
    main(sys.argv[1])
