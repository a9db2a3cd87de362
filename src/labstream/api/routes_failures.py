"""Failures a lab can act on, over REST: dead-lettered items with their reasons, scoped to the caller's
projects (an item's project is the one its event names). `labstream replay` re-runs them after a fix."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from labstream.api.deps import ERRORS, ProjectQ, ctx, scope_projects

router = APIRouter(prefix="/api/v1", responses=ERRORS)


class DeadLetterOut(BaseModel):
    dlq_topic: str
    partition: int
    offset: int
    stage: str
    error_type: str
    error: str
    source: str
    event_id: str
    attempts: int
    project: str
    replayed: bool


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def dead_letters(request: Request, project: str | None = ProjectQ()) -> list[DeadLetterOut]:
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
    return [DeadLetterOut(**d.to_dict()) for d in items if d.project in scope]
