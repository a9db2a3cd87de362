"""ClaimCheckedStore: the object store as a stage task sees it, with its input events' claim checks.

Why: a stage function reads its payload by URI (`store.local_path(event.refs[0].uri)`), and the event
came from the stream, where any client can publish. The store confines every URI to itself; this view
adds the other half of the claim check, so that every read of a URI an input event claims is verified
against the sha256 that event promised, without each stage function having to remember to pass it.
Reads of URIs no input event names (a stage's own derived state) get the store's usual checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from labstream.core.events import ObjectRef
from labstream.objects.base import ObjectStore
from labstream.objects.errors import claim_mismatch


class ClaimCheckedStore:
    """Wraps `inner`; reads of a URI in `refs` are verified against that ref's sha256.

    Two refs naming one URI with different digests cannot both be right: reading it raises
    ClaimMismatch (an InputError) naming both."""

    def __init__(self, inner: ObjectStore, refs: Iterable[ObjectRef]) -> None:
        self.inner = inner
        self.url = inner.url
        self.encrypts = inner.encrypts
        self._claims: dict[str, set[str]] = {}
        for ref in refs:
            self._claims.setdefault(ref.uri, set()).add(ref.sha256)

    def claimed(self, uri: str) -> str | None:
        """The sha256 the input events promise for `uri`, or None when no input event names it."""
        digests = self._claims.get(uri)
        if not digests:
            return None
        if len(digests) > 1:
            first, second = sorted(digests)[:2]
            raise claim_mismatch(uri, first, f"{second} (two input events claim different digests)")
        return next(iter(digests))

    # -- reads: verified against the claim --------------------------------------------------------

    def get_bytes(self, uri: str, *, verify: bool = True, expect_sha256: str | None = None) -> bytes:
        return self.inner.get_bytes(uri, verify=verify, expect_sha256=expect_sha256 or self.claimed(uri))

    def open(self, uri: str, *, expect_sha256: str | None = None) -> BinaryIO:
        return self.inner.open(uri, expect_sha256=expect_sha256 or self.claimed(uri))

    def local_path(self, uri: str, *, expect_sha256: str | None = None) -> AbstractContextManager[Path]:
        return self.inner.local_path(uri, expect_sha256=expect_sha256 or self.claimed(uri))

    def exists(self, uri: str) -> bool:
        return self.inner.exists(uri)

    # -- writes: unchanged ------------------------------------------------------------------------

    def put_bytes(
        self, data: bytes, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        return self.inner.put_bytes(data, suffix=suffix, media_type=media_type)

    def put_file(
        self, path: str | Path, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        return self.inner.put_file(path, suffix=suffix, media_type=media_type)

    def put_derived(
        self, relpath: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        return self.inner.put_derived(relpath, data, media_type)

    def delete(self, uri: str) -> None:
        self.inner.delete(uri)


__all__ = ["ClaimCheckedStore"]
