"""Flower's apps run in the SuperNodes' processes; importing them here loads gRPC, whose threads make
every later fork of this process crash (seen as segfaults of forked worker pools in the test suite).
The modules the platform imports in-process (model files, registry, sites) must never import them."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
def flower_loaded():
    return ",".join(sorted(m for m in sys.modules if m == "grpc" or m.startswith(("grpc.", "flwr."))))
import labstream.models, labstream.sites, labstream.sites.federated.model_files
print(flower_loaded() or "-")
import labstream.sites.federated.flower_app  # the probe itself must see them once they are loaded
print(flower_loaded() or "-")
"""


def test_the_model_files_and_the_registry_do_not_load_flower_or_grpc() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=300
    )
    platform, after_flower = out.stdout.split()
    assert platform == "-", f"loaded in-process: {platform[:300]}"
    assert "grpc" in after_flower.split(",")
