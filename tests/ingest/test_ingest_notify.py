"""Files are ingested when their writer closes them (OS notifications), not when a pause looks long."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from labstream.ingest import Ingestor, Watcher

pytest.importorskip("watchdog")


def _run(w: Watcher, stop: threading.Event) -> threading.Thread:
    t = threading.Thread(target=w.run, args=(stop,), daemon=True)
    t.start()
    return t


def _wait_for(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def _ident(name: str) -> str:
    """The identity ingest gives a site file: its layout's fields (see ingest.confine.file_identity)."""
    from labstream.layouts import detect

    return detect(name).name


def test_writer_pausing_longer_than_settle_is_ingested_once_at_close(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    w = Watcher(watched, home_ingestor, settle_seconds=0.2, mode="notify")
    stop = threading.Event()
    t = _run(w, stop)
    assert _wait_for(lambda: w.notifier is not None)
    target = watched / "P1_A01_s1_w1.tif"
    half, rest = b"a" * 50_000, b"b" * 50_000
    with open(target, "wb") as fh:
        fh.write(half)
        fh.flush()
        time.sleep(1.0)  # five settle times with the file open and unchanged
        fh.write(rest)
    assert _wait_for(lambda: w.stats.published >= 1)
    time.sleep(0.6)
    stop.set()
    t.join(timeout=10)
    events = published_events(home_ingestor)
    assert len(events) == 1
    assert events[0].refs[0].sha256 == hashlib.sha256(half + rest).hexdigest()
    assert w.stats.published == 1


def test_files_present_at_start_and_renamed_in_use_the_settle_rule(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    (watched / "sub").mkdir(parents=True)
    (watched / "P1_A01_s1_w1.tif").write_bytes(b"already here")
    w = Watcher(watched, home_ingestor, settle_seconds=0.1, mode="notify")
    stop = threading.Event()
    t = _run(w, stop)
    assert _wait_for(lambda: w.stats.published == 1)
    part = watched / "sub" / "P1_A01_s1_w2.tif.part"
    part.write_bytes(b"renamed into place")
    part.rename(watched / "sub" / "P1_A01_s1_w2.tif")
    assert _wait_for(lambda: w.stats.published == 2)
    (watched / "P1_A01_s1_w1.tif").write_bytes(b"rewritten after ingest")  # a new version
    assert _wait_for(lambda: w.stats.published == 3)
    stop.set()
    t.join(timeout=10)
    by_identity = {}
    for e in published_events(home_ingestor):
        by_identity.setdefault(e.data["identity"], []).append(e)
    assert sorted(by_identity) == [
        _ident("P1_A01_s1_w1.tif"),
        _ident("P1_A01_s1_w2.tif"),
    ]
    assert by_identity[_ident("P1_A01_s1_w1.tif")][-1].data["version"] == 2
