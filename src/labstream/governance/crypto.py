"""Envelope encryption at rest: AES-256-GCM under per-project data keys wrapped by a master key.

Why envelope encryption: the master key (a local key file, or a cloud KMS) never touches the data;
it only wraps the small per-project data keys. Rotating the master key therefore re-wraps a handful
of data keys and re-encrypts no data at all.

Ciphertext format (segmented, so objects of any size stream in bounded memory and ranges can be read):

    b"LSE1" | u8 len(key_id) | key_id | 7-byte nonce prefix | segment*

Each segment is AES-GCM over up to SEGMENT plaintext bytes with nonce = prefix | u32 index | u8 last,
and the header as associated data. Reordering, truncation, extension or any flipped bit fails the
tag check and raises IntegrityError.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from labstream.core.errors import ConfigError, IntegrityError

MAGIC = b"LSE1"
SEGMENT = 64 * 1024
TAG = 16
PREFIX = 7


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted by the master key `master_id` (the only form a data key is stored in)."""

    master_id: str
    blob: bytes


@runtime_checkable
class KeyProvider(Protocol):
    """What a master-key holder does: wrap and unwrap data keys. A cloud KMS implements this too.

    Contract: `unwrap(wrap(k, aad), aad) == k`; a wrong aad or tampered blob raises IntegrityError;
    after `rotate()` new wraps use the new master key while old wraps still unwrap until retired.
    """

    def current_id(self) -> str: ...

    def wrap(self, key: bytes, aad: bytes) -> WrappedKey: ...

    def unwrap(self, wrapped: WrappedKey, aad: bytes) -> bytes: ...

    def rotate(self) -> str: ...

    def retire(self, master_id: str) -> None: ...

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for `purpose` (audit head MAC, pseudonym key) bound to the master key."""

    def key_file(self) -> Path | None:
        """A file executor processes can open to reach the same master keys, or None when the keys
        cannot travel that way (a cloud KMS: register a store opener instead)."""


class LocalKeyFile:
    """Master keys in a JSON file (mode 0600) under the labstream home: the embedded default."""

    def key_file(self) -> Path | None:
        return self.path

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._save(
                {
                    "current": "m1",
                    "keys": {"m1": _b64(secrets.token_bytes(32))},
                    "root": _b64(secrets.token_bytes(32)),
                }
            )
        try:
            self._doc = json.loads(self.path.read_text())
            self._keys = {k: base64.b64decode(v) for k, v in self._doc["keys"].items()}
        except (ValueError, KeyError) as err:
            raise ConfigError(
                f"master key file {self.path} is unreadable ({err}); restore it from backup"
            ) from err

    def _save(self, doc: dict[str, object]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
        os.replace(tmp, self.path)

    def current_id(self) -> str:
        return str(self._doc["current"])

    def wrap(self, key: bytes, aad: bytes) -> WrappedKey:
        mid = self.current_id()
        nonce = secrets.token_bytes(12)
        return WrappedKey(mid, nonce + AESGCM(self._keys[mid]).encrypt(nonce, key, aad))

    def unwrap(self, wrapped: WrappedKey, aad: bytes) -> bytes:
        master = self._keys.get(wrapped.master_id)
        if master is None:
            raise IntegrityError(
                f"data key wrapped by unknown or retired master key {wrapped.master_id!r}; "
                "rotate before retiring a master key"
            )
        try:
            return AESGCM(master).decrypt(wrapped.blob[:12], wrapped.blob[12:], aad)
        except InvalidTag as err:
            raise IntegrityError(
                "wrapped data key failed authentication: it was tampered with or belongs to another project"
            ) from err

    def rotate(self) -> str:
        n = max(int(k[1:]) for k in self._keys) + 1
        mid = f"m{n}"
        self._keys[mid] = secrets.token_bytes(32)
        self._doc["keys"] = {k: _b64(v) for k, v in self._keys.items()}
        self._doc["current"] = mid
        self._save(self._doc)
        return mid

    def retire(self, master_id: str) -> None:
        if master_id == self.current_id():
            raise ConfigError("cannot retire the current master key; rotate first")
        self._keys.pop(master_id, None)
        self._doc["keys"] = {k: _b64(v) for k, v in self._keys.items()}
        self._save(self._doc)

    def derive(self, purpose: str) -> bytes:
        # The root secret is stable across rotations so derived keys (audit MAC, pseudonyms) stay valid.
        return hmac.new(base64.b64decode(self._doc["root"]), purpose.encode(), hashlib.sha256).digest()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


class KeyStore(Protocol):
    """Where wrapped data keys are kept (the catalog in production; a dict in tests)."""

    def get(self, key_id: str) -> WrappedKey | None: ...

    def put(self, key_id: str, wrapped: WrappedKey) -> None: ...

    def ids(self) -> list[str]: ...


class MemoryKeyStore:
    def __init__(self) -> None:
        self._d: dict[str, WrappedKey] = {}

    def get(self, key_id: str) -> WrappedKey | None:
        return self._d.get(key_id)

    def put(self, key_id: str, wrapped: WrappedKey) -> None:
        self._d[key_id] = wrapped

    def ids(self) -> list[str]:
        return sorted(self._d)


class Keyring:
    """Per-project data keys: created on first use, stored only wrapped, re-wrapped on rotation."""

    def __init__(self, provider: KeyProvider, store: KeyStore) -> None:
        self.provider = provider
        self.store = store
        self._cache: dict[str, bytes] = {}

    def key_id(self, project: str) -> str:
        return f"{project}:1"

    def data_key(self, key_id: str, *, create: bool = False) -> bytes:
        if key_id in self._cache:
            return self._cache[key_id]
        wrapped = self.store.get(key_id)
        if wrapped is None:
            if not create:
                raise IntegrityError(f"no data key {key_id!r}; the object was encrypted elsewhere")
            key = AESGCM.generate_key(bit_length=256)
            self.store.put(key_id, self.provider.wrap(key, key_id.encode()))
        else:
            key = self.provider.unwrap(wrapped, key_id.encode())
        self._cache[key_id] = key
        return key

    def rotate_master(self) -> int:
        """Rotate the master key and re-wrap every data key under it; returns how many were re-wrapped."""
        old = {kid: self.data_key(kid) for kid in self.store.ids()}
        self.provider.rotate()
        for kid, key in old.items():
            self.store.put(kid, self.provider.wrap(key, kid.encode()))
        return len(old)

    def cipher(self, project: str) -> ObjectCipher:
        kid = self.key_id(project)
        return ObjectCipher(kid, self.data_key(kid, create=True))

    def decrypt(self, data: bytes, *, source: str = "object") -> bytes:
        kid = header_key_id(data, source=source)
        return ObjectCipher(kid, self.data_key(kid)).decrypt(data, source=source)

    def decrypt_to(self, src: BinaryIO, dst: BinaryIO, *, source: str = "object") -> None:
        """Decrypt a seekable ciphertext file into `dst`, one segment in memory at a time."""
        kid = header_key_id(src.read(5 + 255), source=source)
        src.seek(0)
        for piece in ObjectCipher(kid, self.data_key(kid)).decrypt_stream(src, source=source):
            dst.write(piece)


def header_key_id(data: bytes, *, source: str = "object") -> str:
    if len(data) < 5 or data[:4] != MAGIC:
        raise IntegrityError(f"{source}: not a labstream encrypted object (bad magic)")
    n = data[4]
    return data[5 : 5 + n].decode(errors="replace")


class ObjectCipher:
    """Encrypts and decrypts whole objects under one data key, segment by segment."""

    def __init__(self, key_id: str, key: bytes) -> None:
        self.key_id = key_id
        self._aead = AESGCM(key)
        self._key = key

    def _header(self, prefix: bytes) -> bytes:
        kid = self.key_id.encode()
        return MAGIC + bytes([len(kid)]) + kid + prefix

    def encrypt_stream(self, src: BinaryIO, plaintext_sha256: str) -> Iterator[bytes]:
        """Yield the ciphertext. The nonce prefix is derived from the plaintext hash, so the same content
        in the same project encrypts to the same bytes (content addressing stays idempotent)."""
        prefix = hmac.new(self._key, bytes.fromhex(plaintext_sha256), hashlib.sha256).digest()[:PREFIX]
        header = self._header(prefix)
        yield header
        index = 0
        chunk = src.read(SEGMENT)
        while True:
            nxt = src.read(SEGMENT)
            last = not nxt
            nonce = prefix + struct.pack(">IB", index, int(last))
            yield self._aead.encrypt(nonce, chunk, header)
            if last:
                return
            chunk, index = nxt, index + 1

    def encrypt(self, data: bytes) -> bytes:
        import io

        return b"".join(self.encrypt_stream(io.BytesIO(data), hashlib.sha256(data).hexdigest()))

    def decrypt(self, data: bytes, *, source: str = "object") -> bytes:
        return b"".join(self.decrypt_stream(io.BytesIO(data), source=source))

    def decrypt_stream(self, src: BinaryIO, *, source: str = "object") -> Iterator[bytes]:
        """Yield the plaintext segment by segment from a ciphertext stream, in memory bounded by one
        segment (a many-gigabyte BAM is served without holding it). One segment is read ahead to know
        which one is last, so a truncated object fails its last tag instead of ending early."""
        kid = self.key_id.encode()
        hlen = 5 + len(kid) + PREFIX
        header = src.read(hlen)
        if len(header) < hlen or header_key_id(header, source=source) != self.key_id:
            raise IntegrityError(
                f"{source}: encrypted object is truncated or for another key; restore it from a replica"
            )
        prefix, step = header[-PREFIX:], SEGMENT + TAG
        seg, index = src.read(step), 0
        if len(seg) < TAG:
            raise IntegrityError(f"{source}: encrypted object is truncated; restore it from a replica")
        while True:
            nxt = src.read(step)
            nonce = prefix + struct.pack(">IB", index, int(not nxt))
            try:
                yield self._aead.decrypt(nonce, seg, header)
            except InvalidTag as err:
                raise IntegrityError(
                    f"{source}: ciphertext failed authentication at segment {index}: it was tampered with "
                    "or truncated; do not trust this copy, restore it from a replica"
                ) from err
            if not nxt:
                return
            seg, index = nxt, index + 1
