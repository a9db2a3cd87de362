"""Content-addressed blobs (weights, test inputs): `<root>/sha256/<ab>/<digest>`, written once, read verified.

A blob is written under a temporary name and renamed, so a reader never sees half a file; reading
re-hashes the bytes and raises IntegrityError on a mismatch, so a tampered or truncated file is detected
at every use, not only by `labstream models verify`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from labstream.core.errors import IntegrityError, StorageError


class BlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        dest = self.path(digest)
        if dest.exists() and hashlib.sha256(dest.read_bytes()).hexdigest() == digest:
            return digest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".blob-", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        p = self.path(sha256)
        try:
            data = p.read_bytes()
        except FileNotFoundError as err:
            raise StorageError(
                f"{p}: blob sha256:{sha256[:16]}… is missing; restore the registry's blob folder"
            ) from err
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise IntegrityError(
                f"{p}: content hashes to sha256:{got[:16]}…, not the registered sha256:{sha256[:16]}…; "
                "the file was changed: restore it from a backup or register the model again"
            )
        return data


__all__ = ["BlobStore"]
