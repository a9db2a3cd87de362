"""Shared fixtures of the ingest tests: an Ingestor on a fresh home, and the events it published."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labstream.core.events import Event
from labstream.core.settings import Settings
from labstream.ingest import Ingestor


@pytest.fixture
def home_ingestor(tmp_path: Path) -> Iterator[Ingestor]:
    ing = Ingestor(Settings(home=tmp_path / "home"))
    yield ing
    ing.close()


@pytest.fixture
def published_events() -> Callable[[Ingestor], list[Event]]:
    """`published_events(ing)`: every event on the ingest topic, read by a fresh consumer group."""
    return _published_events


def _published_events(ing: Ingestor) -> list[Event]:
    c = ing.stream.consumer(f"reader-{id(ing)}-{len(ing.topic)}", [ing.topic])
    out: list[Event] = []
    while recs := c.poll(timeout=0.5):
        out += [Event.from_json(r.value) for r in recs]
    c.close()
    return out
