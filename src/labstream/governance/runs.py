"""Pipeline runs submitted through the API (REST and GA4GH WES): recorded, placed, announced.

A submission is recorded in the catalog, checked against residency when it names a compute site, and
announced as a `pipeline.submitted` event on the submissions topic for the runtime to pick up.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select

from labstream.core.errors import AccessDenied, ConfigError, InputError
from labstream.core.events import Event
from labstream.governance.auth import Principal
from labstream.governance.models import RunRow
from labstream.governance.run_params import check_params_size, resolved_params
from labstream.governance.service import Governance

SUBMISSIONS_TOPIC = "labstream.submissions"
MAX_INPUTS = 10_000
TERMINAL = {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"}
Announcer = Callable[[Event], None]


def stream_announcer(stream_url: str) -> Announcer:
    """Publish submissions on the platform stream (opened lazily, once)."""
    state: dict[str, Any] = {}

    def announce(event: Event) -> None:
        if "stream" not in state:
            from labstream.stream import open_stream

            state["stream"] = open_stream(stream_url)
            state["stream"].create_topic(SUBMISSIONS_TOPIC, partitions=1)
        state["stream"].publish(SUBMISSIONS_TOPIC, event.to_json(), key=event.key)
        state["stream"].flush()

    return announce


def inbox(settings: Any) -> Path:
    """Where run inputs are taken from: a submission names files relative to this folder only."""
    return Path(settings.home) / "inbox"


def input_names(inputs: Any) -> list[str]:
    """Validate `params.inputs`: a list of relative paths under the inbox (no `..`, not absolute)."""
    if not isinstance(inputs, list) or len(inputs) > MAX_INPUTS:
        raise InputError("inputs", "params.inputs must be a list of file names", hint=f"at most {MAX_INPUTS}")
    out: list[str] = []
    for name in inputs:
        if not isinstance(name, str) or not name or len(name) > 1024 or "\0" in name or "\\" in name:
            raise InputError("inputs", f"invalid input name {str(name)[:80]!r}")
        pure = PurePosixPath(name)
        if pure.is_absolute() or any(part in ("..", "") for part in pure.parts) or name.startswith("~"):
            raise InputError(
                "inputs", f"input {name[:80]!r} is outside the inbox", hint="name files relative to the inbox"
            )
        out.append(name)
    return out


def input_paths(settings: Any, inputs: Any) -> list[Path]:
    """The inbox files a run reads; each must resolve (symlinks included) inside the inbox."""
    root = inbox(settings).resolve()
    paths: list[Path] = []
    for name in input_names(inputs):
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise InputError("inputs", f"input {name!r} resolves outside the inbox")
        if not path.is_file():
            raise InputError(str(name), "no such input file in the inbox")
        paths.append(path)
    return paths


# What a run's params may hold: its inputs (names in the inbox), where it runs, the pipeline's settings,
# and `project` (WES clients may name the project there instead of in tags).
RUN_PARAM_KEYS = frozenset({"inputs", "site", "pipeline_params", "project"})


class Runs:
    def __init__(self, gov: Governance, announce: Announcer | None = None) -> None:
        self.gov = gov
        self.announce = announce

    def submit(
        self,
        who: Principal,
        project: str,
        pipeline: str,
        params: dict[str, Any],
        tags: dict[str, Any] | None = None,
    ) -> RunRow:
        if not who.can("submit", project):
            raise AccessDenied(f"{who.name} may not submit runs in project {project!r}")
        if not pipeline or len(pipeline) > 128:
            raise InputError("run", f"invalid pipeline name {pipeline!r}")
        from labstream.pipelines import get_contract

        check_params_size(params)
        check_params_size(tags or {}, what="tags")
        unknown = sorted(str(k)[:64] for k in params if k not in RUN_PARAM_KEYS)
        if unknown:  # a misplaced setting (`platemap` beside `pipeline_params`) never passes silently
            raise InputError(
                "run",
                f"unknown run parameter(s) {unknown}; a run takes {sorted(RUN_PARAM_KEYS)}: put a "
                "pipeline's settings in `pipeline_params`, naming files by object id",
            )
        given = params.get("pipeline_params")
        # no server paths: checked before the contract, whose file settings would stat a caller's path;
        # the contract sees object ids as the private copies the executor will pass
        with resolved_params(self.gov, project, given) as checked:
            try:  # an unknown pipeline or a mistyped setting is refused now, not when the run starts
                get_contract(pipeline).configure(
                    checked if given is not None else None, source="run parameters"
                )
            except ConfigError as err:
                raise InputError("run", str(err)) from None
        input_names(params.get("inputs", []))  # refuse bad inputs now, not when the run starts
        site = params.get("site")
        if site is not None:
            self.gov.residency.check_placement(project, str(site), actor=who.name, task=f"run of {pipeline}")
        row = RunRow(
            id=uuid.uuid4().hex,
            project=project,
            user=who.name,
            pipeline=pipeline,
            params=params,
            tags=dict(tags or {}),
            state="QUEUED",
        )
        with self.gov.sessions.begin() as s:
            s.add(row)
        if self.announce is not None:
            self.announce(
                Event(
                    type="pipeline.submitted",
                    key=row.id,
                    project=project,
                    data={"run_id": row.id, "pipeline": pipeline, "params": params},
                )
            )
        return row

    def get(self, run_id: str) -> RunRow | None:
        with self.gov.sessions() as s:
            return s.get(RunRow, run_id) if len(run_id) <= 64 else None

    def list(self, projects: list[str], *, offset: int = 0, limit: int = 100) -> list[RunRow]:
        with self.gov.sessions() as s:
            q = (
                select(RunRow)
                .where(RunRow.project.in_(projects))
                .order_by(RunRow.created_at, RunRow.id)
                .offset(offset)
                .limit(limit)
            )
            return list(s.scalars(q))

    def cancel(self, who: Principal, run_id: str) -> RunRow:
        with self.gov.sessions.begin() as s:
            row = s.get(RunRow, run_id)
            if row is None or not who.can("read", row.project):
                raise LookupError(run_id)
            if not who.can("cancel", row.project):
                raise AccessDenied(f"{who.name} may not cancel runs in project {row.project!r}")
            if row.state not in TERMINAL:
                row.state, row.updated_at = "CANCELED", time.time()
            return row
