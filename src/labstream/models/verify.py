"""`labstream models verify`: re-compute every registered version's test output from its stored weights.

A version passes when its weights hash to the registered sha256, load, and reproduce the registered test
output digest bit for bit. Each failure names the version and what broke (tampered weights, a missing
blob, a different output).
"""

from __future__ import annotations

from dataclasses import dataclass

from labstream.core.errors import LabstreamError
from labstream.models.base import ModelRegistry, ModelVersion
from labstream.models.flavors import load, run_test


@dataclass(frozen=True)
class Verification:
    tag: str
    ok: bool
    problem: str = ""


def verify_version(registry: ModelRegistry, mv: ModelVersion) -> Verification:
    try:
        loaded = load(registry, mv)
        got = run_test(loaded, registry.test_input(mv))
    except LabstreamError as err:
        return Verification(mv.tag, False, str(err))
    if got != mv.test_output_sha256:
        return Verification(
            mv.tag,
            False,
            f"test output hashes to {got[:16]}…, registered {mv.test_output_sha256[:16]}…: "
            "the model does not reproduce its registered output on this code and machine",
        )
    return Verification(mv.tag, True)


def verify_all(registry: ModelRegistry, name: str | None = None) -> list[Verification]:
    names = [name] if name else registry.models()
    return [verify_version(registry, mv) for n in names for mv in registry.versions(n)]


__all__ = ["Verification", "verify_all", "verify_version"]
