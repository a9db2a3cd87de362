"""`labstream audit`: verify the hash chain, show recent records."""

from __future__ import annotations

import datetime as dt

import typer

app = typer.Typer(suggest_commands=False, no_args_is_help=True, help="The audit log: verify and inspect.")


@app.command("verify")
def verify() -> None:
    """Recompute the hash chain and check the signed head; exit 1 on any change, insertion or deletion."""
    from labstream.governance.service import Governance

    gov = Governance.open()
    try:
        res = gov.audit.verify()
    finally:
        gov.close()
    if res.ok:
        typer.echo(f"audit log intact: {res.records} records")
        return
    for p in res.problems:
        typer.echo(f"TAMPERED: {p}", err=True)
    raise typer.Exit(1)


@app.command("show")
def show(limit: int = 20, actor: str | None = None, action: str | None = None) -> None:
    """Print the last LIMIT records."""
    from labstream.governance.service import Governance

    gov = Governance.open()
    try:
        since = max(0, gov.audit.last_seq() - limit) if actor is None and action is None else 0
        rows = gov.audit.query(actor=actor, action=action, since_seq=since)[-limit:]
    finally:
        gov.close()
    if not rows:
        typer.echo("no audit record" + (" matches" if actor or action else " yet"))
    for r in rows:
        when = dt.datetime.fromtimestamp(r.ts, dt.UTC).isoformat(timespec="seconds")
        why = f" why={r.reason!r}" if r.reason else ""
        typer.echo(
            f"{r.seq:>7} {when} {r.actor} {r.action} {r.resource} [{r.project}] {r.outcome} "
            f"from={r.source}{why}"
        )
