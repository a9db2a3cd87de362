"""`labstream sites ...`: the declared sites and where a task would run.

labstream sites check sites.toml                       # every site and class with its hourly price
labstream sites place sites.toml --regions eu-west-1 --gpu 1 --data-site edge-lab
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    suggest_commands=False, no_args_is_help=True, help="Sites: regions, compute classes, placement."
)


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="the sites TOML file"),  # noqa: B008
    price_book: str = typer.Option("", help="price book name or path (default: the configured one)"),
) -> None:
    """Load the sites, price every class, and list them."""
    from labstream.core.resources import ResourceRequest
    from labstream.ops.pricebook import load_price_book
    from labstream.sites import class_hour_cost, load_sites

    book = load_price_book(price_book or None)
    for site in load_sites(file, book):
        typer.echo(f"{site.name}  region={site.region}  jurisdiction={site.jurisdiction}  role={site.role}")
        for c in site.classes:
            one = ResourceRequest(cpu=c.cpu, memory_mb=c.memory_mb, gpu=float(max(c.gpu.values(), default=0)))
            price = class_hour_cost(book, site, c, one)
            gpus = ", ".join(f"{n}x{t}" for t, n in c.gpu.items()) or "no GPU"
            typer.echo(f"  {c.name}: {c.cpu:g} cpu, {c.memory_mb} MB, {gpus}; {price:.4f} {book.currency}/h")


@app.command("place")
def place_cmd(
    file: Path = typer.Argument(..., help="the sites TOML file"),  # noqa: B008
    regions: str = typer.Option(..., help="regions the task's project may use, comma-separated"),
    cpu: float = typer.Option(1.0),
    memory_mb: int = typer.Option(0),
    gpu: float = typer.Option(0.0),
    gpu_type: str = typer.Option("", help="a GPU type (A10G, H100, ...); any when empty"),
    data_site: str = typer.Option("", help="the site holding the task's inputs"),
    input_gb: float = typer.Option(0.0, help="size of the inputs (egress if they move)"),
    hours: float = typer.Option(1.0, help="expected run time"),
    price_book: str = typer.Option("", help="price book name or path (default: the configured one)"),
) -> None:
    """Where a task would run, and why (or the rule that refuses it)."""
    from labstream.core.resources import ResourceRequest
    from labstream.ops.pricebook import load_price_book
    from labstream.sites import TaskNeeds, load_sites, place

    book = load_price_book(price_book or None)
    task = TaskNeeds(
        name="task",
        allowed_regions=frozenset(r.strip() for r in regions.split(",") if r.strip()),
        request=ResourceRequest(cpu=cpu, gpu=gpu, memory_mb=memory_mb),
        gpu_type=gpu_type or None,
        data_site=data_site or None,
        input_bytes=int(input_gb * 1e9),
        hours=hours,
    )
    p = place(task, load_sites(file, book), book)
    typer.echo(f"site={p.site} class={p.compute_class} region={p.region} executor={p.executor}")
    typer.echo(f"reason: {p.reason}")
