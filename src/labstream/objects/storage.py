"""Storage by URL scheme: ONE registry for the object store (fsspec) and the lake (deltalake).

Each line of `STORAGE` maps an fsspec scheme to a function that reads the environment and returns the
options of both clients, so the two always reach the same bucket with the same credentials:

    "gs": ("labstream.objects.storage:gcs_options", "gcs"),   # (options function, extra to install)

Adding a scheme is that one line (plus, where its credentials need it, its options function here):
`open_store` and `open_lake` both resolve through `resolve_storage`. Options reach the clients in this
order, later wins:
1. the scheme's options function (standard variables such as `AWS_*`, `GOOGLE_APPLICATION_CREDENTIALS`);
2. fsspec only: `LABSTREAM_STORAGE_OPTIONS`, a JSON object of fsspec options, which worker processes
   inherit, so `open_store(url)` in a stage function reaches the same store;
3. keyword arguments of the caller (`FsspecStore(url, key=...)`, `Lake(url, {"AWS_REGION": ...})`).

The lake needs a scheme deltalake can also write (file, s3/s3a, gs, az/abfs); fsspec's `memory://`
serves the object store only (deltalake's own memory store lives and dies with one table handle).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labstream.core.errors import ConfigError
from labstream.core.registry import load

OPTIONS_ENV = "LABSTREAM_STORAGE_OPTIONS"


@dataclass(frozen=True)
class StorageOptions:
    """What one scheme needs: fsspec keyword arguments and deltalake (object_store) options."""

    fsspec: dict[str, Any]
    delta: dict[str, str]


def local_options(env: Mapping[str, str]) -> StorageOptions:
    return StorageOptions({}, {})


def s3_options(env: Mapping[str, str]) -> StorageOptions:
    """S3 (and S3 APIs such as MinIO) from the usual AWS_* variables, so s3fs and Delta agree.

    Bounded timeouts: a request the server never answers is retried instead of hanging a worker
    forever (seen with an S3 API server under load: a put waited on a response that never came)."""
    fs: dict[str, Any] = {
        "use_listings_cache": False,
        "skip_instance_cache": True,  # a cached instance may hold a session bound to a dead loop/fork
        "config_kwargs": {"connect_timeout": 10, "read_timeout": 20, "retries": {"max_attempts": 5}},
    }
    delta: dict[str, str] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        delta["AWS_ENDPOINT_URL"] = endpoint
        fs["endpoint_url"] = endpoint
    for name, fs_key in (
        ("AWS_ACCESS_KEY_ID", "key"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ):
        if env.get(name):
            delta[name] = fs[fs_key] = env[name]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        delta["AWS_REGION"] = region
        fs["client_kwargs"] = {"region_name": region}
    return StorageOptions(fs, delta)


def gcs_options(env: Mapping[str, str]) -> StorageOptions:
    """Google Cloud Storage: a service-account file from GOOGLE_APPLICATION_CREDENTIALS (else each
    client's default credentials), the project from GOOGLE_CLOUD_PROJECT."""
    fs: dict[str, Any] = {}
    delta: dict[str, str] = {}
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        fs["token"] = delta["GOOGLE_SERVICE_ACCOUNT_PATH"] = env["GOOGLE_APPLICATION_CREDENTIALS"]
    if env.get("GOOGLE_CLOUD_PROJECT"):
        fs["project"] = env["GOOGLE_CLOUD_PROJECT"]
    return StorageOptions(fs, delta)


# scheme -> ("module:options_function", extra that installs its fsspec implementation)
STORAGE: dict[str, tuple[str, str]] = {
    "file": ("labstream.objects.storage:local_options", "core"),
    "s3": ("labstream.objects.storage:s3_options", "core"),
    "s3a": ("labstream.objects.storage:s3_options", "core"),
    "gs": ("labstream.objects.storage:gcs_options", "gcs"),
}


def storage_scheme(url: str) -> str:
    """The registry key of a storage URL; a bare path is the local filesystem."""
    return url.split("://", 1)[0] if "://" in url else "file"


def storage_extra(scheme: str) -> str:
    """The extra that installs the scheme's fsspec implementation (for MissingDependencyError)."""
    return STORAGE[scheme][1]


def resolve_storage(
    url: str,
    fsspec_overrides: Mapping[str, Any] | None = None,
    delta_overrides: Mapping[str, str] | None = None,
) -> StorageOptions:
    """Both clients' options for `url` (see the module docstring for their order).

    Raises ConfigError naming the scheme and the registered ones when the scheme is unknown."""
    scheme = storage_scheme(url)
    options_of = load(STORAGE, f"{scheme}://" if "://" not in url else url, "storage")
    base: StorageOptions = options_of(os.environ)
    fs = {**base.fsspec, **_env_options(), **(fsspec_overrides or {})}
    delta = {**base.delta, **{k.upper(): str(v) for k, v in (delta_overrides or {}).items()}}
    if delta.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        delta.setdefault("AWS_ALLOW_HTTP", "true")
    return StorageOptions(fs, delta)


def _env_options() -> dict[str, Any]:
    raw = os.environ.get(OPTIONS_ENV, "").strip()
    if not raw:
        return {}
    try:
        opts = json.loads(raw)
    except ValueError as err:
        raise ConfigError(f"{OPTIONS_ENV} is not valid JSON ({err}); set it to a JSON object") from err
    if not isinstance(opts, dict):
        raise ConfigError(f"{OPTIONS_ENV} must be a JSON object of fsspec storage options")
    return opts


__all__ = [
    "OPTIONS_ENV",
    "STORAGE",
    "StorageOptions",
    "gcs_options",
    "local_options",
    "resolve_storage",
    "s3_options",
    "storage_extra",
    "storage_scheme",
]
