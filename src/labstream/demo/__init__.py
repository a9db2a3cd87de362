"""Demo wiring in one place: the simulated instruments, ingest, the runtime and the pipelines together.

Nothing here is science, and no science package imports it. `main_job` is `labstream demo` (both
instruments into watched folders, both pipelines on one stream, executor and lake); `phenomics` and
`genomics` hold each pipeline's part (the phenomics streaming demo and summary, the genomics reference
and summary).
"""

from __future__ import annotations

from labstream.demo.genomics import demo_reference
from labstream.demo.main_job import DemoSummary, run_demo
from labstream.demo.phenomics import DemoResult, run_streaming_demo

__all__ = ["DemoResult", "DemoSummary", "demo_reference", "run_demo", "run_streaming_demo"]
