"""The registry on a real MLflow SQLite backend: versions, content-addressed weights, aliases, verify."""

from __future__ import annotations

import hashlib

import pytest

from labstream.core.errors import ConfigError, InputError, IntegrityError
from labstream.models import ModelNotFound, open_registry, parse_ref, resolve
from labstream.models.verify import verify_all

M = {"heldout": {"snp_f1": 0.99, "indel_f1": 0.98}}


def test_versions_keep_weights_by_digest_and_every_field(registry, add_version) -> None:  # type: ignore[no-untyped-def]
    v1 = add_version(registry, "caller", 1, M)
    v2 = add_version(registry, "caller", 2, M)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.sha256 != v2.sha256
    blob = registry.blobs.path(v1.sha256)
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == v1.sha256  # content-addressed on disk
    assert registry.weights(v1) == blob.read_bytes()
    got = registry.get("caller", 1)
    assert got.metrics == M and got.training_data == [{"generator": "normal", "seed": 1}]
    assert got.params == {"seed": 1} and got.code_version == "tests" and got.test_output_sha256
    assert got.tag == f"caller/1@sha256:{v1.sha256}"
    assert [v.version for v in registry.versions("caller")] == [1, 2]
    assert registry.models() == ["caller"]
    # a fresh client on the same database sees the same (MLflow persisted it)
    again = open_registry(registry.url).get("caller", 2)
    assert again.sha256 == v2.sha256


def test_aliases_move_and_resolve_once(registry, add_version) -> None:  # type: ignore[no-untyped-def]
    add_version(registry, "caller", 1, M)
    add_version(registry, "caller", 2, M)
    registry.set_alias("caller", "champion", 1)
    pinned = resolve(registry, "caller@champion")
    registry.set_alias("caller", "champion", 2)
    assert pinned.version == 1  # a resolved version does not follow the alias
    assert resolve(registry, "caller").version == 2
    assert resolve(registry, "caller/1").aliases == ()
    assert registry.get("caller", 2).aliases == ("champion",)
    with pytest.raises(ModelNotFound):
        resolve(registry, "caller@challenger")
    with pytest.raises(ModelNotFound):
        registry.set_alias("caller", "champion", 9)
    with pytest.raises(ModelNotFound):
        registry.versions("nope")
    assert parse_ref("m/3@sha256:ab") == ("m", None, 3)
    with pytest.raises(InputError):
        parse_ref("@x")


def test_verify_reproduces_and_detects_tampering(registry, add_version) -> None:  # type: ignore[no-untyped-def]
    v1 = add_version(registry, "caller", 1, M)
    v2 = add_version(registry, "caller", 2, M)
    assert all(r.ok for r in verify_all(registry))
    blob = registry.blobs.path(v2.sha256)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights
    blob.write_bytes(bytes(data))
    results = {r.tag: r for r in verify_all(registry)}
    assert results[v1.tag].ok
    assert not results[v2.tag].ok and "sha256" in results[v2.tag].problem
    with pytest.raises(IntegrityError):
        registry.weights(v2)  # never handed out either


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown scheme"):
        open_registry("redis://x")


def test_a_version_card_is_checked_like_keyword_arguments() -> None:
    from labstream.models.base import version_card

    card = {
        "flavor": "f",
        "code_version": "c",
        "training_data": [],
        "params": {},
        "metrics": {},
        "test_input": b"",
        "test_output_sha256": "0",
    }
    assert version_card(card)["description"] == ""
    with pytest.raises(TypeError, match="descripton"):
        version_card({**card, "descripton": "typo"})
    with pytest.raises(TypeError, match="flavor"):
        version_card({k: v for k, v in card.items() if k != "flavor"})
