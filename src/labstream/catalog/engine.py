"""Engines and migrations for the catalog: SQLite (embedded default) and PostgreSQL.

SQLite: WAL journal, a 30 s busy timeout, foreign keys on, and pysqlite's own transaction handling
replaced by explicit BEGIN (SQLAlchemy's documented recipe) so DDL is transactional and writers use
`BEGIN IMMEDIATE`: a writer then waits for the lock instead of failing on a stale read snapshot, which
is what makes concurrent claims from several processes safe.
"""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util.exc import CommandError

from labstream.core.errors import ConfigError
from labstream.core.sqlite_files import opened_by_sqlite

WRITE = "labstream_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
MIGRATION_LOCK = 0x6C616273  # PostgreSQL advisory lock key serialising concurrent upgrades
SCRIPT_LOCATION = "labstream.catalog:migrations"


def normalize_url(url: str) -> str:
    """Accept `postgres://` / `postgresql://` and use the psycopg 3 driver that labstream ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith(("sqlite:", "postgresql+")):
        raise ConfigError(f"catalog URL {url!r} is not sqlite:///PATH or postgresql://USER@HOST/DB")
    return url


_INHERITED: list[Any] = []  # pooled connections a forked child inherited: kept, never used, never closed


def guard_fork(engine: sa.Engine) -> sa.Engine:
    """A forked child must neither use nor close the parent's pooled connections (SQLAlchemy's pooling
    guide; SQLite's "how to corrupt": a connection carried across fork). `dispose(close=False)` alone
    is not enough: the dropped sqlite3 connections are garbage-collected in the child, and closing what
    it believes is the last connection makes SQLite checkpoint and remove the parent's WAL and -shm
    (the parent then reads "disk I/O error" / "file is not a database"); a psycopg connection would
    end the parent's session. So the child keeps them referenced for its whole life. (The same symptom
    without any fork, the pool spawning, came from a header check closing a descriptor of the open
    database in the parent: core.sqlite_files.)"""
    ref = weakref.ref(engine)

    def _in_child() -> None:
        alive = ref()
        if alive is not None:
            idle = getattr(alive.pool, "_pool", None)  # QueuePool's idle connection records
            if idle is not None:
                _INHERITED.extend(list(idle.queue))
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=_in_child)
    return engine


def make_engine(url: str, *, driver_transactions: bool = False, **kw: Any) -> sa.Engine:
    """An engine on the catalog database, SQLite's recipe applied and guarded across fork.

    `driver_transactions`: keep pysqlite's own transaction handling (BEGIN just before the first write,
    reads outside any transaction) instead of explicit BEGIN: for ORM code written against it, such as
    governance's sessions, which read in one session while another connection writes (a nested key
    creation); under explicit BEGIN the first session's read snapshot would be stale at its write."""
    url = normalize_url(url)
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kw)
        _sqlite_recipe(engine, memory=not db or db == ":memory:", path=db, explicit=not driver_transactions)
        return guard_fork(engine)
    return guard_fork(sa.create_engine(url, pool_pre_ping=True, **kw))


def _sqlite_recipe(
    engine: sa.Engine, *, memory: bool, path: str | None = None, explicit: bool = True
) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        if explicit:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        if not memory:
            if path and not path.startswith("file:"):
                opened_by_sqlite(path)  # its header is never read with open() again here
            cur.execute("PRAGMA busy_timeout = 500")  # short waits inside _wal's own bounded retry
            _wal(cur)
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    if not explicit:
        return

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def _wal(cur: Any, wait_s: float = 10.0) -> None:
    """Switch to WAL. Changing the journal mode takes an exclusive lock that SQLite's busy timeout
    does not always wait for, so processes opening one new catalog at once retry here, for `wait_s`
    at most; after that the lock is someone else's for good and the error says so."""
    deadline = time.monotonic() + wait_s
    attempt = 0
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            attempt += 1
            time.sleep(0.05 * min(attempt, 10))


def alembic_config(url: str) -> Config:
    """An Alembic Config built in code: no alembic.ini, works from an installed package."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate to `revision`; safe when several processes upgrade at once (locked, then a no-op)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, revision)
            except CommandError as err:
                if "Can't locate revision" not in str(err):
                    raise
                raise ConfigError(
                    f"catalog {engine.url.render_as_string(hide_password=True)} is at a schema revision "
                    f"this labstream does not know ({err}); it was made by a development version from "
                    f"before the migrations were squashed into the baseline 0006 or by a newer labstream: "
                    f"use that version, or start a new home (LABSTREAM_HOME) for this one"
                ) from None


def downgrade(engine: sa.Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


__all__ = [
    "WRITE",
    "alembic_config",
    "current_revision",
    "downgrade",
    "make_engine",
    "normalize_url",
    "upgrade",
]
