"""Identity and access: users, projects, per-project roles, hashed API tokens.

A token is shown once at creation (`ls_` + 32 random bytes, url-safe); only its sha256 is stored, so a
stolen catalog does not yield usable tokens. Rights are what roles grant; every check asks for a right
in a project, never for a role name, so the role table below is the one place policy lives.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from labstream.core.errors import AccessDenied, InputError
from labstream.governance.models import ApiToken, Grant, Project, User

ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "reviewer": frozenset({"read", "query", "sign"}),  # signs clinical reports (governance/signoff.py)
    "scientist": frozenset({"read", "query", "submit"}),
    "operator": frozenset({"read", "query", "submit", "cancel", "operate"}),
    "admin": frozenset({"read", "query", "submit", "cancel", "operate", "reidentify", "manage"}),
    "steward": frozenset({"read", "promote"}),  # promotes and rolls back models (api/routes_models.py)
    "rescorer": frozenset({"read", "rescore"}),  # re-calls samples with a new model, amends signed reports
}
RIGHTS = frozenset().union(*ROLES.values())
TOKEN_PREFIX = "ls_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class Principal:
    """The caller, resolved from a token: name and roles per project."""

    name: str
    roles: dict[str, frozenset[str]] = field(default_factory=dict)  # project -> roles
    superuser: bool = False
    break_glass: str = ""  # justification when break-glass access is in force

    def rights(self, project: str) -> frozenset[str]:
        if self.break_glass and self.superuser:
            return ROLES["viewer"] | frozenset().union(*(ROLES[r] for r in self.roles.get(project, ())))
        return frozenset().union(*(ROLES[r] for r in self.roles.get(project, ())))

    def can(self, right: str, project: str) -> bool:
        return right in self.rights(project)

    def projects(self, right: str = "read", known: list[str] | None = None) -> list[str]:
        """Projects where the caller holds `right` (with break glass: every known project, read-only)."""
        mine = {p for p in self.roles if self.can(right, p)}
        if self.break_glass and self.superuser and right == "read" and known:
            mine |= set(known)
        return sorted(mine)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_name(kind: str, value: str) -> str:
    if not value or len(value) > 128 or not all(c.isalnum() or c in "-_.@" for c in value):
        raise InputError(kind, f"invalid {kind} name {value!r}", hint="use letters, digits and - _ . @")
    return value


class Directory:
    """Users, projects, grants and tokens in the catalog database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def add_project(self, name: str, region: str = "local", allowed_regions: list[str] | None = None) -> None:
        with self.sessions.begin() as s:
            s.merge(
                Project(
                    name=_check_name("project", name),
                    region=region,
                    allowed_regions=list(allowed_regions or []),
                )
            )

    def projects(self) -> list[Project]:
        with self.sessions() as s:
            return list(s.scalars(select(Project).order_by(Project.name)))

    def project(self, name: str) -> Project | None:
        with self.sessions() as s:
            return s.get(Project, name)

    def add_user(self, name: str, email: str = "", superuser: bool = False) -> None:
        with self.sessions.begin() as s:
            s.merge(User(name=_check_name("user", name), email=email, superuser=superuser))

    def grant(self, user: str, project: str, role: str) -> None:
        if role not in ROLES:
            raise InputError("grant", f"unknown role {role!r}", hint=f"use one of {', '.join(ROLES)}")
        with self.sessions.begin() as s:
            if s.get(User, user) is None or s.get(Project, project) is None:
                raise InputError(
                    "grant",
                    f"unknown user {user!r} or project {project!r}",
                    hint="create them first with `labstream admin user add` / `project add`",
                )
            exists = s.scalar(
                select(Grant).where(Grant.user == user, Grant.project == project, Grant.role == role)
            )
            if exists is None:
                s.add(Grant(user=user, project=project, role=role))

    def revoke_grant(self, user: str, project: str, role: str) -> None:
        with self.sessions.begin() as s:
            for g in s.scalars(
                select(Grant).where(Grant.user == user, Grant.project == project, Grant.role == role)
            ):
                s.delete(g)

    def create_token(
        self, user: str, *, ttl_seconds: float | None = 30 * 86400, label: str = ""
    ) -> tuple[str, str]:
        """Return (token_id, token). The token itself is never stored and cannot be shown again."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        tid = secrets.token_hex(8)
        with self.sessions.begin() as s:
            if s.get(User, user) is None:
                raise InputError("token", f"unknown user {user!r}", hint="add the user first")
            s.add(
                ApiToken(
                    id=tid,
                    user=user,
                    token_sha256=hash_token(token),
                    label=label,
                    expires_at=(time.time() + ttl_seconds) if ttl_seconds else None,
                )
            )
        return tid, token

    def revoke_token(self, token_id: str) -> bool:
        with self.sessions.begin() as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                return False
            row.revoked_at = time.time()
            return True

    def authenticate(self, token: str, *, break_glass: str = "") -> Principal:
        """Resolve a bearer token; unknown, expired, revoked or disabled raises AccessDenied."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise AccessDenied("malformed API token; create one with `labstream admin token create`")
        now = time.time()
        with self.sessions() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == hash_token(token)))
            if row is None:
                raise AccessDenied("unknown API token")
            if row.revoked_at is not None:
                raise AccessDenied(f"API token {row.id} was revoked; ask an admin for a new one")
            if row.expires_at is not None and row.expires_at < now:
                raise AccessDenied(f"API token {row.id} expired; ask an admin for a new one")
            user = s.get(User, row.user)
            if user is None or user.disabled:
                raise AccessDenied(f"user of token {row.id} is disabled")
            roles: dict[str, set[str]] = {}
            for g in s.scalars(select(Grant).where(Grant.user == user.name)):
                roles.setdefault(g.project, set()).add(g.role)
            return Principal(
                name=user.name,
                roles={p: frozenset(r) for p, r in roles.items()},
                superuser=user.superuser,
                break_glass=break_glass[:500] if user.superuser else "",
            )
