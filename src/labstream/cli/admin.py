"""`labstream admin`: users, projects, roles, API tokens, compute sites, master-key rotation."""

from __future__ import annotations

import typer

from labstream.core.errors import InputError

app = typer.Typer(
    suggest_commands=False, no_args_is_help=True, help="Manage users, projects, roles, tokens and keys."
)
user_app = typer.Typer(suggest_commands=False, no_args_is_help=True, help="Users.")
token_app = typer.Typer(
    suggest_commands=False, no_args_is_help=True, help="API tokens (shown once, stored hashed)."
)
project_app = typer.Typer(suggest_commands=False, no_args_is_help=True, help="Projects and their regions.")
site_app = typer.Typer(suggest_commands=False, no_args_is_help=True, help="Compute sites and their regions.")
key_app = typer.Typer(suggest_commands=False, no_args_is_help=True, help="Master key.")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(project_app, name="project")
app.add_typer(site_app, name="site")
app.add_typer(key_app, name="key")


def _actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _gov():  # type: ignore[no-untyped-def]
    from labstream.governance.service import Governance

    return Governance.open()


def _run(fn, *args, **kw):  # type: ignore[no-untyped-def]
    gov = _gov()
    try:
        return fn(gov, *args, **kw)
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    finally:
        gov.close()


@user_app.command("add")
def user_add(
    name: str, email: str = "", superuser: bool = typer.Option(False, help="may break glass")
) -> None:
    def go(gov):  # type: ignore[no-untyped-def]
        gov.directory.add_user(name, email=email, superuser=superuser)
        gov.audit.record(_actor(), "admin.user.add", resource=f"user/{name}", detail={"superuser": superuser})
        typer.echo(f"user {name} added")

    _run(go)


@project_app.command("add")
def project_add(
    name: str,
    region: str = "local",
    allow: list[str] = typer.Option([], help="further regions the data may go to"),
) -> None:
    def go(gov):  # type: ignore[no-untyped-def]
        gov.directory.add_project(name, region=region, allowed_regions=allow)
        gov.audit.record(
            _actor(),
            "admin.project.add",
            resource=f"project/{name}",
            project=name,
            detail={"region": region, "allowed": allow},
        )
        typer.echo(f"project {name} ({region}) added")

    _run(go)


@app.command("grant")
def grant(user: str, project: str, role: str) -> None:
    """Give USER the ROLE (viewer, scientist, operator, admin) in PROJECT."""

    def go(gov):  # type: ignore[no-untyped-def]
        gov.directory.grant(user, project, role)
        gov.audit.record(
            _actor(), "admin.grant", resource=f"user/{user}", project=project, detail={"role": role}
        )
        typer.echo(f"{user} is {role} in {project}")

    _run(go)


@token_app.command("create")
def token_create(
    user: str, days: float = typer.Option(30.0, help="lifetime; 0 = no expiry"), label: str = ""
) -> None:
    def go(gov):  # type: ignore[no-untyped-def]
        tid, token = gov.directory.create_token(user, ttl_seconds=days * 86400 or None, label=label)
        gov.audit.record(
            _actor(), "admin.token.create", resource=f"token/{tid}", detail={"user": user, "days": days}
        )
        typer.echo(f"token id {tid}")
        typer.echo(token)

    _run(go)


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    def go(gov):  # type: ignore[no-untyped-def]
        ok = gov.directory.revoke_token(token_id)
        gov.audit.record(
            _actor(), "admin.token.revoke", resource=f"token/{token_id}", outcome="allowed" if ok else "error"
        )
        if not ok:
            typer.echo(f"no token {token_id}", err=True)
            raise typer.Exit(1)
        typer.echo(f"token {token_id} revoked")

    _run(go)


@site_app.command("add")
def site_add(name: str, region: str, executor_url: str = "local") -> None:
    def go(gov):  # type: ignore[no-untyped-def]
        gov.residency.add_site(name, region, executor_url)
        gov.audit.record(_actor(), "admin.site.add", resource=f"site/{name}", detail={"region": region})
        typer.echo(f"site {name} ({region}) added")

    _run(go)


@key_app.command("rotate")
def key_rotate() -> None:
    """Rotate the master key: every data key is re-wrapped, no data is re-encrypted."""

    def go(gov):  # type: ignore[no-untyped-def]
        n = gov.keyring.rotate_master()
        gov.audit.record(
            _actor(), "admin.key.rotate", detail={"rewrapped": n, "master": gov.provider.current_id()}
        )
        typer.echo(f"master key now {gov.provider.current_id()}; {n} data keys re-wrapped")

    _run(go)
