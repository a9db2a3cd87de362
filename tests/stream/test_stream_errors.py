"""The stream's failure errors: one message form (URL, what failed, cause, what to do), their fields kept."""

from __future__ import annotations

from labstream.core.errors import StreamError
from labstream.stream.errors import CommitError, PublishError


def test_publish_and_commit_errors_name_the_url_the_cause_and_what_to_do() -> None:
    p = PublishError("kafka://b:9092", 3, "broker unreachable")
    assert str(p) == (
        "kafka://b:9092: 3 buffered record(s) could not be written (broker unreachable); "
        "treat them as unpublished and publish them again"
    )
    assert (p.url, p.count, p.cause) == ("kafka://b:9092", 3, "broker unreachable")
    c = CommitError("sqlite:///s.db", "file_stats", "disk full")
    assert str(c) == (
        "sqlite:///s.db: group 'file_stats' could not commit offsets (disk full); "
        "records since the last commit will be redelivered, keep processing idempotent"
    )
    assert (c.url, c.group, c.cause) == ("sqlite:///s.db", "file_stats", "disk full")
    assert isinstance(p, StreamError) and isinstance(c, StreamError)
