"""`labstream demo`: the README's main job — stream a simulated plate set and sequencing run."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def demo(
    home: Path = typer.Option(Path(".labstream-demo"), help="demo folder (recreated on each run)"),
    plates: int = typer.Option(2, min=1, help="plates the simulated microscope images"),
    coverage: float = typer.Option(30.0, help="sequencing depth of the simulated run"),
    executor: str | None = typer.Option(
        None,
        help="executor URL: local, local?cpu=2, dask://host:port (default: LABSTREAM_EXECUTOR_URL or local)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Stream a simulated plate and sequencing run through the platform and print what it found."""
    from labstream.cli._progress import progress_bars
    from labstream.demo import run_demo

    home = home.resolve()
    bars = progress_bars(console, "{task.description:<22}")
    tasks: dict[str, int] = {}

    def show(state: dict[str, tuple[int, int]]) -> None:
        for name, (done, total) in state.items():
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total)
            bars.update(tasks[name], completed=done)

    with bars:
        summary = run_demo(
            home,
            plates=plates,
            coverage=coverage,
            executor_url=executor,
            say=lambda m: bars.console.print(f"[dim]{m}[/dim]"),
            progress=show,
        )
    if as_json:
        console.print_json(json.dumps({k: v for k, v in vars(summary).items()}, default=str))
        return
    p, g = summary.phenomics, summary.genomics
    console.rule("[bold]labstream demo[/bold]")
    console.print(
        f"{summary.ingest['published']} files ingested "
        f"({summary.ingest['duplicates']} duplicates, {summary.ingest['quarantined']} quarantined) "
        f"in {summary.seconds:.1f}s"
    )

    t = Table(title="Cell Painting (phenomics)", show_header=False)
    t.add_row("sites measured", str(p.get("sites")))
    t.add_row("cells segmented", str(p.get("cells")))
    t.add_row("sites failing QC", str(p.get("failed_sites")))
    metrics = dict(p.get("metrics") or {})
    rec = metrics.pop("recall", None)
    metrics.pop("alignment_scores", None)  # in --json; too long for the table
    for k, v in metrics.items():
        t.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    if isinstance(rec, dict):
        t.add_row(
            "known-relationship recall",
            f"{rec.get('recall', 0):.2f} ({rec.get('n_recalled')}/{rec.get('n_pairs')} known pairs in the "
            f"top/bottom 5%; chance {rec.get('chance', 0):.2f})",
        )
    t.add_row("hits", ", ".join(p.get("hits", [])) or "-")
    t.add_row("follow-up layout", str(p.get("follow_up_layout", "-")))
    console.print(t)

    t = Table(title="DNA-seq (genomics)", show_header=False)
    t.add_row("sample", str(g.get("sample")))
    t.add_row("variants called", str(g.get("variants")))
    for k in ("SNP", "INDEL", "ALL"):
        if k in g.get("f1", {}):
            t.add_row(
                f"{k} F1 / precision / recall vs planted truth",
                f"{g['f1'][k]:.4f} / {g['precision'][k]:.4f} / {g['recall'][k]:.4f}",
            )
    t.add_row("turnaround (first chunk -> variants)", f"{g.get('turnaround_s', '-')} s")
    t.add_row("after last chunk", f"{g.get('after_last_chunk_s', '-')} s")
    t.add_row(
        f"time to first variants (from the {g.get('first_variants_from', 'refresh')})",
        f"{g.get('time_to_first_variants_s', '-')} s",
    )
    t.add_row("stage wall time", json.dumps(g.get("stage_wall_s", {})))
    t.add_row("report", str(g.get("report")))
    console.print(t)
    if g.get("top_variants"):
        v = Table(title="highest-quality variants")
        for col in g["top_variants"][0]:
            v.add_column(col)
        for row in g["top_variants"]:
            v.add_row(*(str(x) for x in row.values()))
        console.print(v)
    if summary.quarantine:
        console.print(f"[yellow]quarantined:[/yellow] {len(summary.quarantine)}")
        for q in summary.quarantine[:10]:
            console.print(f"  {q}")
    console.print(
        f"\nexplore: LABSTREAM_HOME={summary.home / 'platform'} labstream sql "
        '"SELECT Metadata_Plate, count(*) FROM cells GROUP BY 1"'
    )
