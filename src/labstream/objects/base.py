"""The object-store contract: a content-addressed raw zone plus derived zones, over fsspec.

Contract:
- `put_bytes` / `put_file` into the raw zone store content at `raw/sha256/<ab>/<cd>/<sha256>[suffix]`;
  putting the same content twice returns the same ObjectRef and writes nothing the second time.
- Every put is atomic: a reader sees the whole object or nothing (write to a temporary name, then move).
- `put_derived(relpath, data)` writes a named, overwritable object under `derived/` (reports, BAMs).
- `get_bytes(uri)` on a raw object verifies its sha256 and raises IntegrityError on mismatch.
- URIs returned are absolute in the store's scheme (`file:///…`, `s3://bucket/…`).
- `encrypts` says whether stored bytes differ from the caller's (an encrypting store): then a ref's
  sha256 is that of the stored ciphertext, and callers must not compare it with a plaintext hash.
- A missing object raises ObjectNotFound (a StorageError and a FileNotFoundError); a store that cannot
  be reached raises StorageError; an unknown URL scheme raises ConfigError naming the known ones
  (`labstream.objects.storage`, the registry shared with the lake).
- Every read confines its URI to the store: another scheme, bucket or prefix, or a `..` segment, raises
  OutsideStore (an InputError) before anything is read.
- `expect_sha256` on a read is a claim check's digest: the bytes are verified against it before they
  are returned (or, for `open` and `local_path`, before the handle or path is given out), and a
  mismatch raises ClaimMismatch (an InputError: the event is quarantined, not retried).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from labstream.core.events import ObjectRef


@runtime_checkable
class ObjectStore(Protocol):
    """Every object-store capability the platform uses; the contract is the module docstring."""

    url: str

    @property
    def encrypts(self) -> bool:
        """True when refs hash stored ciphertext rather than the caller's bytes (governance's store)."""
        ...

    def put_bytes(
        self, data: bytes, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef: ...

    def put_file(
        self, path: str | Path, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef: ...

    def put_derived(
        self, relpath: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> ObjectRef: ...

    def get_bytes(self, uri: str, *, verify: bool = True, expect_sha256: str | None = None) -> bytes: ...

    def open(self, uri: str, *, expect_sha256: str | None = None) -> BinaryIO: ...

    def exists(self, uri: str) -> bool: ...

    def local_path(self, uri: str, *, expect_sha256: str | None = None) -> AbstractContextManager[Path]:
        """A local file with the object's bytes (the object itself for file://, a temp copy otherwise)."""

    def delete(self, uri: str) -> None: ...
