"""Keyed pseudonyms for patient and sample identifiers, applied at ingest.

A pseudonym is HMAC-SHA256(secret, kind | project | value), so the same patient gets the same pseudonym
within a project (joins still work) but nobody without the secret can recompute or reverse it. The way
back is a mapping table holding the original encrypted under the project's data key; `reidentify` is
allowed only to callers with the `reidentify` right and every attempt, allowed or not, is audited.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from labstream.core.errors import AccessDenied, InputError
from labstream.governance.audit import AuditLog
from labstream.governance.auth import Principal
from labstream.governance.crypto import Keyring
from labstream.governance.models import PseudonymRow

DEFAULT_FIELDS = ("patient_id", "sample_id")
PREFIX = "PSN-"


class Pseudonymizer:
    def __init__(
        self, secret: bytes, keyring: Keyring, sessions: sessionmaker[Session], audit: AuditLog
    ) -> None:
        self._secret = secret
        self.keyring = keyring
        self.sessions = sessions
        self.audit = audit

    def pseudonym(self, kind: str, value: str, project: str) -> str:
        mac = hmac.new(self._secret, f"{kind}\0{project}\0{value}".encode(), hashlib.sha256).hexdigest()
        return PREFIX + mac[:32]

    def pseudonymize(self, kind: str, value: str, project: str) -> str:
        """Return the pseudonym and remember the encrypted original for authorised re-identification."""
        if not isinstance(value, str) or not value:
            raise InputError(f"{kind}", f"empty or non-text identifier {value!r}")
        if value.startswith(PREFIX):
            return value  # already a pseudonym: idempotent on redelivery
        p = self.pseudonym(kind, value, project)
        with self.sessions.begin() as s:
            if s.get(PseudonymRow, p) is None:
                ct = self.keyring.cipher(project).encrypt(value.encode())
                s.add(PseudonymRow(pseudonym=p, project=project, kind=kind, ciphertext=ct))
        return p

    def pseudonymize_record(
        self, record: Mapping[str, Any], project: str, fields: Iterable[str] = DEFAULT_FIELDS
    ) -> dict[str, Any]:
        """A copy of `record` with each identifier field replaced by its pseudonym."""
        out = dict(record)
        for f in fields:
            if out.get(f) not in (None, ""):
                out[f] = self.pseudonymize(f, str(out[f]), project)
        return out

    def project_of(self, pseudonym: str) -> str:
        with self.sessions() as s:
            row = s.get(PseudonymRow, pseudonym)
        return row.project if row else ""

    def reidentify(
        self, pseudonym: str, who: Principal, *, source: str = "", reason: str = "", audit: bool = True
    ) -> str:
        """The original identifier. `audit=False` only where the caller writes the audit record itself
        (the API writes one per request)."""
        with self.sessions() as s:
            row = s.get(PseudonymRow, pseudonym)
        project = row.project if row else ""
        if row is None or not who.can("reidentify", row.project):
            if audit:
                self.audit.record(
                    who.name,
                    "pseudonym.reidentify",
                    resource=pseudonym,
                    project=project,
                    outcome="denied",
                    source=source,
                    reason=reason,
                )
            # Same answer for unknown and forbidden: no oracle for which pseudonyms exist.
            raise AccessDenied(
                f"re-identification of {pseudonym} refused; it needs the reidentify right "
                "(admin role) in the sample's project"
            )
        value = self.keyring.decrypt(row.ciphertext, source=f"pseudonym {pseudonym}").decode()
        if audit:
            self.audit.record(
                who.name,
                "pseudonym.reidentify",
                resource=pseudonym,
                project=row.project,
                source=source,
                reason=reason,
            )
        return value
