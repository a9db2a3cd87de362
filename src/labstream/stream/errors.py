"""Errors of the stream backends; all are StreamError so callers catch one thing.

StreamError (labstream.core.errors)
 ├── PublishError     records could not be made durable (flush failed); republish them
 ├── CommitError      a consumer-group offset could not be stored; expect redelivery
 └── StreamClosed     the stream or consumer was used after close()
"""

from __future__ import annotations

from labstream.core.errors import StreamError


class PublishError(StreamError):
    """Publishing failed; none of the records not yet flushed may be assumed written."""

    def __init__(self, url: str, count: int, cause: str) -> None:
        self.url = url
        self.count = count
        self.cause = cause
        super().__init__(
            f"{url}: {count} buffered record(s) could not be written ({cause}); "
            "treat them as unpublished and publish them again"
        )


class CommitError(StreamError):
    """An offset commit failed; the records after the last good commit will be delivered again."""

    def __init__(self, url: str, group: str, cause: str) -> None:
        self.url = url
        self.group = group
        self.cause = cause
        super().__init__(
            f"{url}: group {group!r} could not commit offsets ({cause}); "
            "records since the last commit will be redelivered, keep processing idempotent"
        )


class StreamClosed(StreamError):
    """The stream or consumer was used after close()."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is closed; open a new one with labstream.stream.open_stream(url)")
