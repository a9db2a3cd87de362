"""`labstream models`: the model registry (list, show, register, train, promote, rollback, verify, rescore).

The registry URL is `LABSTREAM_MODEL_REGISTRY`, by default `sqlite:///<home>/models/registry.db`.
Promotions and rollbacks go through the gate (models/gate.py) and are written to the audit log.
"""

from __future__ import annotations

import getpass
import json
import tempfile
from pathlib import Path

import typer

app = typer.Typer(
    suggest_commands=False,
    no_args_is_help=True,
    help="Model registry: versions, aliases, promotion, verification.",
)

LAMBDA = "/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"
EVAL_DEFAULT = [
    "heldout-sequencer-mt-human=sequencer:/usr/share/doc/minimap2/test/MT-human.fa.gz",
    "heldout-wgsim-mt-orang=wgsim:/usr/share/doc/minimap2/test/MT-orang.fa.gz",
]


def _registry():  # type: ignore[no-untyped-def]
    from labstream.models import open_registry
    from labstream.models.base import registry_url

    return open_registry(registry_url())


def _audit():  # type: ignore[no-untyped-def]
    """An audit callback writing to the governance audit log, and the Governance to close after."""
    from labstream.governance.service import Governance

    gov = Governance.open()

    def record(actor: str, action: str, detail: dict) -> None:  # type: ignore[type-arg]
        resource = f"model:{detail['model']}@{detail['alias']}"
        gov.audit.record(
            actor, action, resource=resource, reason=str(detail.get("reason", "")), detail=detail
        )

    return gov, record


@app.command("list")
def list_models() -> None:
    """Every model with its versions, aliases and digests."""
    reg = _registry()
    if not reg.models():
        typer.echo("no model registered yet: `labstream models train` trains and registers one")
    for name in reg.models():
        for mv in reg.versions(name):
            alias = f" [{', '.join(mv.aliases)}]" if mv.aliases else ""
            typer.echo(f"{mv.tag}{alias}")


@app.command("show")
def show(ref: str = typer.Argument(..., help="NAME@ALIAS or NAME/VERSION")) -> None:
    """One version as JSON, with the model's decisions."""
    from labstream.models import resolve

    reg = _registry()
    mv = resolve(reg, ref)
    out = mv.to_dict() | {"decisions": [d.__dict__ for d in reg.decisions(mv.name)]}
    typer.echo(json.dumps(out, indent=2, sort_keys=True))


@app.command("register")
def register(
    name: str,
    weights: Path = typer.Option(..., exists=True, dir_okay=False, help="model weights file"),
    manifest: Path = typer.Option(
        ...,
        exists=True,
        dir_okay=False,
        help="JSON: flavor, code_version, training_data, params, metrics, "
        "test_input (path to .npy), test_output_sha256",
    ),
) -> None:
    """Register a version from a weights file and its manifest."""
    m = json.loads(manifest.read_text())
    test_input = (manifest.parent / m["test_input"]).read_bytes()
    mv = _registry().register(
        name,
        weights.read_bytes(),
        flavor=m["flavor"],
        code_version=m["code_version"],
        training_data=m.get("training_data", []),
        params=m.get("params", {}),
        metrics=m.get("metrics", {}),
        test_input=test_input,
        test_output_sha256=m["test_output_sha256"],
        description=m.get("description", ""),
    )
    typer.echo(f"registered {mv.tag}")


FEATURE_NAMES = ("base", "realign", "context")  # learned_features.FEATURE_SETS, in order


@app.command("train")
def train(
    name: str = typer.Option("variant-caller", help="registered model name"),
    reference: list[str] = typer.Option([LAMBDA], help="training reference FASTA(s)"),
    seeds: int = typer.Option(16, help="training samples per reference (seeds 101, 102, ...)"),
    first_seed: int = typer.Option(101),
    synthetic_genomes: int = typer.Option(12, help="synthetic training genomes, 2 samples each (0: none)"),
    dwgsim: int = typer.Option(1, min=0, max=2, help="dwgsim samples per synthetic genome (0: none)"),
    lowdepth: int = typer.Option(
        1, min=0, help="8-15x samples per synthetic genome (LOWDEPTH_MIX; 1: picked in sessions 10-12)"
    ),
    imbalance: int = typer.Option(0, min=0, help="allelic-imbalance samples per genome (IMBALANCE_MIX)"),
    multiallelic: int = typer.Option(
        0, min=0, help="samples per genome with 1/2 sites, two ALTs at one position (MULTIALLELIC_MIX)"
    ),
    read_indel_errors: float = typer.Option(
        1e-4,
        min=0.0,
        max=0.01,
        help="1-base indel errors per base in every sequencer training read (READ_INDEL_ERROR_RATE; 0: none)",
    ),
    features: str = typer.Option("context", help="base | realign | context (learned_features.FEATURE_SETS)"),
    eval_set: list[str] = typer.Option(EVAL_DEFAULT, help="NAME=SIMULATOR:REFERENCE (held-out)"),
    eval_seeds: int = typer.Option(3),
    seed: int = typer.Option(0, help="the model's random seed"),
    max_iter: int = typer.Option(600, help="boosting rounds (600: the validation pick)"),
    threads: int | None = typer.Option(
        None, min=1, help="the model's OpenMP threads (default: the CPUs this process may use, never more)"
    ),
) -> None:
    """Simulate training samples, fit the learned caller, evaluate it beside bcftools, register it."""
    if features not in FEATURE_NAMES:
        raise typer.BadParameter(
            f"{features!r}: use one of {', '.join(FEATURE_NAMES)}", param_hint="--features"
        )
    from labstream.genomics.learned_features import FEATURE_SETS
    from labstream.genomics.learned_model import FORMAT, cpu_threads
    from labstream.instruments.training_sets import (
        dwgsim_training_samples,
        evaluation_set,
        synthetic_training_samples,
        training_samples,
    )
    from labstream.models.train import evaluate_sets
    from labstream.models.train import train as fit

    with tempfile.TemporaryDirectory(prefix="labstream-train-") as tmp:
        base = Path(tmp)
        rate = read_indel_errors
        samples = training_samples(
            reference, list(range(first_seed, first_seed + seeds)), base / "train", indel_error_rate=rate
        )
        genomes = list(range(1, 1 + synthetic_genomes))
        samples += synthetic_training_samples(genomes, 2, base / "syn", indel_error_rate=rate)
        for second in range(dwgsim):
            samples += dwgsim_training_samples(genomes, base / f"dw{second}", second=bool(second))
        for mix, per_genome in (
            ("lowdepth", lowdepth),
            ("imbalance", imbalance),
            ("multiallelic", multiallelic),
        ):
            if per_genome:
                samples += synthetic_training_samples(
                    genomes, per_genome, base / mix, mix=mix, indel_error_rate=rate
                )
        columns = FEATURE_SETS[FEATURE_NAMES.index(features)]
        trained = fit(
            samples, seed=seed, max_iter=max_iter, model_threads=cpu_threads(threads), features=columns
        )
        sets = {}
        for spec in eval_set:
            set_name, _, what = spec.partition("=")
            simulator, _, ref = what.partition(":")
            eseeds = list(range(900, 900 + eval_seeds))
            sets[set_name] = evaluation_set(simulator, ref, eseeds, [12.0, 30.0], base / set_name)
        metrics = evaluate_sets(trained.model, sets, model_threads=cpu_threads(threads))
    mv = _registry().register(
        name,
        trained.weights,
        flavor=FORMAT,
        code_version=_code_version(),
        training_data=trained.training_data,
        params=trained.params | {"train_seconds": round(trained.seconds, 2)},
        metrics=metrics,
        test_input=trained.test_input,
        test_output_sha256=trained.test_output_sha256,
    )
    typer.echo(f"registered {mv.tag}")
    typer.echo(json.dumps(metrics, indent=2, sort_keys=True))


def _code_version() -> str:
    from labstream.genomics import learned_features, learned_model, learned_realign
    from labstream.runtime.lineage import code_version

    parts = (
        learned_features.featurize,
        learned_realign.realign_features,
        learned_features.motif_context,
        learned_model.VariantModel.fit,
    )
    return ";".join(code_version(f) for f in parts)


@app.command("promote")
def promote(
    ref: str = typer.Argument(..., help="NAME/VERSION"),
    alias: str = typer.Option("champion"),
    actor: str = typer.Option("", help="who approves (default: the OS user)"),
    reason: str = typer.Option(""),
) -> None:
    """Move ALIAS to a version if it passes the gate (reproduces its test output, beats the holder)."""
    from labstream.models import parse_ref
    from labstream.models.gate import promote as gate_promote

    name, _, version = parse_ref(ref)
    if version is None:
        raise typer.BadParameter("give NAME/VERSION", param_hint="REF")
    gov, audit = _audit()
    try:
        d = gate_promote(
            _registry(),
            name,
            version,
            actor=actor or getpass.getuser(),
            alias=alias,
            reason=reason,
            audit=audit,
        )
    finally:
        gov.close()
    typer.echo(f"promoted {name}/{d.challenger} to {alias} (was {d.champion})")


@app.command("rollback")
def rollback(
    name: str,
    alias: str = typer.Option("champion"),
    actor: str = typer.Option(""),
    reason: str = typer.Option(""),
) -> None:
    """Move ALIAS back to the version it named before its last promotion."""
    from labstream.models.gate import rollback as gate_rollback

    gov, audit = _audit()
    try:
        d = gate_rollback(
            _registry(), name, actor=actor or getpass.getuser(), alias=alias, reason=reason, audit=audit
        )
    finally:
        gov.close()
    typer.echo(f"rolled {name}@{alias} back to {name}/{d.challenger} (from {d.champion})")


@app.command("verify")
def verify(name: str = typer.Argument(None, help="one model (default: all)")) -> None:
    """Re-compute every version's test output from its stored weights; exit 1 on any failure."""
    from labstream.models.verify import verify_all

    results = verify_all(_registry(), name)
    if not results:
        typer.echo("no model versions registered")
    for r in results:
        typer.echo(f"{'ok' if r.ok else 'FAILED'} {r.tag}" + (f": {r.problem}" if r.problem else ""))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("rescore")
def rescore(
    folder: Path | None = typer.Argument(
        None,
        exists=True,
        file_okay=False,
        help="one `genomics call` output folder (default: every affected sample in the lake)",
    ),
    sample: str | None = typer.Option(None, help="with FOLDER: the sample"),
    reference: Path | None = typer.Option(None, exists=True, dir_okay=False, help="with FOLDER"),
    model: str = typer.Option("variant-caller@champion", help="NAME@ALIAS or NAME/VERSION"),
    lake: str | None = typer.Option(None, help="lake URL (default: settings)"),
    no_lake: bool = typer.Option(False, "--no-lake", help="with FOLDER: write no rows"),
    project: str | None = typer.Option(None, help="only this project's samples"),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="API token (default: $LABSTREAM_TOKEN) to amend governed signed reports"
    ),
) -> None:
    """Re-call samples with another model version: new VCF and rows, amended reports, new lineage.

    Without FOLDER every sample whose lake rows name an older version of the model is rescored, found
    through the lineage of its rows; with an API token (role rescorer) its governed signed reports are
    amended (new draft versions, reason "model NAME vA → vB"). Each sample is audited (models.rescore)."""
    from labstream.core.settings import Settings
    from labstream.models import resolve

    settings = Settings()
    reg = _registry()
    mv = resolve(reg, model)  # once: a promotion while this runs does not change it
    lake_url = None if no_lake else (lake or settings.lake_url)
    if folder is None:
        _rescore_affected(reg, mv, lake or settings.lake_url, settings.catalog_url, project, token_file)
        return
    if not sample or reference is None:
        raise typer.BadParameter("with FOLDER give --sample and --reference", param_hint="FOLDER")
    from labstream.models.rescore import rescore as run_rescore

    res = run_rescore(reg, mv, folder, sample, reference, lake_url=lake_url, catalog_url=settings.catalog_url)
    if not res.changed:
        typer.echo(f"{sample}: already called with {mv.tag}; nothing to do")
        return
    typer.echo(
        f"{sample}: {res.before} -> {res.after}: {res.rows} calls in {res.vcf}, amended report {res.report}"
    )
    typer.echo(f"lineage {res.lineage_id}")


def _rescore_affected(reg, mv, lake_url: str, catalog_url: str, project, token_file) -> None:  # type: ignore[no-untyped-def]
    import os

    from labstream.cli.report_signoff import TOKEN_ENV
    from labstream.governance.service import Governance
    from labstream.models.rescore_affected import rescore_affected

    gov = Governance.open()
    try:
        token = token_file.read_text().strip() if token_file else os.environ.get(TOKEN_ENV, "").strip()
        who = gov.directory.authenticate(token) if token else None
        actor = who.name if who else getpass.getuser()

        def audit(proj: str, detail: dict) -> None:  # type: ignore[type-arg]
            gov.audit.record(actor, "models.rescore", resource=f"sample:{proj}/{detail['sample']}",
                             project=proj, detail=detail)  # fmt: skip

        outcomes = rescore_affected(reg, mv, lake_url=lake_url, catalog_url=catalog_url, project=project,
                                    gov=gov if who else None, who=who, audit=audit)  # fmt: skip
    finally:
        gov.close()
    if not outcomes:
        typer.echo(f"no sample's rows name an older version of {mv.name}; nothing to do")
    for o in outcomes:
        a, r = o.affected, o.rescored
        head = f"{a.project}/{a.run}/{a.sample}: {a.tag} -> {mv.tag}"
        if o.problem:
            typer.echo(f"{head}: not rescored: {o.problem}")
        elif r is not None:
            amended = (
                f", amended governed reports {', '.join(o.amended_reports)}" if o.amended_reports else ""
            )
            typer.echo(f"{head}: {r.rows} calls in {r.vcf}, report {r.report}{amended}")
    if who is None:
        typer.echo(f"(no API token: governed signed reports were not amended; set {TOKEN_ENV} to amend them)")
    if any(o.problem for o in outcomes):
        raise typer.Exit(1)


@app.command("pin")
def pin(ref: str = typer.Argument("variant-caller@champion", help="NAME@ALIAS or NAME/VERSION")) -> None:
    """Resolve a model now and print the genomics pipeline settings that pin it for a whole run (TOML)."""
    from labstream.models import resolve

    reg = _registry()
    mv = resolve(reg, ref)
    reg.weights(mv)  # refuses a tampered or missing blob now, not in the middle of a run
    typer.echo(f'model_weights = "{reg.blobs.path(mv.sha256)}"')
    typer.echo(f'model_sha256 = "{mv.sha256}"')
    typer.echo(f'model_tag = "{mv.tag}"')
