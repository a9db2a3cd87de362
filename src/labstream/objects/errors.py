"""Errors of the object store, under labstream's StorageError.

StorageError
 ├── ObjectNotFound     the URI names no object (also a FileNotFoundError)
 └── IntegrityError     (core) the bytes do not hash to the name they are stored under
"""

from __future__ import annotations

from labstream.core.errors import IntegrityError, StorageError


class ObjectNotFound(StorageError, FileNotFoundError):
    """No object at this URI."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        super().__init__(f"no object at {uri}; check the URI and the store it was written to")


def integrity_error(uri: str, expected: str, actual: str) -> IntegrityError:
    err = IntegrityError(
        f"{uri}: content hashes to sha256 {actual} but {expected} was expected; the object was "
        "corrupted or tampered with: re-ingest it from the instrument file"
    )
    err.uri = uri  # type: ignore[attr-defined]
    err.expected = expected  # type: ignore[attr-defined]
    err.actual = actual  # type: ignore[attr-defined]
    return err


__all__ = ["IntegrityError", "ObjectNotFound", "StorageError", "integrity_error"]
