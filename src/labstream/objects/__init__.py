"""Object store over fsspec: content-addressed raw zone, derived zone; file:// and s3://."""

from __future__ import annotations

from labstream.objects.base import ObjectStore


def open_store(url: str, **storage_options: object) -> ObjectStore:
    from labstream.objects.fsspec_store import FsspecStore

    return FsspecStore(url, **storage_options)


__all__ = ["ObjectStore", "open_store"]
