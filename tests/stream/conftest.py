"""Fixtures of the stream contract suite: one `stream_url` per backend (kafka marked integration)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(params=["sqlite", pytest.param("kafka", marks=pytest.mark.integration)])
def stream_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/stream.db?session_timeout_ms=3000"
    return request.getfixturevalue("kafka_url") + "?session_timeout_ms=3000"


@pytest.fixture
def names() -> dict[str, str]:
    """Fresh topic and group names: the Kafka broker is shared by the whole session."""
    tag = uuid.uuid4().hex[:8]
    return {"topic": f"t-{tag}", "topic2": f"u-{tag}", "group": f"g-{tag}", "group2": f"h-{tag}"}
