"""The CLI's progress bars: one look (label, bar, how far, a clock) for every long-running command."""

from __future__ import annotations

from typing import Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bars(
    console: Console,
    label: str = "[bold]{task.description}",
    *,
    done: Literal["count", "percent"] = "count",
    clock: Literal["elapsed", "remaining"] = "elapsed",
) -> Progress:
    """Bars drawn on `console`, left on screen when they finish. `label` formats the task's name;
    `done` shows `n/total` or a percentage; `clock` shows the time spent or the time left."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn() if done == "count" else TaskProgressColumn(),
        TimeElapsedColumn() if clock == "elapsed" else TimeRemainingColumn(),
        console=console,
        transient=False,
    )
