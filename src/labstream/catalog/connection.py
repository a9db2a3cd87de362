"""One catalog database: its engine (SQLite or PostgreSQL), migrations and atomic transactions.

The base of the catalog's stores (`Catalog`, `LineageStore`, `GroupStateStore`): each adds one group of
tables and methods; this holds what they share.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import sqlalchemy as sa

from labstream.catalog import engine as _engine
from labstream.core.closing import Closing
from labstream.core.errors import StorageError
from labstream.core.sqlite_files import sqlite_file_problem


class CatalogConnection(Closing):
    """An engine that survives fork, with read/write transactions and first-wins inserts."""

    def __init__(self, url: str, **engine_kw: Any) -> None:
        self.url = _engine.normalize_url(url)
        self.engine = _engine.make_engine(self.url, **engine_kw)
        self.dialect = self.engine.dialect.name

    def __repr__(self) -> str:
        return f"Catalog({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- lifecycle ---------------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> Self:
        """Migrate; a catalog file SQLite cannot use is one StorageError naming it (never a traceback
        from deep inside Alembic)."""
        db = self.engine.url.database if self.dialect == "sqlite" else None
        if db and db != ":memory:" and not db.startswith("file:"):
            problem = sqlite_file_problem(db)
            if problem is not None:
                raise _unusable(db, problem)
        try:
            _engine.upgrade(self.engine, revision)
        except sa.exc.DatabaseError as err:
            if not db:
                raise
            if "locked" in str(err.orig):  # busy, not broken: nothing to restore
                raise StorageError(
                    f"catalog database {db} is locked by another connection; stop the other labstream "
                    "process using this home (or let it finish) and run again"
                ) from err
            raise _unusable(db, f"cannot be opened ({err.orig})") from err
        return self

    def current_revision(self) -> str | None:
        return _engine.current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{_engine.WRITE: True})
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as err:
            raise StorageError(
                f"catalog {self!r} failed: {err.orig}; is the database reachable and "
                "migrated (Catalog.upgrade())?"
            ) from err
        except sa.exc.DatabaseError as err:  # "file is not a database", "disk image is malformed"
            raise _unusable(str(self.engine.url.database or self.url), f"failed ({err.orig})") from err

    def _inserted(self, conn: sa.Connection, model: Any, row: dict[str, Any]) -> bool:
        """Insert unless a unique constraint is hit; True if this call inserted the row.

        RETURNING tells, not rowcount: drivers report -1 for statements that return rows."""
        stmt = self._insert_ignore(model).values(**row).returning(model.id)
        return conn.execute(stmt).first() is not None

    def _insert_ignore(self, model: type[Any]) -> Any:
        """INSERT that skips rows violating a unique constraint (atomic first-wins)."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:  # pragma: no cover - only sqlite and postgresql are supported
            raise StorageError(f"catalog dialect {self.dialect} is not supported; use sqlite or postgresql")
        return insert(model).on_conflict_do_nothing()


def _unusable(path: str, problem: str) -> StorageError:
    return StorageError(
        f"catalog database {path} {problem}; restore it from a backup, or move it aside and start "
        "again: the ingest's start-up check rebuilds the ingest claims from the stream"
    )
