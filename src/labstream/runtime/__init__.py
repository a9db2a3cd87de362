"""Runtime: stages on the stream, run on executors, committed exactly once into the lake, with lineage.

runner = PipelineRunner(Settings(), pipeline)          # executor from settings.executor_url
runner.run_until_idle(timeout=60)                      # or run_forever(stop_event)
walk(runner.catalog, row_or_lineage_id_or_uri)         # back to the instrument file
"""

from labstream.runtime.lineage import walk
from labstream.runtime.runner import PipelineRunner
from labstream.runtime.stage import GatherSpec, Pipeline, Stage, StageOutput, TaskContext
from labstream.runtime.worker import StageWorker

__all__ = [
    "GatherSpec",
    "Pipeline",
    "PipelineRunner",
    "Stage",
    "StageOutput",
    "StageWorker",
    "TaskContext",
    "walk",
]
