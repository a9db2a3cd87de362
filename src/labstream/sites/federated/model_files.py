"""The federated model as a registry version: weights, manifest and test input for
`labstream models register NAME --weights model.npy --manifest manifest.json`.

Weights are one float64 vector [w (d), b (1), mu (d), sigma (d)] saved as .npy (deterministic bytes, no
pickle). The training-data lineage is per site: each site's lake, table, table version and rows, and
the rounds it took part in (the moments round is round 1), as the sites reported them with their
replies. The test output digest is the sha256 of the model's probabilities on the test input as
little-endian float64, like the registry's other flavors; `labstream models verify` recomputes it with
the registry's own flavor (models/flavors.py), not with this module's code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from labstream.models.flavors import FEDERATED_LOGREG as FLAVOR
from labstream.runtime.lineage import code_version, source_version
from labstream.sites.federated import logreg
from labstream.sites.federated.deploy import FederationResult

__all__ = ["FLAVOR", "model_vector", "site_lineage", "unpack", "write_model_files"]


def model_vector(params: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype="<f8").ravel() for p in params])


def unpack(vector: np.ndarray) -> list[np.ndarray]:
    """The inverse of `model_vector`: [w, b, mu, sigma] (d = (len - 1) / 3)."""
    d = (len(vector) - 1) // 3
    return [vector[:d], vector[d : d + 1], vector[d + 1 : 2 * d + 1], vector[2 * d + 1 :]]


def probabilities_digest(params: list[np.ndarray], x: np.ndarray) -> str:
    p = 1.0 / (1.0 + np.exp(-logreg.decision(params, x)))
    return hashlib.sha256(np.ascontiguousarray(p, dtype="<f8").tobytes()).hexdigest()


def _site_code(result: FederationResult) -> str:
    """What trained at the sites (the SecAgg+ app's client when the run was secure), named without
    importing Flower here: its apps run in the SuperNodes' processes."""
    if result.distinct_vectors_seen:
        return source_version("labstream.sites.federated.flower_secagg", "_Site.fit")
    return source_version("labstream.sites.federated.flower_app", "_train")


def site_lineage(result: FederationResult) -> list[dict[str, Any]]:
    """One entry per site and table version it trained on, with the rounds it replied in."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in sorted(result.lineage, key=lambda e: (e["site"], e["round"])):
        key = (e["site"], e["lake"], e["table"], e["table_version"], e["rows"])
        entry = out.setdefault(
            key,
            {
                "kind": "federated-site",
                "site": e["site"],
                "lake": e["lake"],
                "table": e["table"],
                "table_version": e["table_version"],
                "rows": e["rows"],
                "rounds": [],
            },
        )
        entry["rounds"].append(e["round"])
    return list(out.values())


def write_model_files(
    result: FederationResult,
    folder: Path,
    *,
    test_x: np.ndarray,
    metrics: dict[str, dict[str, float]],
    params: dict[str, Any],
    description: str = "",
) -> tuple[Path, Path]:
    """Write model.npy, test_input.npy and manifest.json into `folder`; returns (weights, manifest)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = [np.asarray(a) for a in np.load(result.model_path).values()]
    weights, test_input = folder / "model.npy", folder / "test_input.npy"
    np.save(weights, model_vector(model), allow_pickle=False)
    np.save(test_input, np.ascontiguousarray(test_x, dtype="<f8"), allow_pickle=False)
    manifest = {
        "flavor": FLAVOR,
        "code_version": f"{_site_code(result)};{code_version(logreg.local_train)}",
        "training_data": site_lineage(result),
        "params": {
            "rounds": result.rounds,
            "seconds": round(result.seconds, 2),
            "bytes_by_site": result.bytes_by_site,
            "privacy": result.privacy,
            "secure_aggregation": "SecAgg+" if result.distinct_vectors_seen else None,
            **params,
        },
        "metrics": metrics,
        "test_input": test_input.name,
        "test_output_sha256": probabilities_digest(model, test_x),
        "description": description,
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return weights, path
