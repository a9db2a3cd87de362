"""`labstream cohort ...`: add gVCFs to the cohort lake; stats, carriers, compaction, withdrawal."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from labstream.core.errors import InputError

app = typer.Typer(
    suggest_commands=False,
    no_args_is_help=True,
    add_completion=False,
    help="The cohort variant lake (gVCF, AC/AN/AF).",
)

_LAKE = typer.Option(None, help="lake URL (default: settings)")


def _store(lake: str | None, *, existing: bool = True):  # type: ignore[no-untyped-def]
    """The cohort in `lake`; one that must already hold a cohort is checked first (a mistyped --lake
    is said, and no empty lake folder is left behind)."""
    from labstream.cohort import CohortStore
    from labstream.core.errors import ConfigError
    from labstream.core.settings import Settings
    from labstream.lake import open_lake

    url = lake or Settings().lake_url
    missing = ConfigError(
        f"no cohort in lake {url}: add samples first (labstream cohort add SAMPLE.g.vcf.gz --lake {url})"
    )
    local = Path(url.removeprefix("file://")) if "://" not in url or url.startswith("file://") else None
    if existing and local is not None and not (local / "cohort_calls" / "_delta_log").is_dir():
        raise missing
    opened = open_lake(url)
    if existing and local is None and "cohort_calls" not in opened.tables():
        raise missing
    return CohortStore(opened)


def _fail(err: InputError) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(2)


@app.command()
def add(
    gvcf: list[Path] = typer.Argument(..., help="per-sample gVCFs (bcftools call --gvcf, GATK -ERC GVCF)"),
    lake: str | None = _LAKE,
    project: str | None = typer.Option(None, help="project of the rows"),
) -> None:
    """Append each sample as one new Delta version; a sample already in the cohort is skipped."""
    store = _store(lake, existing=False)
    for path in gvcf:
        try:
            r = store.add_gvcf(path, project=project)
        except InputError as err:
            _fail(err)
        what = (
            f"added {', '.join(r.added)} (version {r.version}, {r.bytes_written} bytes)"
            if r.added
            else (f"skipped {', '.join(r.skipped)}: already in the cohort")
        )
        typer.echo(f"{path.name}: {what}")


@app.command()
def stats(
    region: str | None = typer.Option(None, help="contig, contig:pos or contig:start-end (1-based)"),
    samples: str | None = typer.Option(None, help="comma-separated sub-cohort (default: everyone)"),
    lake: str | None = _LAKE,
    limit: int = typer.Option(50, min=0, help="rows to print (0: all)"),
    project: list[str] | None = typer.Option(None, help="only the samples of this project (repeatable)"),
) -> None:
    """AC, AN, AF, het/hom-alt counts and call rate per site (TSV, POS 1-based)."""
    from labstream.cohort import allele_stats
    from labstream.cohort.query import in_projects

    store = _store(lake)
    try:
        chosen = samples.split(",") if samples else None
        if project:
            chosen = in_projects(store, project, chosen)  # None: the projects hold every sample
        t = allele_stats(store, region, chosen)
    except InputError as err:
        _fail(err)
    typer.echo(f"# samples={len(chosen) if chosen is not None else len(store.samples())} sites={t.num_rows}")
    typer.echo("CHROM\tPOS\tREF\tALT\tAC\tAN\tAF\tN_HET\tN_HOMALT\tCALL_RATE")
    rows = t.to_pylist() if not limit else t.slice(0, limit).to_pylist()
    for r in rows:
        af = "." if r["af"] is None else f"{r['af']:.6g}"
        rate = "." if r["call_rate"] is None else f"{r['call_rate']:.4g}"
        typer.echo(
            f"{r['contig']}\t{r['start'] + 1}\t{r['ref']}\t{r['alt']}\t{r['ac']}\t{r['an']}\t{af}"
            f"\t{r['n_het']}\t{r['n_homalt']}\t{rate}"
        )


@app.command()
def query(
    position: str = typer.Argument(..., help="contig:pos (1-based)"),
    alt: str | None = typer.Option(None, help="only this alternate allele"),
    lake: str | None = _LAKE,
) -> None:
    """The variant's cohort statistics and its carriers (JSON)."""
    from labstream.cohort import allele_stats, carriers, parse_region

    store = _store(lake)
    try:
        r = parse_region(position)
        if r.end is None or r.end - r.start != 1:
            raise InputError(position, "is not one position", hint="write contig:pos")
        sites = [s for s in allele_stats(store, r).to_pylist() if alt is None or s["alt"] == alt]
    except InputError as err:
        _fail(err)
    for s in sites:
        s["pos"] = s.pop("start") + 1
        s["carriers"] = carriers(store, r.contig, s["pos"], s["ref"], s["alt"]).to_pylist()
    typer.echo(json.dumps(sites, indent=1))


@app.command()
def export(
    region: str = typer.Argument(..., help="contig:start-end (1-based)"),
    out: Path = typer.Option(..., help="NAME.vcf.gz (indexed alongside)"),
    lake: str | None = _LAKE,
) -> None:
    """The region's genotype matrix as a multi-sample VCF (./. = not covered)."""
    from labstream.cohort import export_vcf

    try:
        path = export_vcf(_store(lake), region, out)
    except InputError as err:
        _fail(err)
    typer.echo(f"wrote {path}")


@app.command()
def compact(lake: str | None = _LAKE) -> None:
    """Fold newly added samples into the stored summary (readers are never blocked)."""
    typer.echo(json.dumps(_store(lake).compact()))


@app.command()
def withdraw(
    sample: str = typer.Argument(...),
    reason: str = typer.Option(..., help="why, e.g. 'consent withdrawn' (kept in cohort_withdrawals)"),
    by: str = typer.Option("", help="who withdraws it"),
    lake: str | None = _LAKE,
) -> None:
    """Remove a sample from every statistic, recording why."""
    try:
        n = _store(lake).withdraw(sample, reason, by=by)
    except InputError as err:
        _fail(err)
    typer.echo(f"withdrew {sample}: {n} rows deleted; reason recorded")
