"""Stages: what a science module declares so the runtime can run it on the stream.

A stage consumes one topic, runs `fn` on an executor for each event (or, for a gather stage, for each
complete group of events), writes the rows it returns to lake tables with lineage, stores objects, and
publishes the events it returns to `output_topic`.

`fn` must be a module-level function (picklable for process pools and Dask) taking a TaskContext and
returning a StageOutput. It raises InputError for bad input (the event is quarantined at once, no retry)
and any other exception for failures worth retrying (then the dead-letter topic after max_retries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labstream.core.events import Event, ObjectRef
from labstream.core.resources import ResourceRequest
from labstream.objects.base import ObjectStore


@dataclass
class TaskContext:
    """Everything a stage function may use. Backends are given as URLs so any process can open them."""

    stage: str
    stage_version: str
    events: list[Event]  # one event, or the members of a complete group (gather stages)
    params: dict[str, Any]
    objects_url: str
    lineage_id: str
    scratch_dir: str = ""  # a private temporary folder for this task
    # Optional "module:function" that opens the store instead of open_store (governance: a decrypting
    # store per project). Called as fn(objects_url, project, store_options); a dotted path and plain
    # strings so it crosses process pools and Dask by value.
    store_opener: str = ""
    store_options: dict[str, str] = field(default_factory=dict)
    # Gather stages: True when the group fired on its watermark (GatherSpec.timeout_s) with fewer
    # members than expected; the fn decides what a partial group means (quarantine, partial result).
    partial: bool = False

    @property
    def event(self) -> Event:
        return self.events[0]

    def store(self) -> ObjectStore:
        """The object store, as a view that verifies every read of an input event's claim check
        (URI confined to the store, bytes hashed against the ref's sha256): see objects/claimcheck.py."""
        from labstream.objects.claimcheck import ClaimCheckedStore

        refs = [r for e in self.events for r in e.refs]
        if self.store_opener:
            import importlib

            module, _, attr = self.store_opener.partition(":")
            opener = getattr(importlib.import_module(module), attr)
            return ClaimCheckedStore(
                opener(self.objects_url, self.event.project, dict(self.store_options)), refs
            )
        from labstream.objects import open_store

        return ClaimCheckedStore(open_store(self.objects_url), refs)


@dataclass
class StageOutput:
    rows: dict[str, Any] = field(default_factory=dict)  # table name -> pyarrow.Table | list[dict]
    objects: list[ObjectRef] = field(default_factory=list)  # outputs stored by fn, for lineage
    events: list[Event] = field(default_factory=list)  # published to the stage's output_topic
    metrics: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None
    # Inputs the task skipped as bad while still succeeding with the rest: (source, problem) pairs that
    # the worker records in the catalog's quarantine with the task's lineage (step 3 of the commit).
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    # Inputs read from outside the events (a reference bundle), for lineage: ObjectRef or IORef-like
    inputs: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class GatherSpec:
    """Fire once per group: members share `group_key(event)`; the group is complete when
    `expected(event)` members (by distinct event.data[member_field]) have arrived. The group's size is
    the largest any member states; a member that cannot know it (an Illumina lane before the run's end
    marker was read) states 0, and a group whose members all state 0 waits.

    Watermark: with `timeout_s`, a group still incomplete `timeout_s` seconds after its first member
    was stored fires with the members it has (TaskContext.partial is True), checked on every worker
    step, idle ones included, so a missing member never stalls its group. Members arriving after that
    are stored but do not fire the group again."""

    group_key: Callable[[Event], str]
    expected: Callable[[Event], int]
    member_id: Callable[[Event], str]
    timeout_s: float | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    version: str
    input_topic: str
    fn: Callable[[TaskContext], StageOutput]
    output_topic: str | None = None
    accepts: tuple[str, ...] = ()  # event types handled; others are skipped (committed, not processed)
    instruments: tuple[str, ...] = ()  # if set, only events whose data["instrument"] is one of these
    # if set, only events it returns True for (e.g. reads, not a run folder's index reads or sheet)
    select: Callable[[Event], bool] | None = None
    resources: ResourceRequest = field(default_factory=ResourceRequest)
    params: dict[str, Any] = field(default_factory=dict)
    max_retries: int = 3
    gather: GatherSpec | None = None


@dataclass(frozen=True)
class Pipeline:
    """A graph of stages: edges are topics (a stage's output_topic feeds stages whose input_topic is it)."""

    name: str
    stages: tuple[Stage, ...]

    def topics(self) -> list[str]:
        names: list[str] = []
        for s in self.stages:
            for t in (s.input_topic, s.output_topic):
                if t and t not in names:
                    names.append(t)
        return names

    def downstream(self, stage: Stage) -> list[Stage]:
        return [s for s in self.stages if stage.output_topic and s.input_topic == stage.output_topic]
