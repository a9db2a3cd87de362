"""Identifiers that cross the trust boundary: one validator for the CLI, the API, ingest and the stream.

Why one place: a sample, project or event id ends up in file names, lake partitions, SQL filters and
URLs. If each face checked names its own way, one of them would let `../../escape` or a 10 MB string
through. An identifier here is 1 to 128 characters of letters, digits, `.`, `_`, `-` and `:`, starting
with a letter or digit, so it can never be a path (`/`, `..` first), an option (`-x`) or hidden (`.x`).
"""

from __future__ import annotations

import re

from labstream.core.errors import InputError

MAX_IDENTIFIER = 128
MAX_KEY = 512
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _shown(value: object) -> str:
    """A short, safe rendering of a rejected value (never the whole of a huge or binary input)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_identifier(value: object, *, what: str, source: str | None = None) -> str:
    """Return `value` if it is an identifier (see the module docstring), else raise InputError."""
    if not isinstance(value, str) or not IDENTIFIER_RE.match(value) or ".." in value:
        raise InputError(
            source or what,
            f"{what} {_shown(value)} is not a valid identifier",
            hint="use 1-128 letters, digits, '.', '_', '-' or ':', starting with a letter or digit",
        )
    return value


def check_key(value: object, *, what: str = "key", source: str | None = None) -> str:
    """A partitioning key: any text up to MAX_KEY characters without control characters."""
    if not isinstance(value, str) or len(value) > MAX_KEY or _CONTROL_RE.search(value):
        raise InputError(
            source or what,
            f"{what} {_shown(value)} is not valid",
            hint=f"use at most {MAX_KEY} printable characters",
        )
    return value


def check_sha256(value: object, *, source: str | None = None) -> str:
    """A lowercase hex sha256 digest."""
    if not isinstance(value, str) or not SHA256_RE.match(value):
        raise InputError(
            source or "sha256",
            f"sha256 {_shown(value)} is not a 64-character lowercase hex digest",
            hint="send the digest of the stored bytes",
        )
    return value


def is_identifier(value: object) -> bool:
    return isinstance(value, str) and bool(IDENTIFIER_RE.match(value)) and ".." not in value


__all__ = [
    "IDENTIFIER_RE",
    "MAX_IDENTIFIER",
    "MAX_KEY",
    "check_identifier",
    "check_key",
    "check_sha256",
    "is_identifier",
]
