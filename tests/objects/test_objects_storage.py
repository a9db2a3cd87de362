"""The storage registry: one line per fsspec scheme gives the object store AND the lake their options."""

from __future__ import annotations

import pytest

from labstream.core.errors import ConfigError
from labstream.lake import Lake
from labstream.objects import STORAGE, StorageOptions, open_store, resolve_storage
from labstream.objects.fsspec_store import OPTIONS_ENV


def memory_options(env: dict[str, str]) -> StorageOptions:
    """What a new scheme's options function looks like: read the environment, return both clients'."""
    return StorageOptions({"skip_instance_cache": True}, {"MEMORY_REGION": env.get("TEST_MEMORY_REGION", "")})


@pytest.fixture
def memory_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MEMORY_REGION", "lab-1")
    monkeypatch.delenv(OPTIONS_ENV, raising=False)
    # The one line that adds a scheme:
    monkeypatch.setitem(STORAGE, "memory", (f"{__name__}:memory_options", "core"))


def test_unknown_scheme_names_it_and_the_known_ones() -> None:
    for open_it in (open_store, Lake):
        with pytest.raises(
            ConfigError, match=r"unknown storage URL scheme 'memory'.*use one of: file, gs, s3, s3a"
        ):
            open_it("memory://bucket/x")


def test_one_registry_line_adds_a_scheme_to_objects_and_lake(memory_scheme: None) -> None:
    store = open_store("memory://bucket/objects")
    ref = store.put_bytes(b"one line")
    assert ref.uri.startswith("memory://bucket/objects/raw/sha256/")
    assert store.get_bytes(ref.uri) == b"one line" and store.exists(ref.uri)
    # The lake resolves the same line: its deltalake options come from the same function. (deltalake's
    # own memory store lives with one table handle, so no table is written here; s3 and gs are.)
    lake = Lake("memory://bucket/lake", {"extra": "x"})
    assert lake.root == "memory://bucket/lake" and not lake.is_local
    assert lake.storage_options == {"MEMORY_REGION": "lab-1", "EXTRA": "x"}
    assert lake.table_uri("cells") == "memory://bucket/lake/cells"


def test_s3_env_reaches_both_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(OPTIONS_ENV, '{"anon": false}')
    got = resolve_storage("s3://bucket/prefix", fsspec_overrides={"key": "k2"})
    assert got.fsspec["endpoint_url"] == "http://127.0.0.1:9000" and got.fsspec["key"] == "k2"
    assert got.fsspec["secret"] == "s" and got.fsspec["anon"] is False
    assert got.delta == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "eu-west-1",
        "AWS_ALLOW_HTTP": "true",
    }
