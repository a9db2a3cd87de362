"""Object store over fsspec: content-addressed raw zone, derived zone; any scheme of the storage
registry (file://, s3://, gs://, ...; see `labstream.objects.storage`)."""

from __future__ import annotations

from labstream.objects.base import ObjectStore
from labstream.objects.storage import STORAGE, StorageOptions, resolve_storage


def open_store(url: str, **storage_options: object) -> ObjectStore:
    """The store at `url`; ConfigError naming the known schemes when `url`'s scheme is not registered."""
    from labstream.objects.fsspec_store import FsspecStore

    return FsspecStore(url, **storage_options)


__all__ = ["STORAGE", "ObjectStore", "StorageOptions", "open_store", "resolve_storage"]
