"""Errors of the object store, under labstream's StorageError.

StorageError
 ├── ObjectNotFound     the URI names no object (also a FileNotFoundError)
 └── IntegrityError     (core) the bytes do not hash to the name they are stored under
InputError (core)
 ├── OutsideStore       a URI outside the store's root (another scheme, bucket, `..`): never read
 └── ClaimMismatch      (also an IntegrityError) the bytes do not hash to the sha256 that a claim
                        check (an event's ref) promised

The last two are InputErrors because they come from what a caller sent (an event, a request): the
worker quarantines and dead-letters the event instead of retrying it.
"""

from __future__ import annotations

from labstream.core.errors import InputError, IntegrityError, StorageError


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


class OutsideStore(InputError):
    """A URI that does not name an object inside this store (made by `outside_store`)."""


class ClaimMismatch(InputError, IntegrityError):
    """The object's bytes are not those its claim check promised (made by `claim_mismatch`).

    Both an InputError (the claim came from a caller: quarantine, no retry) and an IntegrityError (a
    checksum did not match), so code that guards reads with either keeps working."""


def outside_store(uri: str, problem: str) -> OutsideStore:
    return OutsideStore(
        uri[:300],
        f"refused: {problem}",
        hint="a claim check may only name an object of this store; "
        "re-send it with the URI the store returned",
    )


def claim_mismatch(uri: str, expected: str, actual: str) -> ClaimMismatch:
    return ClaimMismatch(
        uri[:300],
        f"content hashes to sha256 {actual} but the claim check says {expected[:64]}",
        hint="the event or the object was forged or corrupted; re-send the event from its producer",
    )


__all__ = [
    "ClaimMismatch",
    "IntegrityError",
    "ObjectNotFound",
    "OutsideStore",
    "StorageError",
    "claim_mismatch",
    "integrity_error",
    "outside_store",
]
