"""Which pipeline a stage belongs to and its turnaround milestones, read from the contracts.

Lineage records name their stage, not their pipeline: the contracts (labstream.pipelines) are the one
place that says which stages make a pipeline, so ops reads them instead of writing a second list.
Contracts are imported lazily, one at a time until a stage is found, once per process: science
modules are heavy, and a lab running filestats alone should not load them.
"""

from __future__ import annotations

from functools import cache

__all__ = ["INGEST", "StagePipelines", "milestones"]

INGEST = ("ingested", "ingest")


class StagePipelines(dict[str, str]):
    """stage name -> pipeline name ("ingest" -> "ingest"; '' for a stage no contract declares),
    filled from the contracts on first lookup of an unknown stage."""

    def __init__(self) -> None:
        super().__init__(ingest="ingest")
        from labstream.pipelines import names

        self._todo = names()

    def __missing__(self, stage: str) -> str:
        from labstream.pipelines import get_contract

        while self._todo and stage not in self:
            c = get_contract(self._todo.pop(0))
            for s in c.stages():
                self.setdefault(s.name, c.name)
        return super().get(stage, "")

    def get(self, stage: str, default: str = "") -> str:  # type: ignore[override]
        return self[stage] or default


@cache
def milestones(pipeline: str) -> tuple[tuple[str, str], ...]:
    """(milestone, stage) in order, "ingested" first: the contract's `milestones`, or one per stage."""
    from labstream.pipelines import get_contract

    c = get_contract(pipeline)
    declared = c.milestones or tuple((s.name, s.name) for s in c.stages())
    return (INGEST, *declared)
