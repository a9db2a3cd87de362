"""Placement in the runtime: a `placer` for PipelineRunner that puts every task on a site and compute
class with `place()` and runs it on that site's own executor.

    placer = SitePlacer(sites, book, {"screen": ["eu-west-1"], "clinical": ["eu-central-1"]})
    with PipelineRunner(settings, pipeline, placer=placer) as runner: ...
    placer.close()

What placement needs of a task comes from its stage and events: the project's allowed regions (this
mapping, or a callable such as governance's residency; a project it does not know is refused: fail
closed), the stage's ResourceRequest (and `params["gpu_type"]` when it cares), the site holding its
inputs (`event.data["data_site"]`, set by whoever published it, e.g. the edge-to-cloud relay) and the
bytes of its input refs. Each lineage record then carries (site, class, region, cost, reason) under
`request["placement"]` and the site's executor URL. A residency refusal is AccessDenied (the task is
quarantined and dead-lettered with the refusal as its reason); a resources refusal is a ComputeError
(failed, dead-lettered), neither retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from labstream.compute import open_executor
from labstream.compute.base import Executor
from labstream.core.errors import AccessDenied
from labstream.core.events import Event
from labstream.ops.pricebook import PriceBook
from labstream.runtime.placing import TaskPlacement
from labstream.runtime.stage import Stage
from labstream.sites.errors import PlacementRefused
from labstream.sites.model import Site
from labstream.sites.placement import TaskNeeds, place

__all__ = ["SitePlacer"]

Regions = Mapping[str, Iterable[str]] | Callable[[str], Iterable[str]]


class SitePlacer:
    """`placer` hook of PipelineRunner (runtime/placing.py): place() per task, the site's executor."""

    def __init__(
        self,
        sites: Sequence[Site],
        book: PriceBook,
        allowed_regions: Regions,
        *,
        executors: Mapping[str, Executor] | None = None,
    ) -> None:
        """`executors`: an already open executor per site name; the others are opened from the site's
        `executor` URL on first use (and closed by `close`)."""
        self.sites = list(sites)
        self.book = book
        self.allowed_regions = allowed_regions
        self._given = dict(executors or {})
        self._opened: dict[str, Executor] = {}
        self._lock = threading.Lock()

    def regions(self, project: str) -> frozenset[str]:
        if callable(self.allowed_regions):
            return frozenset(self.allowed_regions(project))
        return frozenset(self.allowed_regions.get(project, ()))

    def needs(self, stage: Stage, events: list[Event], lineage_id: str) -> TaskNeeds:
        sites = {str(e.data.get("data_site")) for e in events if e.data.get("data_site")}
        return TaskNeeds(
            name=f"{stage.name}/{lineage_id[:12]}",
            allowed_regions=self.regions(events[0].project),
            request=stage.resources,
            gpu_type=stage.params.get("gpu_type"),
            data_site=sites.pop() if len(sites) == 1 else None,
            input_bytes=sum(r.size for e in events for r in e.refs),
        )

    def executor(self, site: Site) -> Executor:
        with self._lock:
            if site.name in self._given:
                return self._given[site.name]
            if site.name not in self._opened:
                self._opened[site.name] = open_executor(site.executor)
            return self._opened[site.name]

    def __call__(self, stage: Stage, events: list[Event], lineage_id: str) -> TaskPlacement:
        try:
            p = place(self.needs(stage, events, lineage_id), self.sites, self.book)
        except PlacementRefused as err:
            if err.rule == "residency":  # policy, like governance's guard: quarantine, never retried
                raise AccessDenied(str(err)) from err
            raise
        site = next(s for s in self.sites if s.name == p.site)
        return TaskPlacement(p.as_lineage(), self.executor(site), p.executor)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = list(self._opened.values()), {}
        for ex in opened:
            ex.close()
