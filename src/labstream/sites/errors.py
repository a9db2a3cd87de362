"""Errors of the sites package: a refused placement names the rule that refused it and what to do."""

from __future__ import annotations

from labstream.core.errors import ComputeError

__all__ = ["PlacementRefused"]


class PlacementRefused(ComputeError):
    """No site and compute class may run the task. `rule` is the hard rule that left no candidate
    ("residency" or "resources"); the message names the task, the rule, what was asked and what to do."""

    def __init__(self, task: str, rule: str, problem: str, hint: str) -> None:
        self.task = task
        self.rule = rule
        self.problem = problem
        self.hint = hint
        super().__init__(f"task {task!r} cannot be placed ({rule}): {problem}; {hint}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.task, self.rule, self.problem, self.hint))
