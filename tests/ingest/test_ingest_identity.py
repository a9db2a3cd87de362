"""A file is what it is (its path under the watched folder) plus what it holds (sha256)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labstream.core.hashing import sha256_bytes
from labstream.ingest import Ingestor, Watcher, event_id_for


def _ident(name: str) -> str:
    """The identity ingest gives a site file: its layout's fields (see ingest.confine.file_identity)."""
    from labstream.layouts import detect

    return detect(name).name


def test_equal_bytes_at_two_identities_are_two_files(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    blank = b"\x00" * 4096  # two blank channels of two sites: identical bytes
    (watched / "P1_A01_s1_w5.tif").write_bytes(blank)
    (watched / "P1_A01_s2_w5.tif").write_bytes(blank)
    w = Watcher(watched, home_ingestor, settle_seconds=0.0, mode="poll")
    w.scan_once()
    assert (w.stats.published, w.stats.duplicate) == (2, 0)
    events = published_events(home_ingestor)
    assert sorted(e.data["identity"] for e in events) == [  # the layout's fields name each file
        _ident("P1_A01_s1_w5.tif"),
        _ident("P1_A01_s2_w5.tif"),
    ]
    assert len({e.id for e in events}) == 2
    assert len({e.refs[0].uri for e in events}) == 1  # content-addressed: stored once
    sha = sha256_bytes(blank)
    for e in events:  # deterministic ids
        assert e.id == event_id_for(sha, e.data["identity"], "default")


def test_same_identity_same_bytes_is_one_file(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    f = watched / "P1_A01_s1_w1.tif"
    f.write_bytes(b"pixels" * 100)
    assert home_ingestor.ingest_file(f, root=watched).status == "published"
    f.unlink()
    f.write_bytes(b"pixels" * 100)  # copied in again
    assert home_ingestor.ingest_file(f, root=watched).status == "duplicate"
    assert len(published_events(home_ingestor)) == 1


def test_new_bytes_at_a_known_identity_are_a_new_version(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in" / "plate1"
    watched.mkdir(parents=True)
    f = watched / "P1_A01_s1_w1.tif"
    f.write_bytes(b"first export")
    w = Watcher(watched.parent, home_ingestor, settle_seconds=0.0, mode="poll")
    w.scan_once()
    f.write_bytes(b"second export, longer")  # re-exported in place
    w.scan_once()
    w.scan_once()
    assert w.stats.published == 2
    first, second = published_events(home_ingestor)
    assert first.data["identity"] == second.data["identity"] == _ident("P1_A01_s1_w1.tif")
    assert "version" not in first.data
    assert second.data["version"] == 2 and second.data["supersedes"] == sha256_bytes(b"first export")
    row = home_ingestor.catalog.get_ingested(second.refs[0].sha256, identity=_ident("P1_A01_s1_w1.tif"))
    assert row is not None and (row.version, row.supersedes, row.status) == (
        2,
        sha256_bytes(b"first export"),
        "published",
    )


def test_rows_from_before_identities_are_adopted_not_reingested(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    f = watched / "P1_A01_s1_w1.tif"
    f.write_bytes(b"old ingest")
    sha = sha256_bytes(b"old ingest")
    cat = home_ingestor.catalog
    assert cat.claim_ingest(sha, path=str(f), size=10)  # a row as written before migration 0004
    cat.mark_published(sha, event_id=event_id_for(sha))
    assert home_ingestor.ingest_file(f, root=watched).status == "duplicate"
    assert cat.get_ingested(sha).identity == _ident("P1_A01_s1_w1.tif")  # type: ignore[union-attr]
    assert published_events(home_ingestor) == []


def test_a_site_file_copied_into_two_folders_is_one_file(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    """Identity is what the file is (its layout's plate/well/site/channel), not where it was copied."""
    watched = tmp_path / "in"
    for sub in ("a", "b"):
        (watched / sub).mkdir(parents=True)
        (watched / sub / "P1_A03_s1_w1.tif").write_bytes(b"\x01" * 4096)
    (watched / "a" / "notes.txt").write_text("x")
    (watched / "b" / "notes.txt").write_text("x")  # no layout names it: its path is its identity
    w = Watcher(watched, home_ingestor, settle_seconds=0.0, mode="poll")
    w.scan_once()
    assert (w.stats.published, w.stats.duplicate) == (3, 1)
    assert sorted(e.data["identity"] for e in published_events(home_ingestor)) == [
        "a/notes.txt",
        "b/notes.txt",
        _ident("P1_A03_s1_w1.tif"),
    ]
