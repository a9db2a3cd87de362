"""Governance: one object that opens everything governance needs from the settings.

gov = Governance.open(settings)   # catalog DB tables, master key file, audit file
gov.directory / gov.audit / gov.keyring / gov.pseudonyms / gov.residency / gov.store(project)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from labstream.catalog.engine import make_engine
from labstream.core.settings import Settings
from labstream.governance.audit import AuditLog
from labstream.governance.auth import Directory
from labstream.governance.crypto import KeyProvider, Keyring, LocalKeyFile, WrappedKey
from labstream.governance.encrypted_store import EncryptedStore
from labstream.governance.models import GOVERNANCE_TABLES, Base, DataKeyRow
from labstream.governance.pseudonym import Pseudonymizer
from labstream.governance.residency import Residency


class SqlKeyStore:
    """Wrapped data keys in the catalog (gov_data_keys)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def get(self, key_id: str) -> WrappedKey | None:
        with self.sessions() as s:
            row = s.get(DataKeyRow, key_id)
            return WrappedKey(row.master_id, row.blob) if row else None

    def put(self, key_id: str, wrapped: WrappedKey) -> None:
        with self.sessions.begin() as s:
            s.merge(DataKeyRow(key_id=key_id, master_id=wrapped.master_id, blob=wrapped.blob))

    def ids(self) -> list[str]:
        with self.sessions() as s:
            return list(s.scalars(select(DataKeyRow.key_id).order_by(DataKeyRow.key_id)))


@dataclass
class Governance:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    provider: KeyProvider
    keyring: Keyring
    audit: AuditLog
    directory: Directory
    pseudonyms: Pseudonymizer
    residency: Residency
    _accesses: Any = field(default=None, repr=False)  # labstream.catalog.access.AccessLog, made on first use

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        provider: KeyProvider | None = None,
        create_tables: bool = True,
    ) -> Governance:
        settings = settings or Settings()
        home = settings.ensure_home()
        # the catalog's own engine: its SQLite recipe (WAL, busy timeout, explicit BEGIN), the fork guard,
        # and the file marked open so no header check in this process cancels its locks
        engine = make_engine(settings.catalog_url, driver_transactions=True)
        if create_tables:
            migrate(settings.catalog_url, engine)
        sessions = sessionmaker(engine, expire_on_commit=False)
        provider = provider or LocalKeyFile(_key_path(settings, home))
        keyring = Keyring(provider, SqlKeyStore(sessions))
        audit = AuditLog(home / "audit" / "audit.db", provider.derive("audit-head"))
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            provider=provider,
            keyring=keyring,
            audit=audit,
            directory=Directory(sessions),
            pseudonyms=Pseudonymizer(provider.derive("pseudonym"), keyring, sessions, audit),
            residency=Residency(sessions, audit),
        )

    def store(self, project: str):  # type: ignore[no-untyped-def]
        """The project's encrypted object store; every read through it is recorded as the object's last
        access (labstream.catalog.access: at most one write per object per 10 minutes)."""
        from labstream.catalog.access import AccessLog
        from labstream.objects import open_store

        if self._accesses is None:
            self._accesses = AccessLog(self.engine)
        inner = open_store(self.settings.objects_url)
        scratch = self.settings.home / "scratch"
        return EncryptedStore(inner, self.keyring, project, on_read=self._accesses.touch, scratch=scratch)

    def close(self) -> None:
        self.audit.close()
        self.engine.dispose()


def migrate(url: str, engine: Engine) -> None:
    """Bring the catalog to the latest Alembic revision (0002 holds the governance tables)."""
    try:
        from labstream.catalog import open_catalog
    except ImportError:  # pragma: no cover - catalog package absent: plain tables
        Base.metadata.create_all(engine, tables=GOVERNANCE_TABLES)
        return
    cat = open_catalog(url)
    try:
        cat.upgrade()
    finally:
        cat.close()


def _key_path(settings: Settings, home: Path) -> Path:
    if settings.master_key is not None:
        return Path(settings.master_key.get_secret_value())
    return home / "keys" / "master.json"
