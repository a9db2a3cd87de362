"""`labstream phenomics ...`: profile a folder of Cell Painting images, simulate a microscope."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from labstream.cli._options import read_option

app = typer.Typer(
    suggest_commands=False,
    no_args_is_help=True,
    add_completion=False,
    help="Cell Painting: images to a map of biology.",
)


@app.command()
def profile(
    images: Path = typer.Option(..., "--images", help="folder of TIFF / RxRx PNG / OME-Zarr plates"),
    platemap: Path = typer.Option(..., "--platemap", help="CSV: plate, well, perturbation, role"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    relationships: Path | None = typer.Option(None, "--relationships", help="CSV: gene_a, gene_b"),
    workers: int = typer.Option(0, "--workers", help="processes (0: one per CPU core)"),
    segmenter: str = typer.Option("classic", "--segmenter", help="segmentation model name"),
    platform: bool = typer.Option(
        False, "--platform", help="run through ingest, stream, stages and the lake (under OUT/.labstream)"
    ),
    layout: str | None = read_option("layout"),
    name_pattern: str | None = read_option("name_pattern"),
    channels: str | None = read_option("channels"),
    projection: str = read_option("projection"),
) -> None:
    """Run QC, segmentation, features, normalisation, alignment and the map; write profiles and figures."""
    from rich.console import Console

    from labstream.cli._progress import progress_bars
    from labstream.core.errors import ConfigError, InputError
    from labstream.phenomics.chain import profile_directory
    from labstream.phenomics.read_settings import ReadOptions

    try:
        read = ReadOptions(layout=layout, name_pattern=name_pattern, channels=channels, projection=projection)
        read.check()
    except ConfigError as err:
        raise typer.BadParameter(str(err)) from err

    console = Console(stderr=True)
    n = workers or os.cpu_count() or 1
    with progress_bars(console, clock="remaining") as bar:
        task = bar.add_task("sites", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=total)

        try:
            if platform:
                from labstream.phenomics.stages import profile_via_platform

                res = profile_via_platform(images, platemap, out, relationships, progress=progress, read=read)
            else:
                res = profile_directory(
                    images,
                    platemap,
                    out,
                    relationships,
                    workers=n,
                    segmenter=segmenter,
                    progress=progress,
                    read=read,
                )
        except InputError as err:
            console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(2) from err
    m = res.metrics
    qc = m["qc"]
    console.print(
        f"sites measured {qc['sites_measured']}/{qc['sites_total']}, quarantined "
        f"{qc['sites_quarantined']}, layout problems {qc['layout_problems']}, cells {qc['cells']}, "
        f"{m['sites_per_second']:.2f} sites/s with {n} worker(s)"
    )
    for q in res.quarantined[:10]:
        console.print(f"  [yellow]quarantined[/yellow] {q['source']}: {q['problem']}")
    console.print(
        f"active perturbations {m['n_active']}/{m['n_perturbations']} (mean mAP {m['mean_map']:.3f})"
    )
    if "recall" in m:
        r = m["recall"]
        console.print(
            f"known-relationship recall {r['recall']:.2f} ({r['n_recalled']}/{r['n_pairs']} pairs; "
            f"chance {r['chance']:.2f})"
        )
    if len(res.map.hits):
        console.print("hits: " + ", ".join(res.map.hits.Metadata_Perturbation.astype(str).head(12)))
    console.print(f"wrote {out}/well_profiles.parquet, perturbation_profiles.parquet, metrics.json, figures")


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", help="folder for images/, platemap.csv, relationships.csv"),
    layout: str = typer.Option(
        "tiff",
        "--layout",
        help="tiff | rxrx | zarr | imagexpress | phenix | cellvoyager | ome-tiff | pattern",
    ),
    plates: int = typer.Option(2, "--plates"),
    sites: int = typer.Option(2, "--sites", help="sites per well"),
    size: int = typer.Option(256, "--size", help="image side in pixels"),
    seed: int = typer.Option(0, "--seed"),
    rate: float = typer.Option(0.0, "--rate", help="stream sites into OUT/images at this many per second"),
    stream: bool = typer.Option(
        False, "--stream", help="write site by site into OUT/images (at --rate, or as fast as possible)"
    ),
) -> None:
    """Write a simulated Cell Painting plate set with known biology (all at once or streamed).

    Streamed OME-Zarr plates are written field by field, each field chunk by chunk, into
    OUT/images/{plate}.ome.zarr: `labstream watch OUT/images --pipeline phenomics` takes each field
    as it completes."""
    from labstream.instruments.microscope import LAYOUTS, MicroscopeSimulator, PlateSetSpec

    if layout not in LAYOUTS:
        raise typer.BadParameter(f"layout must be one of {', '.join(LAYOUTS)}", param_hint="--layout")
    sim = MicroscopeSimulator(PlateSetSpec(plates=plates, sites_per_well=sites, size=size, seed=seed))
    if stream or rate > 0:
        sim.write_metadata(out, layout)
        sim.write_metadata(out / "images", layout)
        for key, _ in sim.stream(out / "images", layout, rate=rate):
            typer.echo(f"landed {key.id}")
        return
    res = sim.write(out, layout)
    typer.echo(
        json.dumps(
            {
                "images": str(res.images),
                "platemap": str(res.platemap),
                "relationships": str(res.relationships),
                "files": len(res.files),
            }
        )
    )
