"""The README's main job, end to end on embedded defaults (smaller instruments than `labstream demo`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.demo import run_demo


@pytest.mark.slow
def test_demo_streams_both_instruments_and_finds_the_planted_biology(tmp_path: Path) -> None:
    seen: list[dict[str, tuple[int, int]]] = []
    summary = run_demo(
        tmp_path / "demo",
        plates=2,
        size=128,
        coverage=20,
        chunks=2,
        executor_url="local?cpu=2",  # spawn, as `labstream demo` runs (a fork flake: see README limits)
        say=lambda _m: None,
        progress=seen.append,
    )
    p, g = summary.phenomics, summary.genomics
    assert summary.ingest["quarantined"] == 0 and summary.ingest["published"] > 0
    assert p["sites"] == seen[-1]["sites measured"][1] and p["failed_sites"] == 0 and p["cells"] > 0
    assert p["plates"] == 2 and p["hits"]
    assert all(h.startswith("C") for h in p["hits"])  # hits are complex members, never controls or nulls
    assert g["f1"]["SNP"] >= 0.95 and g["f1"]["INDEL"] >= 0.9
    assert g["turnaround_s"] > 0 and g["report"].endswith(".html")
    assert all(done == total for done, total in seen[-1].values())
