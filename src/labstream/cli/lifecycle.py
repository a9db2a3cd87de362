"""`labstream lifecycle plan|apply|restore|replay`: storage tiers of the object store under a
lifecycle policy (labstream.ops.lifecycle, labstream.ops.lifecycle_run)."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from labstream.cli._options import FormatOpt
from labstream.core.settings import Settings

app = typer.Typer(
    suggest_commands=False,
    no_args_is_help=True,
    help="Storage tiers: plan and apply lifecycle policies, restore.",
)

# the options several commands take, declared once
PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="lifecycle policy TOML (default: the shipped lab-default policy)"),
]
AtDaysOpt = Annotated[
    float, typer.Option("--at-days", help="plan as if this many days had passed (what-if; 0 = now)")
]


def _policy(path: Path | None):  # type: ignore[no-untyped-def]
    from labstream.ops.lifecycle import load_policy

    if path is None:
        with resources.as_file(resources.files("labstream.ops") / "policies" / "lab-default.toml") as p:
            return load_policy(p)
    return load_policy(path)


def _show(moves: list, fmt: str, title: str) -> None:  # type: ignore[type-arg]
    from labstream.cli.ops import _print

    rows = [m.to_dict() for m in moves]
    if fmt == "table":
        moving = [m for m in moves if m.action != "held"]
        summary = (
            f"{len(moving)} to move ({sum(m.bytes for m in moving)} bytes), "
            f"saving {sum(m.monthly_saving_usd for m in moving):.4f} USD/month, "
            f"early-deletion fees {sum(m.early_fee_usd for m in moving):.4f} USD; "
            f"{len(moves) - len(moving)} held"
        )
        title = f"{title}: {summary}"
    _print(rows, fmt, title, empty="no object in this home is old enough for the policy to move or hold")


@app.command()
def plan(policy: PolicyOpt = None, at_days: AtDaysOpt = 0.0, fmt: FormatOpt = "table") -> None:
    """What the policy would move now: bytes, monthly saving, early-deletion fees, holds."""
    from labstream.ops.lifecycle_run import lifecycle_plan

    moves = lifecycle_plan(Settings(), _policy(policy), now=time.time() + at_days * 86400)
    _show(moves, fmt, "lifecycle plan")


@app.command()
def apply(policy: PolicyOpt = None, at_days: AtDaysOpt = 0.0, fmt: FormatOpt = "table") -> None:
    """Make the policy's moves (held objects stay) and record them for storage cost."""
    from labstream.ops.lifecycle_run import lifecycle_apply

    moves = lifecycle_apply(Settings(), _policy(policy), now=time.time() + at_days * 86400)
    _show(moves, fmt, "lifecycle applied")


@app.command()
def restore(
    uri: str = typer.Argument(..., help="the archived object's URI"),
    days: int = typer.Option(7, "--days", help="how long the restored copy stays readable"),
    speed: str = typer.Option("Standard", "--speed", help="Expedited | Standard | Bulk"),
    fmt: FormatOpt = "table",
) -> None:
    """Ask for a readable copy of an archived object (its retrieval fee is recorded)."""
    from labstream.cli.ops import _print
    from labstream.ops.lifecycle_run import restore_object

    _print([restore_object(Settings(), uri, days=days, speed=speed)], fmt, "restore")


@app.command()
def get(
    uri: str = typer.Argument(..., help="the object's URI in the platform's store"),
    out: Path = typer.Option(..., "--out", "-o", help="where to write its bytes"),
) -> None:
    """Read an object out of the store, recording its last access for lifecycle rules.

    An archived one says when it will be readable and asks for its restore."""
    from labstream.ops.lifecycle_run import read_object

    size = read_object(Settings(), uri, out)
    typer.echo(f"{out}: {size} bytes")


@app.command()
def replay(
    policy: PolicyOpt = None,
    genomes_per_week: int = typer.Option(100, help="genomes written per week (under raw/)"),
    genome_gb: float = typer.Option(100.0, help="GiB per genome"),
    plates_per_week: int = typer.Option(20, help="plates written per week (under raw/)"),
    plate_gb: float = typer.Option(50.0, help="GiB per plate"),
    days: int = typer.Option(365, help="days replayed"),
    fmt: FormatOpt = "table",
) -> None:
    """A synthetic lab's storage bill over `days` under the policy vs all-hot."""
    from labstream.cli.ops import _print
    from labstream.ops.lifecycle import replay as run
    from labstream.ops.pricebook import load_price_book

    settings = Settings()
    arrivals = [
        (float(day), int(size * 2**30), f"raw/{kind}")
        for day in range(0, days, 7)
        for kind, n, size in (("genome", genomes_per_week, genome_gb), ("plate", plates_per_week, plate_gb))
        for _ in range(n)
    ]
    bill = run(
        arrivals,
        _policy(policy),
        load_price_book(settings.price_book or None),
        region=settings.region,
        days=days,
    )
    _print([bill], fmt, f"storage bill over {days} days (USD)")
