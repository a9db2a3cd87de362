"""`labstream genomics sign / amend / versions`: sign-off of clinical reports from the command line.

The signer is whoever owns the API token given (LABSTREAM_TOKEN or --token-file), never the shell user:
a signature must name a person the directory knows and holds the reviewer role, exactly as over the API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from labstream.core.errors import AccessDenied, InputError

TOKEN_ENV = "LABSTREAM_TOKEN"  # noqa: S105 - the name of a variable, not a secret


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        return token_file.read_text().strip()
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise AccessDenied(
            f"no API token: set {TOKEN_ENV} or pass --token-file "
            "(an admin creates one with `labstream admin token create`)"
        )
    return token


def _with_gov(token_file: Path | None, fn):  # type: ignore[no-untyped-def]
    from labstream.governance.service import Governance

    gov = Governance.open()
    try:
        who = gov.directory.authenticate(_token(token_file))
        return fn(gov, who)
    except LookupError as err:
        raise InputError(
            str(err), "no such report visible to you", hint="list them with GET /api/v1/reports"
        ) from err
    finally:
        gov.close()


TokenOpt = typer.Option(None, "--token-file", help=f"file holding your API token (default: ${TOKEN_ENV})")


def sign(
    report_id: str = typer.Argument(..., help="the report's object id"), token_file: Path | None = TokenOpt
) -> None:
    """Sign a draft report (reviewer role): prints the signed version's object id."""
    from labstream.governance import signoff
    from labstream.ops.report_cost import report_cost

    new = _with_gov(
        token_file, lambda gov, who: signoff.sign(gov, who, report_id, cost=report_cost(gov.settings))
    )
    typer.echo(f"signed: {new.id} (sha256 {new.sha256})")


def amend(
    report_id: str = typer.Argument(..., help="the signed report's object id"),
    reason: str = typer.Option(..., help="why the report is corrected (kept with the new version)"),
    summary: str = typer.Option("", help="the corrected result summary, if it changes"),
    token_file: Path | None = TokenOpt,
) -> None:
    """Correct a signed report: a new draft version with the reason; sign it in its turn."""
    from labstream.governance import signoff

    new = _with_gov(token_file, lambda gov, who: signoff.amend(gov, who, report_id, reason, summary))
    typer.echo(f"amended draft: {new.id} (sign it with `labstream genomics sign {new.id}`)")


def versions(report_id: str = typer.Argument(...), token_file: Path | None = TokenOpt) -> None:
    """Every version of a report, oldest first, as JSON lines."""
    from labstream.governance import signoff

    for v in _with_gov(token_file, lambda gov, who: signoff.versions(gov, who, report_id)):
        typer.echo(json.dumps(v.to_dict()))


def register(app: typer.Typer) -> None:
    app.command("sign")(sign)
    app.command("amend")(amend)
    app.command("versions")(versions)
