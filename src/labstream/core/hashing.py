"""Streaming sha256, the identity of every raw object (content addressing, idempotency keys)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_stream(fh: BinaryIO) -> tuple[str, int]:
    """Hash a file object in bounded memory; returns (hexdigest, size)."""
    h = hashlib.sha256()
    size = 0
    while chunk := fh.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def sha256_file(path: str | Path) -> tuple[str, int]:
    with open(path, "rb") as fh:
        return sha256_stream(fh)


def idempotency_key(stage: str, version: str, input_checksums: list[str]) -> str:
    """Key of a stage run: same stage, version and inputs give the same key, whatever the delivery."""
    h = hashlib.sha256(f"{stage}\0{version}".encode())
    for c in sorted(input_checksums):
        h.update(b"\0" + c.encode())
    return h.hexdigest()
