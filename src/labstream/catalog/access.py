"""When each object was last read through the platform: the `object_access` table (revision 0007).

    log = AccessLog(engine)
    log.touch(uri)                 # a read: written at most once per object per `resolution_s`
    log.last_access()              # uri -> seconds since the epoch

Why cheap matters: a DRS or htsget read must not wait on a catalog write, and a client reading a BAM
in a thousand ranges must not make a thousand writes. So a process remembers what it wrote and skips
a write within `resolution_s` (10 minutes) of its last one for that object, and the write itself only
moves the time forward by more than that (another process may have written it). Lifecycle rules
filter on it (`last_access_days`), so a time `resolution_s` stale does not change a decision.
A failed write is logged, never raised: recording a read must not fail the read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import sqlalchemy as sa

from labstream.catalog.engine import WRITE
from labstream.catalog.models import ObjectAccessRow

__all__ = ["ACCESS_RESOLUTION_S", "AccessLog"]

log = logging.getLogger(__name__)
ACCESS_RESOLUTION_S = 600.0
_MAX_REMEMBERED = 100_000


class AccessLog:
    def __init__(self, engine: sa.Engine, *, resolution_s: float = ACCESS_RESOLUTION_S) -> None:
        self.engine = engine
        self.resolution_s = resolution_s
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()
        self.writes = 0  # database writes made (for tests and metrics)

    def touch(self, uri: str, now: float | None = None) -> bool:
        """Record a read of `uri`; True when it was written (False: a write within `resolution_s`, by
        this recorder or another, already holds it)."""
        at = time.time() if now is None else now
        with self._lock:
            last = self._written.get(uri)
            if last is not None and at - last < self.resolution_s:
                return False
            if len(self._written) >= _MAX_REMEMBERED:
                self._written.clear()
            self._written[uri] = at
        table = ObjectAccessRow.__table__
        try:
            with self.engine.connect() as con, con.execution_options(**{WRITE: True}).begin():
                wrote = con.execute(
                    sa.update(table)
                    .where(table.c.uri == uri, table.c.last_access < at - self.resolution_s)
                    .values(last_access=at)
                ).rowcount
                if (
                    not wrote
                    and con.execute(sa.select(table.c.uri).where(table.c.uri == uri)).first() is None
                ):
                    wrote = con.execute(sa.insert(table).values(uri=uri, last_access=at)).rowcount
        except sa.exc.SQLAlchemyError as err:  # a concurrent first insert, an old catalog: the read goes on
            log.warning("last access of %s not recorded: %s", uri, err)
            return False
        self.writes += bool(wrote)
        return bool(wrote)

    def last_access(self, uris: Iterable[str] | None = None) -> dict[str, float]:
        """uri -> when it was last read through the platform (only objects ever read)."""
        table = ObjectAccessRow.__table__
        q = sa.select(table.c.uri, table.c.last_access)
        wanted = None if uris is None else list(uris)
        with self.engine.connect() as con:
            if wanted is None:
                return {u: float(t) for u, t in con.execute(q)}
            out: dict[str, float] = {}
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                out.update({u: float(t) for u, t in con.execute(q.where(table.c.uri.in_(part)))})
            return out
