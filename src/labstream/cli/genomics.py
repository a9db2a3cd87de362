"""`labstream genomics ...`: call a sample, evaluate calls against a truth set, simulate a run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from labstream.core.errors import InputError, QCFailed
from labstream.core.identifiers import check_identifier

app = typer.Typer(
    suggest_commands=False,
    no_args_is_help=True,
    add_completion=False,
    help="DNA-seq: FASTQ to annotated variants.",
)


def _fail(err: InputError) -> None:
    if isinstance(err, QCFailed):  # not a usage mistake: the sample failed, exit 3 names the gates
        typer.echo(f"QC FAILED: {err}", err=True)
        raise typer.Exit(3)
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(2)


def _learned(ref: str):  # type: ignore[no-untyped-def]
    """Resolve the model once, at the start of the call: a promotion during the run changes nothing."""
    from labstream.cli.models import _registry
    from labstream.genomics.learned import LearnedCaller, ModelTag
    from labstream.models import resolve
    from labstream.models.flavors import load

    reg = _registry()
    mv = resolve(reg, ref)
    loaded = load(reg, mv)
    return LearnedCaller(loaded.model, ModelTag(mv.name, str(mv.version), mv.sha256))


@app.command()
def call(
    reference: Path | None = typer.Option(None, help="reference FASTA (default: the assay's)"),
    reads: list[Path] = typer.Option(..., help="R1 FASTQ(.gz), and R2 for paired reads (give --reads twice)"),
    sample: str = typer.Option(..., help="sample name (read group SM and VCF sample column)"),
    out: Path = typer.Option(..., help="output folder"),
    threads: int = typer.Option(2, min=1),
    min_depth: float = typer.Option(5.0, min=0, help="mean depth a sample needs, or it fails QC (x)"),
    annotation: Path | None = typer.Option(None, help="GFF3 with gene/CDS features"),
    known: Path | None = typer.Option(None, help="known-variants VCF (CLNSIG)"),
    aligner: str = typer.Option("minimap2", help="minimap2 | bwa"),
    caller: str = typer.Option("bcftools", help="bcftools | freebayes | learned"),
    model: str = typer.Option(
        "variant-caller@champion",
        help="the learned caller's model, NAME@ALIAS or NAME/VERSION (resolved once)",
    ),
    lake: str | None = typer.Option(
        None, help="lake URL for reads_qc/coverage/variants rows (default: settings)"
    ),
    no_lake: bool = typer.Option(False, "--no-lake", help="do not write lake rows"),
    run: str | None = typer.Option(None, help="run id (default: a new one)"),
    pdf: bool = typer.Option(False, help="also print the report to NAME.report.pdf with headless chromium"),
    allow_qc_fail: bool = typer.Option(
        False, help="write the outputs of a sample that fails a sanity gate, marked QC FAILED (exit 3)"
    ),
    project: str | None = typer.Option(
        None,
        help="register BAM, VCF and report as DRS/htsget objects of this project (default when governed)",
    ),
    assay: Path | None = typer.Option(
        None, help="assay definition (TOML): reference, targets, gates and thresholds pinned by sha256"
    ),
    cram: bool = typer.Option(False, help="also write NAME.cram (+.crai), reference by MD5 and sha256"),
) -> None:
    """FASTQ -> NAME.bam/.bai, NAME.vcf.gz/.tbi, NAME.qc.json, NAME.report.html and lake rows."""
    from labstream.genomics.assay import load_assay
    from labstream.genomics.chain import ChainOptions, call_sample
    from labstream.genomics.gates import GateThresholds

    the_assay = load_assay(assay) if assay else None
    reference = reference or (the_assay.reference.path if the_assay else None)
    if reference is None:
        raise typer.BadParameter("give --reference or an --assay that names one")
    if len(reads) not in (1, 2):
        raise typer.BadParameter("give --reads once (single-end) or twice (R1, R2)")
    from labstream.core.settings import Settings

    settings = Settings()
    lake_url = None if no_lake else (lake or settings.lake_url)
    opts = ChainOptions(
        threads=threads,
        aligner=aligner,
        caller=caller,
        annotation=annotation,
        known=known,
        lake_url=lake_url,
        allow_qc_fail=allow_qc_fail,
        gates=GateThresholds(min_mean_depth=min_depth),
        catalog_url=settings.catalog_url,  # the printed lineage id is found by `labstream lineage`
        assay=the_assay,
        # the assay's caller wins (ChainOptions): resolve the model when that one is the learned caller
        learned=_learned(model) if (the_assay.caller if the_assay else caller) == "learned" else None,
    )
    from rich.console import Console

    from labstream.cli._progress import progress_bars
    from labstream.genomics.chain import STEPS

    steps = [s for s in STEPS if s != "lake" or lake_url]
    with progress_bars(Console(stderr=True), "[bold]{task.description:<14}", done="percent") as bars:
        ids = {s: bars.add_task(s, total=1, start=False) for s in steps}

        def progress(step: str, finished: bool) -> None:
            if step not in ids:
                return
            if finished:
                bars.update(ids[step], completed=1)
                bars.stop_task(ids[step])
            else:
                bars.start_task(ids[step])

        try:
            res = call_sample(
                reference,
                reads[0],
                reads[1] if len(reads) == 2 else None,
                sample=sample,
                out_dir=out,
                run=run,
                opts=opts,
                progress=progress,
            )
        except InputError as err:
            bars.stop()
            _fail(err)
            return
    typer.echo(f"sample {res.sample}  run {res.run}  lineage {res.lineage_id}")
    typer.echo(
        f"reads {res.qc['reads']}  Q30 {res.qc['q30_fraction']:.3f}  mapped "
        f"{res.qc.get('mapped_fraction', 0):.3f}  variants {len(res.variants)}"
    )
    for p in (res.bam, res.vcf, res.qc_json, res.report):
        typer.echo(f"wrote {p}")
    if pdf:
        from labstream.genomics.report import render_pdf

        done = render_pdf(res.report, res.report.with_suffix(".pdf"))
        typer.echo(
            f"wrote {done}" if done else "no PDF: chromium is not installed (the HTML report is complete)"
        )
    typer.echo("timings " + " ".join(f"{k}={v:.2f}s" for k, v in res.timings.items()))
    cram_path = None
    if cram:
        from labstream.genomics.cram import write_cram
        from labstream.genomics.reference import open_reference

        cram_path = write_cram(res.bam, open_reference(reference), threads=threads)
        typer.echo(f"wrote {cram_path}")
    if res.failed_gates:
        typer.echo(f"QC FAILED: gates {', '.join(res.failed_gates)} (see {res.qc_json})", err=True)
        raise typer.Exit(3)
    _register(res, project, cram_path)  # a sample that passed its gates is served at once


def _register(res, project: str | None, cram: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    """Serve the results at once: DRS objects of the project, htsget ids for the BAM and VCF."""
    from labstream.core.settings import Settings

    settings = Settings()
    if project is None and not settings.governed:
        return
    from labstream.governance.results import register_results
    from labstream.governance.service import Governance

    gov = Governance.open(settings)
    try:
        done = register_results(
            gov, project or settings.project, sample=res.sample, run_id=res.run, bam=res.bam, vcf=res.vcf,
            report=res.report, cram=cram,
        )  # fmt: skip
        gov.audit.record(
            "cli:genomics.call", "results.register", project=project or settings.project, detail=done.ids()
        )
    finally:
        gov.close()
    ids = done.ids()
    more = f"  cram {ids['cram']}" if "cram" in ids else ""
    typer.echo(f"DRS objects: bam {ids['bam']}  vcf {ids['vcf']}  report {ids['report']}{more}")
    typer.echo(
        f"htsget: /reads/{ids['bam']}  /variants/{ids['vcf']}" + (f"  /reads/{ids['cram']}" if more else "")
    )


@app.command("call-nanopore")
def call_nanopore_cmd(
    reads: list[Path] = typer.Option(
        ..., help="FASTQ or unaligned BAM batches of one barcode, in order (repeat --reads)"
    ),
    sample: str = typer.Option(..., help="sample name (read group SM and VCF sample column)"),
    out: Path = typer.Option(..., help="output folder"),
    reference: Path | None = typer.Option(None, help="reference FASTA (default: the assay's)"),
    assay: Path | None = typer.Option(
        None, help="assay definition (TOML): adds the clinical report (SAMPLE.report.html) under it"
    ),
    threads: int = typer.Option(2, min=1),
    min_depth: float = typer.Option(10.0, min=0, help="mean depth a sample needs, or it fails QC (x)"),
) -> None:
    """Nanopore reads: minimap2 -ax map-ont, SNV calls with bcftools' ONT profile (indels not called)."""
    from labstream.genomics.assay import load_assay
    from labstream.genomics.nanopore import LIMITATIONS, call_nanopore

    check_identifier(sample, what="sample name", source="--sample")
    the_assay = load_assay(assay) if assay else None
    reference = reference or (the_assay.reference.path if the_assay else None)
    if reference is None:
        raise typer.BadParameter("give --reference or an --assay that names one")
    if the_assay is not None:  # the assay's depth gate applies too, never below the nanopore minimum
        min_depth = max(min_depth, the_assay.gates.min_mean_depth)
    try:
        res = call_nanopore(reference, reads, out, sample=sample, threads=threads, min_depth=min_depth)
    except InputError as err:
        _fail(err)
        return
    typer.echo(
        f"sample {res.sample}  reads {res.reads}  mean depth {res.mean_depth:.1f}x  variants {res.variants}"
    )
    written = [res.bam, res.vcf, res.summary]
    if the_assay is not None:
        from labstream.genomics.nanopore_report import write_nanopore_report
        from labstream.genomics.reference import open_reference

        report, reported = write_nanopore_report(
            out / f"{sample}.report.html", sample=sample, run=out.name, ref=open_reference(reference),
            bam=res.bam, vcf=res.vcf, assay=the_assay, timings=res.timings,
        )  # fmt: skip
        written.append(report)
        typer.echo(f"assay {the_assay.label}: {len(reported)} call(s) in its targets reported")
    for p in written:
        typer.echo(f"wrote {p}")
    typer.echo(f"limitations: {LIMITATIONS}")


@app.command()
def evaluate(
    reference: Path = typer.Option(...),
    truth: Path = typer.Option(..., help="truth VCF"),
    calls: Path = typer.Option(..., help="VCF to evaluate"),
    regions: Path | None = typer.Option(None, help="BED of regions to evaluate in"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    match: str = typer.Option(
        "haplotype", help="haplotype (nearby variants compared as haplotype sequences) or allele (keys only)"
    ),
    callable_bam: Path | None = typer.Option(
        None, help="also score inside the callable regions of this BAM (depth >= --min-depth): both tables"
    ),
    min_depth: int = typer.Option(5, min=1, help="callable: samtools depth at least this (fixed a priori)"),
    min_mapq: int = typer.Option(
        0, min=0, help="callable: count only reads of this mapping quality or more (1: leave out segdups)"
    ),
) -> None:
    """Precision, recall, F1 for SNPs and indels after normalisation; genotype concordance."""
    import tempfile

    from labstream.genomics.evaluate import callable_regions, format_table
    from labstream.genomics.evaluate import evaluate as run_eval
    from labstream.genomics.reference import open_reference

    try:
        if callable_bam is not None and regions is not None:
            raise InputError(str(regions), "--regions and --callable-bam both given", hint="pass one")
        if min_mapq and callable_bam is None:
            raise InputError(
                "--min-mapq", "applies to the callable regions", hint="pass --callable-bam BAM too"
            )
        ref = open_reference(reference)
        tables = {"all sites": run_eval(ref, truth, calls, regions, match=match)}
        if callable_bam is not None:
            with tempfile.TemporaryDirectory(prefix="labstream-callable-") as tmp:
                bed = callable_regions(callable_bam, Path(tmp) / "callable.bed", min_depth, min_mapq)
                label = f"depth >= {min_depth}" + (f", MAPQ >= {min_mapq}" if min_mapq else "")
                tables[f"callable ({label})"] = run_eval(ref, truth, calls, bed, match=match)
    except InputError as err:
        _fail(err)
        return
    if as_json:
        as_dicts = {t: {k: m.to_dict() for k, m in ms.items()} for t, ms in tables.items()}
        typer.echo(json.dumps(as_dicts if callable_bam else as_dicts["all sites"], indent=2))
    else:
        typer.echo(
            "\n\n".join((f"{t}:\n" if callable_bam else "") + format_table(ms) for t, ms in tables.items())
        )


@app.command()
def simulate(
    reference: Path = typer.Option(...),
    out: Path = typer.Option(...),
    coverage: float = typer.Option(30.0),
    sample: str = typer.Option("SIM1"),
    seed: int = typer.Option(7),
    watch: Path | None = typer.Option(None, help="also stream FASTQ chunks into this folder"),
    pairs_per_chunk: int = typer.Option(5000),
    interval: float = typer.Option(0.0, help="seconds between chunks"),
) -> None:
    """Simulate a sequencing run with planted variants (truth VCF, GFF3, known VCF, paired FASTQ)."""
    from labstream.instruments.sequencer import SimConfig, simulate_run, stream_chunks

    try:
        check_identifier(sample, what="sample name", source="--sample")  # it names the files written
        run = simulate_run(reference, out, SimConfig(coverage=coverage, sample=sample, seed=seed))
    except InputError as err:
        _fail(err)
        return
    typer.echo(f"{run.pairs} pairs, {len(run.variants)} planted variants -> {out}")
    if watch:
        landed = stream_chunks(
            run.r1,
            run.r2,
            watch,
            sample=sample,
            pairs_per_chunk=pairs_per_chunk,
            interval_s=interval,
            total_pairs=run.pairs,
        )
        typer.echo(f"{len(landed)} chunk files landed in {watch}")


def _register_signoff() -> None:
    from labstream.cli import report_signoff

    report_signoff.register(app)


_register_signoff()
