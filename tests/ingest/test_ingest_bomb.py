"""A decompression bomb is refused from its header, naming it, without allocating its pixels."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from labstream.ingest import Ingestor, Watcher

tifffile = pytest.importorskip("tifffile")


def _bomb(path: Path, side: int = 20000) -> None:
    """A side x side 8-bit TIFF of zeros: ~400 KB on disk, 400 MB decoded. Written tile by tile."""
    tile = np.zeros((1024, 1024), np.uint8)
    n = ((side + 1023) // 1024) ** 2
    tifffile.imwrite(
        path,
        data=(tile for _ in range(n)),
        shape=(side, side),
        dtype="uint8",
        tile=(1024, 1024),
        compression="zlib",
    )


def test_bomb_is_quarantined_by_name_and_the_rest_flows(
    tmp_path: Path, home_ingestor: Ingestor, published_events: Callable
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    bomb = watched / "P1_A01_s1_w3.tif"
    _bomb(bomb)
    assert bomb.stat().st_size < 2_000_000
    good = watched / "P1_A01_s1_w1.tif"
    tifffile.imwrite(good, np.ones((64, 64), np.uint16))
    png = watched / "A01_s1_w1.png"  # a PNG header declaring 30000 x 30000
    png.write_bytes(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (30000).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00"
    )
    w = Watcher(watched, home_ingestor, settle_seconds=0.0, mode="poll")
    tracemalloc.start()
    try:
        w.scan_once()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"ingest allocated {peak / 2**20:.0f} MiB"
    assert (w.stats.published, w.stats.quarantined) == (1, 2)
    problems = {Path(q.source).name: q.problem for q in home_ingestor.catalog.list_quarantine()}
    assert set(problems) == {bomb.name, png.name}
    assert "20000 x 20000" in problems[bomb.name] and "30000 x 30000" in problems[png.name]
    assert [e.data["name"] for e in published_events(home_ingestor)] == [good.name]
