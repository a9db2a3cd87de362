"""Failures a lab can act on, over REST: dead-lettered items with their reasons, scoped to the caller's
projects (an item's project is the one its event names). `labstream replay` re-runs them after a fix."""

from __future__ import annotations

from fastapi import APIRouter, Request

from labstream.api.deps import ERRORS, ProjectQ, ctx, scope_projects
from labstream.runtime.replay import DeadItem

router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.get("/dead-letters", response_model=list[DeadItem])
def dead_letters(request: Request, project: str | None = ProjectQ()) -> list[DeadItem]:
    """Every dead letter of the caller's projects (or of `project`), with why it failed and whether it
    was replayed."""
    from labstream.runtime.replay import dead_letters as read_dead
    from labstream.stream import open_stream

    scope = set(scope_projects(request, "read", project))
    stream = open_stream(ctx(request).gov.settings.stream_url)
    try:
        items = read_dead(stream)
    finally:
        stream.close()
    return [d for d in items if d.project in scope]
