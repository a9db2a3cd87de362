"""Inputs shared by every case of a family, made once per process: a small simulated plate (one plate,
eight wells, five 192² channels) and a small sequencing run of lambda phage (~1,000 read pairs)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

LAMBDA = Path("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")


@functools.cache
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="labstream-hostile-assets-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@functools.cache
def plate() -> Any:
    """A SimulatedSet: `.images` (P01_<well>_s1_w<1..5>.tif) and `.platemap` (plate,well,...,sites)."""
    from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec

    spec = PlateSetSpec(
        plates=1,
        complexes=2,
        genes_per_complex=2,
        nulls=1,
        negative_controls=2,
        positive_controls=1,
        sites_per_well=1,
        size=192,
        seed=3,
    )
    return MicroscopeSimulator(spec).write(_root() / "plate", "tiff")


@functools.cache
def run() -> Any:
    """A SimulatedRun of lambda phage at 6x: `.reference` (plain FASTA), `.r1`, `.r2` (gzip FASTQ)."""
    from labstream.instruments.sequencer import SimConfig, simulate_run

    if not LAMBDA.exists():
        raise FileNotFoundError(f"{LAMBDA}: install Debian's bowtie2-examples (scripts/setup-debian.sh)")
    return simulate_run(LAMBDA, _root() / "run", SimConfig(coverage=6, seed=11, sample="LAM1"))


def copy_plate(tmp: Path) -> tuple[Path, Path]:
    """A private copy of the plate: (images folder, platemap CSV)."""
    src = plate()
    images = tmp / "images"
    shutil.copytree(src.images, images)
    pm = tmp / "platemap.csv"
    shutil.copy(src.platemap, pm)
    return images, pm


def wells() -> list[str]:
    import csv

    with open(plate().platemap) as fh:
        return [row["well"] for row in csv.DictReader(fh)]
