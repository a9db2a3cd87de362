"""The streaming demo: sites land one by one, rows are queryable right after, hits go back to the lab."""

from __future__ import annotations

from dataclasses import replace

import pytest

from labstream.demo.phenomics import run_streaming_demo


@pytest.mark.slow
def test_streaming_demo_reports_latency_and_feedback(tmp_path, small_spec) -> None:
    res = run_streaming_demo(tmp_path, spec=replace(small_spec, plates=2))
    assert res.sites == len(res.seconds_to_queryable) > 0  # every site visible right after it landed
    assert max(res.seconds_to_queryable) < 30
    assert res.cells > 0 and res.quarantined == 0
    assert [f["plates"] for f in res.feedback][-1] == 2  # the map refreshed when the second plate completed
    assert res.status["phenomics_map"]["processed"] == 2
