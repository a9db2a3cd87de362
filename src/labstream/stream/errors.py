"""Errors of the stream backends; all are StreamError so callers catch one thing.

StreamError (labstream.core.errors)
 ├── PublishError     records could not be made durable (flush failed); republish them
 ├── CommitError      a consumer-group offset could not be stored; expect redelivery
 └── StreamClosed     the stream or consumer was used after close()
"""

from __future__ import annotations

from labstream.core.errors import StreamError


class _BackendFailure(StreamError):
    """The backend at `url` failed one operation because of `cause`: the message says what was lost
    and what to do, in one form for every such error."""

    def __init__(self, url: str, cause: str, failed: str, todo: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"{url}: {failed} ({cause}); {todo}")


class PublishError(_BackendFailure):
    """Publishing failed; none of the records not yet flushed may be assumed written."""

    def __init__(self, url: str, count: int, cause: str) -> None:
        self.count = count
        failed = f"{count} buffered record(s) could not be written"
        super().__init__(url, cause, failed, "treat them as unpublished and publish them again")


class CommitError(_BackendFailure):
    """An offset commit failed; the records after the last good commit will be delivered again."""

    def __init__(self, url: str, group: str, cause: str) -> None:
        self.group = group
        failed = f"group {group!r} could not commit offsets"
        todo = "records since the last commit will be redelivered, keep processing idempotent"
        super().__init__(url, cause, failed, todo)


class StreamClosed(StreamError):
    """The stream or consumer was used after close()."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is closed; open a new one with labstream.stream.open_stream(url)")
