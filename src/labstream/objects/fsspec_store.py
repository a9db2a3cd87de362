"""FsspecStore: the object store over any fsspec filesystem (file:// by default, s3:// at scale).

Layout under the store URL:
    raw/sha256/<ab>/<cd>/<sha256>[suffix]   content-addressed, write-once, verified on read
    derived/<relpath>                        named, overwritable outputs (reports, BAMs, images)

Storage options (credentials, endpoint) come from the storage registry by URL scheme
(`labstream.objects.storage`), shared with the lake: the scheme's standard environment, then
`LABSTREAM_STORAGE_OPTIONS` (JSON, inherited by worker processes), then keyword arguments:
`FsspecStore("s3://bucket/prefix", endpoint_url=..., key=..., secret=...)`.

Permissions (file://): an object is never readable by more than its source file, and never by
"other": raw objects get the source's mode masked with 0o640 (`RAW_MODE`), objects written from
bytes 0o640, folders 0o750 (then the process umask narrows them further). Instrument files can hold
patient data; a shared machine's other users have no business in the store.

Atomicity: on local-like filesystems a put writes `.<name>.tmp-<uuid>` beside the target, fsyncs it and
renames it into place; on object stores (s3, gcs, az, memory) a single PUT (or a completed multipart
upload) is already atomic, so the object is written in place.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from labstream.core.errors import ConfigError, InputError, MissingDependencyError, StorageError
from labstream.core.events import ObjectRef
from labstream.core.hashing import CHUNK, sha256_bytes
from labstream.objects.errors import (
    ObjectNotFound,
    claim_mismatch,
    integrity_error,
    outside_store,
)
from labstream.objects.storage import OPTIONS_ENV, resolve_storage, storage_extra

RAW_PREFIX = "raw/sha256"
DERIVED_PREFIX = "derived"
_SUFFIX_RE = re.compile(r"^(\.[A-Za-z0-9_+-]{1,32}){0,4}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
RAW_MODE = 0o640  # the widest an object may be: owner read/write, group read, nothing for others
DIR_MODE = 0o750


class FsspecStore:
    """An ObjectStore on one fsspec filesystem, rooted at `url` (see the module docstring)."""

    encrypts = False  # stored bytes are the caller's bytes: a ref's sha256 is the plaintext's

    def __init__(self, url: str, **storage_options: Any) -> None:
        if "://" not in url:  # a bare path means the local filesystem
            url = "file://" + str(Path(url).expanduser().resolve())
        protocol, root = url.split("://", 1)
        if not root.strip("/"):
            raise ConfigError(f"object store URL {url!r} has no path or bucket; use e.g. s3://bucket/prefix")
        options = resolve_storage(url, fsspec_overrides=storage_options).fsspec
        try:
            self.fs: fsspec.AbstractFileSystem = fsspec.filesystem(protocol, **options)
        except ImportError as err:
            raise MissingDependencyError(err.name or protocol, storage_extra(protocol)) from err
        except ValueError as err:
            raise ConfigError(f"cannot open object store {url!r}: {err}") from err
        self.protocol = protocol
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            root = str(Path("/" + root.lstrip("/")).resolve())
            Path(root).mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self.root = root.rstrip("/")
        self.url = f"{protocol}://{self.root}"

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -- names -----------------------------------------------------------------------------------

    def uri(self, path: str) -> str:
        return f"{self.protocol}://{path}"

    def path_of(self, uri: str) -> str:
        """Filesystem path of a URI inside this store (bare paths accepted on file://).

        Confinement: URIs come from events and requests other clients wrote, so a URI of another
        scheme or bucket, with a `..`/`.` segment, or outside the store's root (symlinks resolved on
        file://) raises OutsideStore (an InputError) and is never read."""
        if len(uri) > 4096 or "\x00" in uri or "\\" in uri:
            raise outside_store(uri, "the URI is too long or holds NUL or backslash characters")
        if "://" in uri:
            protocol, path = uri.split("://", 1)
            if protocol != self.protocol and not (self.local and protocol in ("file", "local")):
                raise outside_store(uri, f"{protocol}:// is not this store's scheme ({self.url})")
        elif self.local:
            path = uri
        else:
            raise outside_store(uri, f"not a URI; expected {self.protocol}://...")
        if any(p in (".", "..") for p in path.split("/")):
            raise outside_store(uri, "'.' and '..' segments are not allowed in object URIs")
        path = "/" + path.lstrip("/") if self.local else path.lstrip("/")
        root = self.root if self.local else self.root.lstrip("/")
        inside = path.startswith(root + "/") and len(path) > len(root) + 1
        if inside and self.local:
            inside = os.path.realpath(path).startswith(root + "/")
        if not inside:
            raise outside_store(uri, f"the URI is outside the object store {self.url}")
        return path

    def raw_path(self, sha256: str, suffix: str = "") -> str:
        if not _SHA_RE.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        if not _SUFFIX_RE.match(suffix):
            raise ValueError(f"bad suffix {suffix!r}: use dot-separated extensions such as '.fastq.gz'")
        return f"{self.root}/{RAW_PREFIX}/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"

    def raw_uri(self, sha256: str, suffix: str = "") -> str:
        return self.uri(self.raw_path(sha256, suffix))

    def _raw_sha_of(self, path: str) -> str | None:
        """The sha256 a raw-zone path must hash to, or None for a path outside the raw zone."""
        if f"/{RAW_PREFIX}/" not in "/" + path.lstrip("/"):
            return None
        name = path.rsplit("/", 1)[-1][:64]
        return name if _SHA_RE.match(name) else None

    # -- writes ----------------------------------------------------------------------------------

    def put_bytes(
        self, data: bytes, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        sha = sha256_bytes(data)
        path = self.raw_path(sha, suffix)
        ref = ObjectRef(uri=self.uri(path), sha256=sha, size=len(data), media_type=media_type)
        if not self._present(path, len(data)):
            self._write_bytes(path, data)
        return ref

    def put_file(
        self, path: str | Path, *, suffix: str = "", media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        """Store a local file by content. The bytes hashed are the bytes stored (one pass on file://)."""
        src = Path(path)
        try:
            if self.local:
                return self._put_local_file(src, suffix, media_type)
            sha, size = self._hash_file(src)
            target = self.raw_path(sha, suffix)
            if not self._present(target, size):
                self.fs.put_file(str(src), target)
                if self.fs.size(target) != size:
                    raise StorageError(f"{src} changed while it was uploaded to {self.uri(target)}")
        except FileNotFoundError as err:
            raise InputError(str(src), "file not found (deleted before it was stored?)") from err
        except IsADirectoryError as err:
            raise InputError(str(src), "is a directory, not a file") from err
        except PermissionError as err:
            raise InputError(str(src), "cannot read the file (permission denied)") from err
        return ObjectRef(uri=self.uri(target), sha256=sha, size=size, media_type=media_type)

    def put_derived(
        self, relpath: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> ObjectRef:
        parts = [p for p in relpath.replace("\\", "/").split("/") if p]
        if not parts or relpath.startswith("/") or any(p in (".", "..") for p in parts):
            raise ValueError(f"derived path {relpath!r} must be relative and stay inside the store")
        path = f"{self.root}/{DERIVED_PREFIX}/{'/'.join(parts)}"
        self._write_bytes(path, data)
        return ObjectRef(uri=self.uri(path), sha256=sha256_bytes(data), size=len(data), media_type=media_type)

    def _present(self, path: str, size: int) -> bool:
        """Idempotency check: a raw object of the right size is already there (same name = same hash)."""
        try:
            return int(self.fs.size(path)) == size
        except FileNotFoundError:
            return False

    def _write_bytes(self, path: str, data: bytes) -> None:
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        target = Path(path)
        target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
        try:
            with _create(tmp, RAW_MODE) as fh:  # 1 write a temporary name
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)  # 2 move it into place: readers see all or nothing
        finally:
            tmp.unlink(missing_ok=True)

    def _put_local_file(self, src: Path, suffix: str, media_type: str) -> ObjectRef:
        tmp_dir = Path(self.root) / RAW_PREFIX
        tmp_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        tmp = tmp_dir / f".incoming.tmp-{uuid.uuid4().hex}"
        h, size = hashlib.sha256(), 0
        try:
            with open(src, "rb") as fin, _create(tmp, os.fstat(fin.fileno()).st_mode & RAW_MODE) as fout:
                # 1 copy and hash in one pass, never more readable than the source
                while chunk := fin.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    fout.write(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            sha = h.hexdigest()
            target = self.raw_path(sha, suffix)
            if not self._present(target, size):
                Path(target).parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                os.replace(tmp, target)  # 2 move the verified copy into its content address
        finally:
            tmp.unlink(missing_ok=True)
        return ObjectRef(uri=self.uri(target), sha256=sha, size=size, media_type=media_type)

    @staticmethod
    def _hash_file(src: Path) -> tuple[str, int]:
        h, size = hashlib.sha256(), 0
        with open(src, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size

    # -- reads -----------------------------------------------------------------------------------

    def get_bytes(self, uri: str, *, verify: bool = True, expect_sha256: str | None = None) -> bytes:
        """Read an object. Raw objects are checked against their name; `expect_sha256` (a claim check's
        digest) checks any object and raises ClaimMismatch (an InputError) when the bytes differ."""
        path = self.path_of(uri)
        try:
            data: bytes = self.fs.cat_file(path)
        except FileNotFoundError as err:
            self._missing(uri, err)  # raises, unless an archived object's restore just became readable
            data = self.fs.cat_file(path)
        except PermissionError as err:
            self._if_archived(uri, err)
            raise
        self._verify(uri, path, sha256_bytes(data) if verify or expect_sha256 else "", verify, expect_sha256)
        return data

    def _verify(self, uri: str, path: str, actual: str, verify: bool, expect_sha256: str | None) -> None:
        """The claim (caller's sha256) first, then the raw zone's name: either mismatch refuses."""
        if expect_sha256 is not None and actual != expect_sha256:
            raise claim_mismatch(uri, expect_sha256, actual)
        named = self._raw_sha_of(path) if verify else None
        if named is not None and actual != named:
            raise integrity_error(uri, named, actual)

    def get(self, ref: ObjectRef) -> bytes:
        """Resolve a claim check: the bytes behind `ref`, verified against its sha256."""
        return self.get_bytes(ref.uri, expect_sha256=ref.sha256)

    def open(self, uri: str, *, expect_sha256: str | None = None) -> BinaryIO:
        """A streaming reader. With `expect_sha256` the object is hashed through the same handle
        before it is handed out (rewound), so a reader never sees unverified bytes of a claim check."""
        try:
            fh: BinaryIO = self._open(uri)
            if not self.local:  # s3fs reads lazily: the first block now, so a refusal is said here
                try:
                    fh.read(1)
                    fh.seek(0)
                except BaseException:
                    fh.close()
                    raise
        except FileNotFoundError as err:
            raise ObjectNotFound(uri) from err
        except PermissionError as err:
            self._if_archived(uri, err)
            raise
        if expect_sha256 is not None:
            h = hashlib.sha256()
            try:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
                if h.hexdigest() != expect_sha256:
                    raise claim_mismatch(uri, expect_sha256, h.hexdigest())
                fh.seek(0)
            except BaseException:
                fh.close()
                raise
        return fh

    def _open(self, uri: str) -> BinaryIO:
        try:
            fh: BinaryIO = self.fs.open(self.path_of(uri), "rb")
        except FileNotFoundError as err:
            self._missing(uri, err)
            fh = self.fs.open(self.path_of(uri), "rb")
        return fh

    def _missing(self, uri: str, err: OSError) -> None:
        """Nothing at a local object's path: ObjectArchived when it is in an archive tier (a restore
        is requested), nothing raised when its restore has just been put back, else ObjectNotFound."""
        if self.local and (Path(self.root) / ".tiers").is_dir():
            from labstream.objects.tiers_local import LocalTiers

            tiers = LocalTiers(self)
            archived = tiers.archived_error(uri)
            if archived is not None:
                raise archived from err
            if Path(self.path_of(uri)).is_file():
                return
        raise ObjectNotFound(uri) from err

    def _if_archived(self, uri: str, err: OSError) -> None:
        """A read the server refused: on S3 an archived, unrestored object answers that way, and then
        ObjectArchived says so (a restore is requested; labstream.objects.tiers); else the caller
        re-raises the refusal as it was."""
        if self.protocol in ("s3", "s3a"):
            from labstream.objects.tiers import S3Tiers

            archived = S3Tiers(self).archived_error(uri)
            if archived is not None:
                raise archived from err

    def exists(self, uri: str) -> bool:
        return bool(self.fs.exists(self.path_of(uri)))

    def delete(self, uri: str) -> None:
        """Remove an object; deleting a missing object is not an error (idempotent)."""
        try:
            self.fs.rm_file(self.path_of(uri))
        except FileNotFoundError:
            pass

    @contextmanager
    def local_path(self, uri: str, *, expect_sha256: str | None = None) -> Iterator[Path]:
        """A local file with the object's bytes: the object itself on file://, a verified temp copy else.

        On file:// the object is verified too when it is in the raw zone or `expect_sha256` (a claim
        check's digest) is given (one streaming read)."""
        path = self.path_of(uri)
        check = expect_sha256 is not None or self._raw_sha_of(path) is not None
        if self.local:
            if not Path(path).is_file():
                self._missing(uri, FileNotFoundError(path))
            if check:
                self._verify(uri, path, self._hash_file(Path(path))[0], True, expect_sha256)
            yield Path(path)
            return
        tmp_dir = tempfile.mkdtemp(prefix="labstream-obj-")
        try:
            local = Path(tmp_dir) / path.rsplit("/", 1)[-1]
            try:
                self.fs.get_file(path, str(local))
            except FileNotFoundError as err:
                raise ObjectNotFound(uri) from err
            except PermissionError as err:
                self._if_archived(uri, err)
                raise
            if check:
                self._verify(uri, path, self._hash_file(local)[0], True, expect_sha256)
            yield local
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    def iter_raw(self) -> Iterator[str]:
        """URIs of every raw object (temporary files excluded)."""
        base = f"{self.root}/{RAW_PREFIX}"
        try:
            paths = self.fs.find(base)
        except FileNotFoundError:
            return
        for p in sorted(paths):
            if not p.rsplit("/", 1)[-1].startswith("."):
                yield self.uri(p if not self.local else "/" + p.lstrip("/"))


def _create(path: Path, mode: int) -> BinaryIO:
    """A new file opened for writing, created with `mode` (never the 0o666 of open()); the umask
    can only narrow it further."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb")


__all__ = ["DIR_MODE", "OPTIONS_ENV", "RAW_MODE", "FsspecStore"]
