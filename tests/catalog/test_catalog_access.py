"""Last access of objects (catalog revision 0007): at most one write per object per 10 minutes, across
recorders (processes), and never moved back."""

from __future__ import annotations

from pathlib import Path

from labstream.catalog import Catalog
from labstream.catalog.access import AccessLog
from labstream.catalog.engine import make_engine
from labstream.core.settings import Settings


def test_access_is_written_at_most_once_per_object_per_resolution(home: Path) -> None:
    settings = Settings()
    Catalog(settings.catalog_url).upgrade().close()
    engine = make_engine(settings.catalog_url)
    one, two = AccessLog(engine), AccessLog(engine)  # two processes' recorders
    assert one.touch("s3://b/x", now=1000.0) and not one.touch("s3://b/x", now=1000.0 + 599)
    assert not two.touch("s3://b/x", now=1100.0)  # written by the other within 10 minutes: kept
    assert one.last_access() == {"s3://b/x": 1000.0} and one.writes == 1
    assert one.touch("s3://b/x", now=1700.0) and one.last_access(["s3://b/x", "s3://b/y"]) == {
        "s3://b/x": 1700.0
    }
    engine.dispose()
