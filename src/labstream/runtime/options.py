"""The options a PipelineRunner hands each of its StageWorkers as given (one declaration for both)."""

from __future__ import annotations

from typing import TypedDict

from labstream.runtime.commit import OutputsHook
from labstream.runtime.placing import PlacementCheck, Placer

__all__ = ["WorkerOptions"]


class WorkerOptions(TypedDict, total=False):
    """The StageWorker keyword arguments a PipelineRunner hands every one of its workers as given."""

    batch_size: int
    poll_timeout: float
    backoff_base: float
    backoff_max: float
    store_opener: str
    store_options: dict[str, str] | None
    placement_check: PlacementCheck | None
    on_outputs: OutputsHook | None
    placer: Placer | None
