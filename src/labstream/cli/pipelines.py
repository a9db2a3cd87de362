"""`labstream pipelines ...`: what each pipeline is, reads, needs and writes, from its contract."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    suggest_commands=False,
    no_args_is_help=True,
    add_completion=False,
    help="The pipelines and their contracts.",
)
console = Console()


@app.command("list")
def list_() -> None:
    """Every registered pipeline with the layouts it reads and the tables it writes."""
    from labstream.pipelines import contracts

    t = Table(title="pipelines")
    for col in ("name", "what it does", "layouts", "tables"):
        t.add_column(col)
    for c in contracts():
        t.add_row(c.name, c.summary, ", ".join(c.layouts) or "any file", ", ".join(c.table_names))
    console.print(t)


@app.command()
def show(
    name: str = typer.Argument(..., help="pipeline name (see `labstream pipelines list`)"),
    table: str | None = typer.Option(None, help="print this table's full data dictionary"),
) -> None:
    """Settings (with a sample --config file), layouts, stages and tables of one pipeline."""
    from labstream.layouts import get_layout
    from labstream.pipelines import get_contract

    c = get_contract(name)
    if table is not None:
        _dictionary(c.table(table))
        return
    console.print(f"[bold]{c.name}[/bold]: {c.summary}")
    s = Table(title="settings (--config FILE.toml or --set KEY=VALUE)")
    for col in ("setting", "default", "meaning"):
        s.add_column(col)
    for key, f in c.settings.model_fields.items():
        default = "[red]required[/red]" if f.is_required() else repr(f.default)
        s.add_row(key, default, f.description or "")
    console.print(s)
    sample = [f'{k} = "{f.examples[0]}"' for k, f in c.settings.model_fields.items() if f.is_required()]
    if sample:
        console.print("sample config:\n  " + "\n  ".join(sample))
    lay = Table(title="instrument layouts read")
    lay.add_column("layout")
    lay.add_column("file names")
    for ln in c.layouts:
        lay.add_row(ln, get_layout(ln).pattern)
    console.print(lay if c.layouts else "layouts: any file")
    st = Table(title="stages")
    for col in ("stage", "reads topic", "writes topic", "resources"):
        st.add_column(col)
    for stage in c.stages():
        st.add_row(stage.name, stage.input_topic, stage.output_topic or "-", str(stage.resources))
    console.print(st)
    tb = Table(title="lake tables (--table NAME for the data dictionary)")
    for col in ("table", "columns", "what a row is", "latest"):
        tb.add_column(col)
    for t in c.tables:
        tb.add_row(t.name, str(len(t.arrow_schema)), t.description, t.latest or "every row")
    console.print(tb)


def _dictionary(schema) -> None:  # type: ignore[no-untyped-def]
    t = Table(title=f"{schema.name}: {schema.description}")
    for col in ("column", "type", "meaning"):
        t.add_column(col)
    for f in schema.arrow_schema:
        t.add_row(f.name, str(f.type), schema.doc_of(f.name))
    console.print(t)
    if schema.latest:
        console.print(f"latest: {schema.latest}")
