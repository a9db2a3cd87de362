"""Object-store contract, run on file:// and on s3:// against a real S3 API server (moto)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from labstream.core.errors import ConfigError, InputError, IntegrityError
from labstream.objects import ObjectStore, open_store
from labstream.objects import fsspec_store as fs_mod
from labstream.objects.errors import ObjectNotFound
from labstream.objects.fsspec_store import FsspecStore


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FsspecStore:
    if request.param == "file":
        return FsspecStore(f"file://{tmp_path / 'objects'}")
    bucket_url = request.getfixturevalue("s3_bucket_url")
    return FsspecStore(f"{bucket_url}/lab")


def count_final_writes(store: FsspecStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every write that lands at a final name (rename on file://, PUT on s3://)."""
    calls: list[str] = []
    if store.local:
        real = os.replace
        monkeypatch.setattr(fs_mod.os, "replace", lambda a, b: (calls.append(str(b)), real(a, b))[1])
    else:
        for name in ("pipe_file", "put_file"):
            real_m = getattr(store.fs, name)
            monkeypatch.setattr(
                store.fs, name, lambda *a, _m=real_m, **k: (calls.append(a[0]), _m(*a, **k))[1]
            )
    return calls


def test_store_keeps_the_protocol(store: FsspecStore) -> None:
    assert isinstance(store, ObjectStore)
    assert store.url.startswith(("file:///", "s3://"))


def test_put_bytes_is_content_addressed_and_round_trips(store: FsspecStore) -> None:
    data = os.urandom(4096)
    ref = store.put_bytes(data, suffix=".tif", media_type="image/tiff")
    sha = hashlib.sha256(data).hexdigest()
    assert ref.sha256 == sha and ref.size == len(data) and ref.media_type == "image/tiff"
    assert ref.uri == f"{store.url}/raw/sha256/{sha[:2]}/{sha[2:4]}/{sha}.tif"
    assert store.exists(ref.uri)
    assert store.get_bytes(ref.uri) == data
    assert store.get(ref) == data
    with store.open(ref.uri) as fh:
        assert fh.read() == data
    assert list(store.iter_raw()) == [ref.uri]


def test_same_content_is_written_once(store: FsspecStore, tmp_path: Path, monkeypatch) -> None:
    writes = count_final_writes(store, monkeypatch)
    data = b"plate 7 site 3 " * 1000
    first = store.put_bytes(data)
    assert len(writes) == 1
    src = tmp_path / "copy.bin"
    src.write_bytes(data)
    again = [store.put_bytes(data), store.put_file(src)]
    assert all(r.uri == first.uri and r.sha256 == first.sha256 for r in again)
    assert len(writes) == 1, writes
    other = store.put_bytes(data + b"!")
    assert other.uri != first.uri and len(writes) == 2
    assert len(list(store.iter_raw())) == 2


def test_put_file_streams_and_names_bad_input(store: FsspecStore, tmp_path: Path) -> None:
    src = tmp_path / "reads.fastq"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # more than one hashing chunk
    ref = store.put_file(src, suffix=".fastq", media_type="text/x-fastq")
    assert ref.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert store.get_bytes(ref.uri) == src.read_bytes()
    missing = tmp_path / "gone.fastq"
    with pytest.raises(InputError) as err:
        store.put_file(missing)
    assert str(missing) in str(err.value) and "not found" in str(err.value)
    with pytest.raises(InputError, match="directory"):
        store.put_file(tmp_path)


def test_corrupted_raw_object_fails_verification(store: FsspecStore) -> None:
    ref = store.put_bytes(b"the real bytes")
    store.fs.pipe_file(store.path_of(ref.uri), b"tampered bytes")  # same size, different content
    with pytest.raises(IntegrityError, match=ref.sha256):
        store.get_bytes(ref.uri)
    with pytest.raises(IntegrityError):
        store.get(ref)
    with pytest.raises(IntegrityError), store.local_path(ref.uri):
        pass
    assert store.get_bytes(ref.uri, verify=False) == b"tampered bytes"


def test_derived_objects_overwrite_and_verify_on_request(store: FsspecStore) -> None:
    a = store.put_derived("reports/sample-1/report.html", b"<p>v1</p>", "text/html")
    b = store.put_derived("reports/sample-1/report.html", b"<p>v2</p>", "text/html")
    assert a.uri == b.uri == f"{store.url}/derived/reports/sample-1/report.html"
    assert store.get_bytes(b.uri) == b"<p>v2</p>"
    with pytest.raises(IntegrityError):
        store.get_bytes(b.uri, expect_sha256=a.sha256)
    assert store.get(b) == b"<p>v2</p>"
    for bad in ("../escape", "/abs/path", "a/../../b", ""):
        with pytest.raises(ValueError):
            store.put_derived(bad, b"x")


def test_local_path_gives_a_real_file(store: FsspecStore) -> None:
    ref = store.put_bytes(b">chrM\nACGT\n", suffix=".fa")
    with store.local_path(ref.uri) as p:
        assert p.is_file() and p.read_bytes() == b">chrM\nACGT\n" and p.name.endswith(".fa")
        held = p
    assert held.exists() == store.local  # remote objects get a temporary copy, removed afterwards


def test_missing_objects_and_delete(store: FsspecStore) -> None:
    ref = store.put_bytes(b"short-lived")
    store.delete(ref.uri)
    store.delete(ref.uri)  # idempotent
    assert not store.exists(ref.uri)
    with pytest.raises(ObjectNotFound) as err:
        store.get_bytes(ref.uri)
    assert isinstance(err.value, FileNotFoundError) and ref.uri in str(err.value)
    with pytest.raises(ObjectNotFound), store.local_path(ref.uri):
        pass


def test_concurrent_puts_of_one_content_leave_one_whole_object(store: FsspecStore) -> None:
    data = os.urandom(256 * 1024)
    refs, errors = [], []

    def put() -> None:
        try:
            refs.append(store.put_bytes(data))
        except Exception as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len({r.uri for r in refs}) == 1
    assert store.get_bytes(refs[0].uri) == data
    assert list(store.iter_raw()) == [refs[0].uri]


def test_failed_local_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FsspecStore(str(tmp_path / "objects"))  # a bare path means file://

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fs_mod.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put_bytes(b"half written")
    src = tmp_path / "in.bin"
    src.write_bytes(b"also half written")
    with pytest.raises(OSError, match="disk full"):
        store.put_file(src)
    leftovers = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert leftovers == []
    monkeypatch.undo()
    ref = store.put_bytes(b"half written")
    assert store.get_bytes(ref.uri) == b"half written"


def test_open_store_and_bad_urls(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/o")
    assert isinstance(store, FsspecStore) and store.url == f"file://{tmp_path}/o"
    with pytest.raises(ConfigError, match="no path or bucket"):
        FsspecStore("s3://")
    with pytest.raises(ConfigError):
        FsspecStore("nosuchproto://x/y")
    with pytest.raises(ValueError, match="suffix"):
        store.put_bytes(b"x", suffix="/../../etc")


@pytest.mark.integration
def test_s3_options_from_labstream_env(s3_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes reach the store from the URL alone: options travel in LABSTREAM_STORAGE_OPTIONS."""
    bucket = s3_server.create_bucket()
    monkeypatch.setenv(fs_mod.OPTIONS_ENV, json.dumps(s3_server.storage_options))
    ref = open_store(f"s3://{bucket}").put_bytes(b"via env")
    explicit = FsspecStore(f"s3://{bucket}", **s3_server.storage_options)  # skips the instance cache
    assert explicit.get_bytes(ref.uri) == b"via env"
    monkeypatch.setenv(fs_mod.OPTIONS_ENV, "{not json")
    with pytest.raises(ConfigError, match=fs_mod.OPTIONS_ENV):
        open_store(f"s3://{bucket}")


def test_uris_outside_the_store_are_refused(store: FsspecStore, tmp_path: Path) -> None:
    """Claim checks come from other clients: a URI outside the store is never read (issue 11)."""
    from labstream.objects.errors import OutsideStore

    ref = store.put_bytes(b"inside")
    base = ref.uri.split("/raw/sha256/")[0]
    other = "s3://other-bucket/x" if store.local else "file:///etc/hostname"
    bad = [
        other,
        "file:///etc/hostname" if store.local else "s3://other-bucket/raw/x",
        f"{base}/raw/sha256/../../../../../etc/hostname",
        f"{base}/./raw/x",
        f"{base}-sibling/raw/x",
        base,
        "memory://bucket/x",
        f"{base}/raw\\..\\x",
    ]
    if store.local:
        bad.append("/etc/hostname")  # a bare path outside the root
        (Path(store.root) / "link").symlink_to("/etc")
        bad.append(f"{base}/link/hostname")  # a symlink out of the root
    for uri in bad:
        for read in (store.get_bytes, store.open, store.exists):
            with pytest.raises(OutsideStore) as info:
                read(uri)
            assert isinstance(info.value, InputError) and "refused" in str(info.value)
        with pytest.raises(OutsideStore), store.local_path(uri):
            pass


def test_claim_checks_are_verified_on_every_read(store: FsspecStore) -> None:
    """A claim check's sha256 is compared on get_bytes, open and local_path, raw and derived alike."""
    from labstream.objects.errors import ClaimMismatch

    raw = store.put_bytes(b"payload", suffix=".csv")
    derived = store.put_derived("x/y.json", b"{}")
    forged = "b" * 64
    for ref in (raw, derived):
        assert store.get_bytes(ref.uri, expect_sha256=ref.sha256)
        with store.open(ref.uri, expect_sha256=ref.sha256) as fh:
            assert fh.read() in (b"payload", b"{}")
        with store.local_path(ref.uri, expect_sha256=ref.sha256) as p:
            assert p.is_file()
        with pytest.raises(ClaimMismatch, match="claim check says " + forged) as info:
            store.get_bytes(ref.uri, expect_sha256=forged)
        assert info.value.source == ref.uri and isinstance(info.value, InputError)
        with pytest.raises(ClaimMismatch):
            store.open(ref.uri, expect_sha256=forged)
        with pytest.raises(ClaimMismatch), store.local_path(ref.uri, expect_sha256=forged):
            pass


def test_claim_checked_view_verifies_refs_of_the_task(store: FsspecStore) -> None:
    from labstream.core.events import ObjectRef
    from labstream.objects.claimcheck import ClaimCheckedStore
    from labstream.objects.errors import ClaimMismatch

    good = store.put_bytes(b"good")
    derived = store.put_derived("state.json", b"{}")
    view = ClaimCheckedStore(store, [good, ObjectRef(derived.uri, "c" * 64)])
    assert view.get_bytes(good.uri) == b"good"
    for read in (view.get_bytes, view.open):
        with pytest.raises(ClaimMismatch):
            read(derived.uri)
    with pytest.raises(ClaimMismatch), view.local_path(derived.uri):
        pass
    twice = ClaimCheckedStore(store, [good, ObjectRef(good.uri, "d" * 64)])
    with pytest.raises(ClaimMismatch, match="two input events"):
        twice.get_bytes(good.uri)
