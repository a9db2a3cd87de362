"""The watched folder is a trust boundary: links and `..` never lead out of it, modes never widen."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from labstream.ingest import Ingestor, Watcher
from labstream.ingest.confine import check_confined, file_identity


def _raw_objects(ing: Ingestor) -> list[Path]:
    return [Path(ing.store.path_of(u)) for u in ing.store.iter_raw()]


def test_symlink_out_of_the_folder_is_refused_and_never_read(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    secret = tmp_path / "shadow"
    secret.write_bytes(b"root:$6$secret-hash:19000::::::\n")
    secret.chmod(0o600)
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "P9_A01_s1_w1.tif").write_bytes(b"not ours")
    watched = tmp_path / "in"
    watched.mkdir()
    (watched / "x.txt").symlink_to(secret)
    (watched / "linked").symlink_to(outside_dir, target_is_directory=True)
    good = watched / "P1_A01_s1_w1.tif"
    good.write_bytes(b"pixels" * 50)
    w = Watcher(watched, home_ingestor, settle_seconds=0.0, mode="poll")
    w.scan_once()
    w.scan_once()  # a rescan refuses nothing twice and ingests nothing new
    assert (w.stats.published, w.stats.quarantined) == (1, 2)
    events = published_events(home_ingestor)
    assert [e.data["name"] for e in events] == [good.name]
    for obj in _raw_objects(home_ingestor):
        assert b"secret-hash" not in obj.read_bytes() and b"not ours" not in obj.read_bytes()
    problems = {Path(q.source).name: q.problem for q in home_ingestor.catalog.list_quarantine()}
    assert "symbolic link leading outside" in problems["x.txt"]
    assert "symbolic link" in problems["linked"]
    for kept in home_ingestor.quarantine_dir.glob("*"):
        assert b"secret-hash" not in kept.read_bytes()


def test_link_inside_the_folder_is_refused_too(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    real = watched / "P1_A01_s1_w1.tif"
    real.write_bytes(b"pixels" * 50)
    (watched / "P1_A01_s1_w2.tif").symlink_to(real)
    w = Watcher(watched, home_ingestor, settle_seconds=0.0, mode="poll")
    w.scan_once()
    assert (w.stats.published, w.stats.quarantined) == (1, 1)
    (q,) = home_ingestor.catalog.list_quarantine()
    assert q.source.endswith("P1_A01_s1_w2.tif") and "inside the watched folder" in q.problem


def test_dotdot_and_outside_paths_are_refused(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"outside")
    res = home_ingestor.ingest_file(watched / ".." / "outside.txt", root=watched)
    assert res.status == "quarantined" and "'..'" in (res.error or "")
    res = home_ingestor.ingest_file(outside, root=watched)
    assert res.status == "quarantined" and "outside the watched folder" in (res.error or "")
    assert published_events(home_ingestor) == []
    assert file_identity(watched, watched / "a" / "b.tif") == "a/b.tif"


def test_a_parent_folder_swapped_for_a_link_is_refused(tmp_path: Path) -> None:
    watched = tmp_path / "in"
    (watched / "plate").mkdir(parents=True)
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "f.tif").write_bytes(b"x")
    (watched / "plate").rmdir()
    (watched / "plate").symlink_to(tmp_path / "evil", target_is_directory=True)
    try:
        check_confined(watched, watched / "plate" / "f.tif")
    except Exception as err:  # InputError
        assert "plate" in str(err) and "symbolic link" in str(err)
    else:  # pragma: no cover
        raise AssertionError("a path through a linked folder was accepted")


def test_stored_objects_never_get_wider_permissions(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    private = watched / "P1_A01_s1_w1.tif"
    private.write_bytes(b"private" * 10)
    private.chmod(0o600)
    public = watched / "P1_A01_s1_w2.tif"
    public.write_bytes(b"public" * 10)
    public.chmod(0o644)
    for p in (private, public):
        assert home_ingestor.ingest_file(p, root=watched).status == "published"
    modes = {}
    for ev in published_events(home_ingestor):
        obj = Path(home_ingestor.store.path_of(ev.refs[0].uri))
        modes[ev.data["name"]] = stat.S_IMODE(os.stat(obj).st_mode)
    assert modes[private.name] & 0o077 == 0  # no wider than its 0600 source
    assert modes[public.name] & 0o007 == 0  # the raw zone is not world-readable
    shard = Path(home_ingestor.store.path_of(home_ingestor.store.raw_uri("0" * 64))).parent.parent.parent
    assert stat.S_IMODE(os.stat(shard).st_mode) & 0o007 == 0  # raw/sha256: no listing for others
