"""Ingest: exactly once per content hash, named errors and quarantine for bad files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.ingest import Ingestor, Watcher


@pytest.fixture
def ingestor(tmp_path: Path) -> Ingestor:
    ing = Ingestor(Settings(home=tmp_path / "home"))
    yield ing
    ing.close()


def _events(ing: Ingestor) -> list[Event]:
    c = ing.stream.consumer("test-reader", [ing.topic])
    out: list[Event] = []
    while recs := c.poll(timeout=0.5):
        out += [Event.from_json(r.value) for r in recs]
    c.close()
    return out


def test_same_content_published_once_across_copies_and_restarts(tmp_path: Path, ingestor: Ingestor) -> None:
    a = tmp_path / "P1_A01_s1_w1.tif"
    a.write_bytes(b"pixels" * 100)
    b = tmp_path / "copy" / "P1_A01_s1_w1.tif"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes())
    assert ingestor.ingest_file(a).status == "published"
    assert ingestor.ingest_file(b).status == "duplicate"
    again = Ingestor(Settings(home=tmp_path / "home"))  # a restart
    assert again.ingest_file(a).status == "duplicate"
    events = _events(ingestor)
    assert len(events) == 1
    ev = events[0]
    assert ev.type == "file.landed" and ev.key == "P1" and ev.data["instrument"] == "microscope"
    assert ingestor.store.get_bytes(ev.refs[0].uri) == a.read_bytes()
    assert ingestor.catalog.get_ingested(ev.refs[0].sha256).duplicate_count == 2
    root = ingestor.catalog.get_lineage(ev.parents[0])
    assert root is not None and root.stage == "ingest" and root.inputs[0].uri.endswith(a.name)


def test_claimed_but_unpublished_is_published_on_retry(tmp_path: Path, ingestor: Ingestor) -> None:
    f = tmp_path / "S1_chunk001_R1.fastq.gz"
    f.write_bytes(b"@r\nACGT\n+\nIIII\n")
    from labstream.core.hashing import sha256_file

    sha, size = sha256_file(f)
    assert ingestor.catalog.claim_ingest(sha, path=str(f), size=size)  # a crash right after the claim
    res = ingestor.ingest_file(f)
    assert res.status == "published"
    assert ingestor.ingest_file(f).status == "duplicate"
    assert [e.key for e in _events(ingestor)] == ["S1"]


def test_bad_files_are_quarantined_with_named_errors(tmp_path: Path, ingestor: Ingestor) -> None:
    empty = tmp_path / "P1_A01_s1_w2.tif"
    empty.write_bytes(b"")
    res = ingestor.ingest_file(empty)
    assert res.status == "quarantined" and str(empty) in res.error and "empty" in res.error
    gone = tmp_path / "P1_A01_s1_w3.tif"
    res = ingestor.ingest_file(gone)
    assert res.status == "quarantined" and "vanished" in res.error
    unreadable = tmp_path / "P1_A01_s1_w4.tif"
    unreadable.write_bytes(b"data")
    os.chmod(unreadable, 0)
    if os.geteuid() == 0:  # root reads anything: make the read itself fail instead
        unreadable.unlink()
        unreadable.mkdir()
    res = ingestor.ingest_file(unreadable)
    assert res.status == "quarantined" and str(unreadable) in res.error
    q = ingestor.catalog.list_quarantine(stage="ingest")
    assert len(q) == 3 and all(r.source for r in q)
    assert (ingestor.quarantine_dir / empty.name).exists()
    good = tmp_path / "P1_A01_s1_w5.tif"
    good.write_bytes(b"fine")
    assert ingestor.ingest_file(good).status == "published"  # the stream keeps flowing
    assert len(_events(ingestor)) == 1


def test_watcher_waits_for_rename_and_stable_size(tmp_path: Path, ingestor: Ingestor) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    tmp = watched / "P2_B02_s1_w1.tif.part"
    tmp.write_bytes(b"half")
    w = Watcher(watched, ingestor, settle_seconds=0.2, poll_interval=0.05)
    assert w.scan_once() == []  # temporary name: ignored
    tmp.rename(watched / "P2_B02_s1_w1.tif")
    growing = watched / "P2_B02_s1_w2.tif"
    growing.write_bytes(b"a")
    stop = threading.Event()

    def grow() -> None:
        for _ in range(5):
            with open(growing, "ab") as fh:
                fh.write(b"b" * 10)
            stop.wait(0.05)

    t = threading.Thread(target=grow)
    t.start()
    stats = w.run(stop, until_idle_seconds=0.8)
    t.join()
    assert stats.published == 2 and stats.quarantined == 0
    events = {e.data["name"]: e for e in _events(ingestor)}
    assert events["P2_B02_s1_w2.tif"].data["size"] == 51  # ingested only once complete
