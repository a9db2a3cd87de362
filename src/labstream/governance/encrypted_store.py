"""EncryptedStore: any ObjectStore, with every object encrypted at rest under its project's data key.

It keeps the ObjectStore contract (same content twice gives the same ref; atomic puts; get verifies),
because the inner store only ever sees ciphertext and the ciphertext of equal content is equal. The
returned ObjectRef's sha256 is that of the stored ciphertext (what the inner store verifies); the
AES-GCM tags then authenticate the plaintext.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from labstream.core.errors import InputError
from labstream.core.events import ObjectRef
from labstream.core.hashing import sha256_file
from labstream.governance.crypto import Keyring
from labstream.objects.base import ObjectStore


class EncryptedStore:
    """Wraps `inner` so raw objects and reports of `project` are AES-256-GCM encrypted at rest.

    Reads of objects whose URI does not end in `.enc` (written before governance was switched on)
    pass through undecrypted; every `.enc` object must authenticate."""

    encrypts = True  # refs hash the ciphertext: callers must not compare them with plaintext hashes

    def __init__(
        self,
        inner: ObjectStore,
        keyring: Keyring,
        project: str,
        on_read: Callable[[str], object] | None = None,
        scratch: Path | None = None,
    ) -> None:
        self.inner = inner
        self.keyring = keyring
        self.project = project
        self.url = inner.url
        self.on_read = on_read  # told the URI of every object read (its last access: catalog.access)
        self.scratch = scratch  # where plaintext temp copies live (the home's, not /tmp); None: tempfile's

    def _encrypt(self, data: bytes) -> bytes:
        return self.keyring.cipher(self.project).encrypt(data)

    def put_bytes(
        self, data: bytes, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        return self.inner.put_bytes(self._encrypt(data), suffix=suffix + ".enc", media_type=media_type)

    def put_file(
        self, path: str | Path, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        digest, _ = sha256_file(path)
        cipher = self.keyring.cipher(self.project)
        with tempfile.TemporaryDirectory(prefix="lse-") as tmp, open(path, "rb") as raw:
            src = _HashingReader(raw)
            out = Path(tmp) / "obj.enc"
            with open(out, "wb") as dst:
                for piece in cipher.encrypt_stream(src, digest):  # type: ignore[arg-type]
                    dst.write(piece)
            if src.hexdigest() != digest:
                raise InputError(
                    str(path),
                    "file changed while it was being encrypted",
                    hint="write to a temporary name and rename when complete",
                )
            return self.inner.put_file(out, suffix=suffix + ".enc", media_type=media_type)

    def put_derived(
        self, relpath: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        return self.inner.put_derived(relpath + ".enc", self._encrypt(data), media_type)

    def get_bytes(self, uri: str, *, verify: bool = True, expect_sha256: str | None = None) -> bytes:
        """Decrypted bytes. The inner store confines `uri` to the store and checks `expect_sha256`
        (a claim check hashes the ciphertext: see the module docstring) before anything is decrypted."""
        data = self.inner.get_bytes(uri, verify=verify, expect_sha256=expect_sha256)
        if self.on_read is not None:
            self.on_read(uri)
        if not uri.endswith(".enc"):
            return data
        return self.keyring.decrypt(data, source=uri)

    def open(self, uri: str, *, expect_sha256: str | None = None) -> BinaryIO:
        """The plaintext as an anonymous temp file (gone when closed): bounded memory for any size."""
        out = tempfile.TemporaryFile(dir=self._scratch())
        try:
            self._decrypt_into(uri, out, expect_sha256)
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out  # type: ignore[return-value]

    def exists(self, uri: str) -> bool:
        return self.inner.exists(uri)

    @contextmanager
    def local_path(self, uri: str, *, expect_sha256: str | None = None) -> Iterator[Path]:
        """A private plaintext temp copy, deleted on exit (the store itself never holds plaintext)."""
        tmp = Path(tempfile.mkdtemp(prefix="lsd-", dir=self._scratch()))
        try:
            path = tmp / Path(uri.removesuffix(".enc")).name
            with open(path, "wb") as out:
                self._decrypt_into(uri, out, expect_sha256)
            yield path
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _scratch(self) -> Path | None:
        if self.scratch is not None:
            self.scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.scratch

    def _decrypt_into(self, uri: str, out: BinaryIO, expect_sha256: str | None) -> None:
        """The inner store confines `uri` and verifies the ciphertext (a claim's digest, a raw object's
        name) in one streaming pass before anything is decrypted; then one segment at a time."""
        with self.inner.local_path(uri, expect_sha256=expect_sha256) as stored, open(stored, "rb") as src:
            if self.on_read is not None:
                self.on_read(uri)
            if uri.endswith(".enc"):
                self.keyring.decrypt_to(src, out, source=uri)  # type: ignore[arg-type]
            else:
                shutil.copyfileobj(src, out)

    def delete(self, uri: str) -> None:
        self.inner.delete(uri)


class _HashingReader:
    """Reads a file while hashing what was read (detects a file that changes between two passes)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._h = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self._h.update(data)
        return data

    def hexdigest(self) -> str:
        return self._h.hexdigest()
