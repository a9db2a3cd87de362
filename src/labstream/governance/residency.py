"""Data residency: projects and compute sites carry a region; work and copies stay inside the
project's allowed regions. A refusal raises AccessDenied and is audited before it is raised."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from labstream.core.errors import AccessDenied, InputError
from labstream.governance.audit import AuditLog
from labstream.governance.models import ComputeSite, Project


class Residency:
    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog) -> None:
        self.sessions = sessions
        self.audit = audit

    def add_site(self, name: str, region: str, executor_url: str = "local") -> None:
        with self.sessions.begin() as s:
            s.merge(ComputeSite(name=name, region=region, executor_url=executor_url))

    def allowed_regions(self, project: str) -> set[str]:
        with self.sessions() as s:
            p = s.get(Project, project)
            if p is None:
                raise InputError(
                    "residency",
                    f"unknown project {project!r}",
                    hint="add it with `labstream admin project add`",
                )
            return {p.region, *p.allowed_regions}

    def site_region(self, site: str) -> str:
        with self.sessions() as s:
            row = s.get(ComputeSite, site)
            if row is None:
                raise InputError("residency", f"unknown compute site {site!r}", hint="register it first")
            return row.region

    def _refuse(
        self, actor: str, action: str, project: str, resource: str, region: str, allowed: set[str]
    ) -> None:
        self.audit.record(
            actor,
            action,
            resource=resource,
            project=project,
            outcome="denied",
            detail={"region": region, "allowed": sorted(allowed)},
        )
        raise AccessDenied(
            f"{action} of {resource} to region {region!r} refused: project {project!r} data may "
            f"stay only in {sorted(allowed)}; choose a site in those regions"
        )

    def check_placement(self, project: str, site: str, *, actor: str = "system", task: str = "") -> str:
        """Allow placing a task of `project` on `site`; returns the site's region or raises AccessDenied."""
        region, allowed = self.site_region(site), self.allowed_regions(project)
        if region not in allowed:
            self._refuse(actor, "residency.place", project, task or site, region, allowed)
        self.audit.record(
            actor,
            "residency.place",
            resource=task or site,
            project=project,
            detail={"site": site, "region": region},
        )
        return region

    def check_copy(self, project: str, dest_region: str, *, actor: str = "system", uri: str = "") -> None:
        """Allow copying an object of `project` to storage in `dest_region`, else raise AccessDenied."""
        allowed = self.allowed_regions(project)
        if dest_region not in allowed:
            self._refuse(actor, "residency.copy", project, uri, dest_region, allowed)
        self.audit.record(
            actor, "residency.copy", resource=uri, project=project, detail={"region": dest_region}
        )
