"""One SQLAlchemy engine per catalog URL for the ops readers of governance's tables (report versions,
submitted runs, governed objects), reused across refreshes: `labstream watch` refreshes every 5 s and
an engine per refresh opened and closed a connection pool each time.

Engines come from labstream.catalog.engine.make_engine (the SQLite recipe and the fork guard); the few
most recently used URLs are kept (tests and the CLI open many short-lived homes) and the rest disposed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import sqlalchemy as sa

__all__ = ["catalog_engine", "has_table", "release"]

_KEEP = 4
_ENGINES: OrderedDict[str, sa.Engine] = OrderedDict()
_LOCK = threading.Lock()


def catalog_engine(url: str) -> sa.Engine:
    """The shared engine of the catalog at `url`."""
    from labstream.catalog.engine import make_engine

    with _LOCK:
        engine = _ENGINES.pop(url, None) or make_engine(url)
        _ENGINES[url] = engine
        while len(_ENGINES) > _KEEP:
            _, old = _ENGINES.popitem(last=False)
            old.dispose()
        return engine


def release(url: str) -> None:
    """Dispose of the engine of `url`, if kept: a run that ends (`labstream watch`) leaves no connection
    open on its catalog in a process that goes on (the API, a test session, a second run in-process)."""
    with _LOCK:
        engine = _ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


def has_table(engine: sa.Engine, name: str) -> bool:
    return sa.inspect(engine).has_table(name)
