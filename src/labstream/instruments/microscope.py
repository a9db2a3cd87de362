"""A Cell Painting microscope simulator with a known biology, for demos, tests and benchmarks.

Perturbations are grouped into complexes; members of a complex share a shift of the cells' latent
morphology (nucleus and cell size, stain intensities, mitochondrial granularity, ER distribution,
nucleus shape). Null perturbations shift nothing; the positive control shifts strongly. Each plate has
its own channel gains and illumination field, so normalization and illumination correction have real
work to do. Every site's nucleus count is known (nuclei never touch and never cross the border), so
segmentation can be checked exactly.

Layouts: ImageXpress-style TIFF `{plate}_{well}_s{site}_w{channel}.tif`, the RxRx layout
`{experiment}/Plate{n}/{well}_s{site}_w{channel}.png` with `metadata.csv`, OME-Zarr HCS plates, and
the instrument exports of microscope_layouts (ImageXpress with HTD, Opera Phenix with Harmony's index,
CellVoyager with .mlf/.mrf, OME-TIFF, a user-declared name pattern), metadata files included.
Files are written under a temporary hidden name and renamed, so a watcher never sees half a file;
OME-Zarr fields are written in place, chunk by chunk, as microscopes do (the watcher waits for them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from labstream.instruments.microscope_layouts import (
    INSTRUMENT_LAYOUTS,
    write_instrument_metadata,
    write_instrument_site,
)
from labstream.phenomics.model import CHANNELS, SiteKey, well_name

LAYOUTS = ("tiff", "rxrx", "zarr", *INSTRUMENT_LAYOUTS)
N_LATENT = 10  # nucleus size, cell size, DNA, ER, RNA, AGP, Mito, Mito granularity, ER radial, elongation


@dataclass(frozen=True)
class PlateSetSpec:
    plates: int = 2
    complexes: int = 4
    genes_per_complex: int = 3
    nulls: int = 4
    negative_controls: int = 4  # wells per plate
    positive_controls: int = 2
    sites_per_well: int = 2
    size: int = 256
    cells_per_site: tuple[int, int] = (12, 20)
    cell_scale: float = 0.0  # cell size in pixels relative to a 256² field's; 0: grows with the field
    effect: float = 1.0  # complex shift magnitude (in latent SDs)
    bit_depth: int = 16
    binning: int = 1  # camera binning: `size`² sensor pixels written as (size/binning)² (2: 2x2)
    experiment: str = "SIM"
    seed: int = 0


@dataclass
class SimulatedSet:
    """What a write produced: where, and the truth to score against."""

    root: Path
    layout: str
    images: Path
    platemap: Path
    relationships: Path
    truth: Path
    files: list[Path] = field(default_factory=list)


def _atomic_write(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    write(tmp)
    os.replace(tmp, path)


class MicroscopeSimulator:
    def __init__(self, spec: PlateSetSpec | None = None) -> None:
        self.spec = spec or PlateSetSpec()
        s = self.spec
        rng = np.random.default_rng(s.seed)
        self.perturbations: list[dict[str, object]] = []
        shifts: dict[str, np.ndarray] = {}
        for c in range(s.complexes):
            direction = rng.normal(size=N_LATENT)
            direction *= s.effect / np.linalg.norm(direction) * np.sqrt(3.0)
            for g in range(s.genes_per_complex):
                name = f"C{c + 1}G{g + 1}"
                shifts[name] = direction + rng.normal(scale=0.15 * s.effect, size=N_LATENT)
                self.perturbations.append({"perturbation": name, "complex": f"C{c + 1}", "role": "treatment"})
        for n in range(s.nulls):
            shifts[f"NULL{n + 1}"] = np.zeros(N_LATENT)
            self.perturbations.append({"perturbation": f"NULL{n + 1}", "complex": "", "role": "treatment"})
        pos = rng.normal(size=N_LATENT)
        shifts["POSCTRL"] = pos / np.linalg.norm(pos) * 3.0 * np.sqrt(3.0)
        shifts["NEGCTRL"] = np.zeros(N_LATENT)
        self.perturbations += [
            {"perturbation": "POSCTRL", "complex": "", "role": "positive_control"},
            {"perturbation": "NEGCTRL", "complex": "", "role": "negative_control"},
        ]
        self.shifts = shifts
        self._platemap = self._make_platemap(rng)
        self.gains = rng.uniform(0.6, 1.4, size=(s.plates, len(CHANNELS)))
        self.illum_centres = rng.uniform(0.3, 0.7, size=(s.plates, 2))

    # ---- layout of the plates -------------------------------------------------------------
    def plate_ids(self, layout: str = "tiff") -> list[str]:
        if layout == "rxrx":
            return [f"{self.spec.experiment}-Plate{i + 1}" for i in range(self.spec.plates)]
        return [f"P{i + 1:02d}" for i in range(self.spec.plates)]

    def _make_platemap(self, rng: np.random.Generator) -> pd.DataFrame:
        s = self.spec
        entries = [p for p in self.perturbations if p["role"] == "treatment"]
        names = [str(p["perturbation"]) for p in entries]
        names += ["NEGCTRL"] * s.negative_controls + ["POSCTRL"] * s.positive_controls
        cols = 6 if len(names) <= 48 else 12
        rows = -(-len(names) // cols)
        wells = [well_name(r, c) for r in range(rows) for c in range(cols)]
        role = {str(p["perturbation"]): str(p["role"]) for p in self.perturbations}
        out = []
        for plate in range(s.plates):
            order = rng.permutation(len(names))
            for w, i in zip(wells, order, strict=False):
                out.append(
                    {"plate_index": plate, "well": w, "perturbation": names[i], "role": role[names[i]]}
                )
        return pd.DataFrame(out)

    def platemap(self, layout: str = "tiff") -> pd.DataFrame:
        """plate, well, perturbation, role and `sites` (fields imaged per well, for streaming)."""
        ids = self.plate_ids(layout)
        df = self._platemap.copy()
        df.insert(0, "plate", [ids[i] for i in df.pop("plate_index")])
        df["sites"] = self.spec.sites_per_well
        return df

    def relationships(self) -> pd.DataFrame:
        by_complex: dict[str, list[str]] = {}
        for p in self.perturbations:
            if p["complex"]:
                by_complex.setdefault(str(p["complex"]), []).append(str(p["perturbation"]))
        pairs = [(a, b) for genes in by_complex.values() for i, a in enumerate(genes) for b in genes[i + 1 :]]
        return pd.DataFrame(pairs, columns=["gene_a", "gene_b"])

    def sites(self, layout: str = "tiff") -> Iterator[SiteKey]:
        for _, row in self.platemap(layout).iterrows():
            for site in range(1, self.spec.sites_per_well + 1):
                yield SiteKey(str(row["plate"]), str(row["well"]), site)

    # ---- rendering -------------------------------------------------------------------------
    def render(self, key: SiteKey, layout: str = "tiff") -> tuple[np.ndarray, int]:
        """Pixels (C, H, W) of one site and its true nucleus count."""
        s = self.spec
        plate_i = self.plate_ids(layout).index(key.plate)
        pm = self._platemap[(self._platemap.plate_index == plate_i) & (self._platemap.well == key.well)]
        pert = str(pm.perturbation.iloc[0])
        seed = (s.seed * 1_000_003 + plate_i * 10_007 + hash_well(key.well) * 101 + key.site) % 2**32
        rng = np.random.default_rng(seed)
        latent = self.shifts[pert] + rng.normal(scale=0.1, size=N_LATENT)  # well-level noise
        img, n = render_site(rng, latent, s.size, s.cells_per_site, s.cell_scale)
        img *= self.gains[plate_i][:, None, None]
        img *= illumination_field(s.size, self.illum_centres[plate_i])[None]
        img += rng.normal(0.0, 0.004, size=img.shape).astype(np.float32) + 0.02
        img = bin_field(img, s.binning) if s.binning > 1 else img
        top = 255 if s.bit_depth == 8 else 65535
        scale = 0.22 * top
        out = np.clip(img * scale, 0, top).astype(np.uint8 if s.bit_depth == 8 else np.uint16)
        return out, n

    # ---- writing ---------------------------------------------------------------------------
    def write_site(self, root: Path, key: SiteKey, pixels: np.ndarray, layout: str) -> list[Path]:
        """Write one site's channels (TIFF or PNG layouts) atomically; returns the final paths."""
        import imageio.v3 as iio
        import tifffile

        if layout in INSTRUMENT_LAYOUTS:
            return write_instrument_site(root, key, pixels, layout, _atomic_write)
        paths = []
        for c in range(pixels.shape[0]):
            if layout == "tiff":
                p = root / f"{key.plate}_{key.well}_s{key.site}_w{c + 1}.tif"
                _atomic_write(p, lambda t, a=pixels[c]: tifffile.imwrite(t, a))
            elif layout == "rxrx":
                exp, plate = key.plate.split("-", 1)
                p = root / exp / plate / f"{key.well}_s{key.site}_w{c + 1}.png"
                _atomic_write(p, lambda t, a=pixels[c]: iio.imwrite(t, a, extension=".png"))
            else:
                raise ValueError(f"layout {layout!r} is not written site by site")
            paths.append(p)
        return paths

    def _stream_zarr_field(self, folder: Path, key: SiteKey, pixels: np.ndarray, started: set[str]) -> Path:
        from labstream.phenomics.reading import write_zarr_field, write_zarr_plate_metadata

        plate = folder / f"{key.plate}.ome.zarr"
        if key.plate not in started:
            pm = self.platemap("zarr")
            wells = pm.loc[pm.plate == key.plate, "well"]
            # zarr writes a group's empty attributes before the plate's: build the metadata under a
            # hidden name and rename it, so a watcher never sees a plate folder without `plate`
            hidden = plate if plate.exists() else folder / f".{plate.name}.part"
            write_zarr_plate_metadata(hidden, key.plate, dict.fromkeys(wells, self.spec.sites_per_well))
            if hidden != plate:
                os.replace(hidden, plate)
            started.add(key.plate)
        return write_zarr_field(plate, key, pixels, list(CHANNELS))

    def write_plate_metadata(self, images: Path, plate: str, layout: str) -> list[Path]:
        """The instrument's own metadata files of one plate (HTD, Harmony index, .mlf/.mrf), if any."""
        if layout not in INSTRUMENT_LAYOUTS:
            return []
        pm = self.platemap(layout)
        wells = sorted(pm.loc[pm.plate == plate, "well"])
        return write_instrument_metadata(
            images, plate, wells, self.spec.sites_per_well, layout, _atomic_write
        )

    def write_metadata(self, root: Path, layout: str) -> tuple[Path, Path, Path]:
        root.mkdir(parents=True, exist_ok=True)
        pm = root / "platemap.csv"
        self.platemap(layout).to_csv(pm, index=False)
        rel = root / "relationships.csv"
        self.relationships().to_csv(rel, index=False)
        truth = root / "perturbations.csv"
        pd.DataFrame(self.perturbations).to_csv(truth, index=False)
        return pm, rel, truth

    def write(self, root: str | Path, layout: str = "tiff") -> SimulatedSet:
        """Write every plate at once in `layout`, plus platemap, relationships and truth CSVs."""
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}")
        root = Path(root)
        images = root / "images"
        pm, rel, truth = self.write_metadata(root, layout)
        counts, files = [], []
        if layout == "zarr":
            from labstream.phenomics.reading import write_zarr_plate

            by_plate: dict[str, dict[SiteKey, np.ndarray]] = {}
            for key in self.sites(layout):
                px, n = self.render(key, layout)
                by_plate.setdefault(key.plate, {})[key] = px
                counts.append({"plate": key.plate, "well": key.well, "site": key.site, "n_nuclei": n})
            for plate, sites in by_plate.items():
                files.append(write_zarr_plate(images / f"{plate}.ome.zarr", sites, list(CHANNELS)))
        else:
            for plate in self.plate_ids(layout):
                files += self.write_plate_metadata(images, plate, layout)
            for key in self.sites(layout):
                px, n = self.render(key, layout)
                files += self.write_site(images, key, px, layout)
                counts.append({"plate": key.plate, "well": key.well, "site": key.site, "n_nuclei": n})
            if layout == "rxrx":
                self._rxrx_metadata(images, counts)
        pd.DataFrame(counts).to_csv(root / "site_truth.csv", index=False)
        return SimulatedSet(root, layout, images, pm, rel, truth, files)

    def _rxrx_metadata(self, images: Path, counts: list[dict[str, object]]) -> None:
        rows = []
        for c in counts:
            exp, plate = str(c["plate"]).split("-", 1)
            rows.append(
                {
                    "site_id": f"{exp}_{plate[5:]}_{c['well']}_{c['site']}",
                    "experiment": exp,
                    "plate": int(plate[5:]),
                    "well": c["well"],
                    "site": c["site"],
                }
            )
        meta = images / "metadata.csv"
        _atomic_write(meta, lambda t: pd.DataFrame(rows).to_csv(t, index=False))

    def stream(
        self, folder: str | Path, layout: str = "tiff", rate: float = 0.0, limit: int | None = None
    ) -> Iterator[tuple[SiteKey, list[Path]]]:
        """Write site after site into a watched folder at `rate` sites/s (0: as fast as possible).

        OME-Zarr: a plate's folder and metadata (its wells and their fields) are written when its first
        site is due, then each field in place, chunk by chunk like a microscope: the watcher sees
        half-written fields and must wait for them. The paths yielded are the field folders."""
        folder = Path(folder)
        started: set[str] = set()
        for i, key in enumerate(self.sites(layout)):
            if limit is not None and i >= limit:
                return
            t0 = time.perf_counter()
            px, _ = self.render(key, layout)
            if layout == "zarr":
                paths = [self._stream_zarr_field(folder, key, px, started)]
            else:
                if key.plate not in started:
                    started.add(key.plate)
                    self.write_plate_metadata(folder, key.plate, layout)
                paths = self.write_site(folder, key, px, layout)
            yield key, paths
            if rate > 0:
                time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - t0)))


def bin_field(img: np.ndarray, factor: int) -> np.ndarray:
    """Camera binning of (C, H, W): factor² sensor pixels read out as their mean (their charge at 1/factor²
    of the exposure, as labs set it to keep the range; read noise averaged down); edges cropped."""
    c, hh, ww = img.shape[0], img.shape[1] // factor, img.shape[2] // factor
    blocks = img[:, : hh * factor, : ww * factor].reshape(c, hh, factor, ww, factor)
    return blocks.mean(axis=(2, 4), dtype=np.float32)


def hash_well(well: str) -> int:
    return (ord(well[0]) - 64) * 100 + int(well[1:])


def illumination_field(size: int, centre: np.ndarray) -> np.ndarray:
    """Smooth vignetting: 1.0 at the optical centre, about 0.6 in the far corner."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    r2 = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    return (1.0 - 0.8 * r2).astype(np.float32)


def _place(rng: np.random.Generator, n: int, size: int, margin: float, min_dist: float) -> np.ndarray:
    pts = np.empty((n, 2))
    k = 0
    for _ in range(n * 60):
        if k == n:
            break
        p = rng.uniform(margin, size - margin, size=2)
        if k == 0 or np.hypot(*(pts[:k] - p).T).min() >= min_dist:
            pts[k] = p
            k += 1
    return pts[:k]


def render_site(
    rng: np.random.Generator,
    latent: np.ndarray,
    size: int,
    cells: tuple[int, int],
    cell_scale: float = 0.0,
    cell_sd: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Float (5, H, W) image in [0, ~1.5] and the number of nuclei drawn; cells are `cell_scale`
    times a 256² field's in pixels (0: size / 256, so a larger field shows the same cells bigger);
    `cell_sd` > 0 gives each cell its own log-normal intensity factor per channel."""
    scale = cell_scale or size / 256.0
    z = latent
    r_nuc = 6.5 * scale * np.exp(0.12 * z[0])
    r_cell = 15.0 * scale * np.exp(0.12 * z[1])
    n_target = int(rng.integers(cells[0], cells[1] + 1))
    centres = _place(rng, n_target, size, margin=r_nuc * 1.6 + 3, min_dist=max(2.6 * r_nuc + 4, 1.7 * r_cell))
    n = len(centres)
    seeds = np.zeros((size, size), np.int32)
    ci = np.clip(np.round(centres).astype(int), 0, size - 1)
    seeds[ci[:, 0], ci[:, 1]] = np.arange(1, n + 1)
    dist, (iy, ix) = ndi.distance_transform_edt(seeds == 0, return_indices=True)
    owner = seeds[iy, ix] - 1  # nearest cell, 0-based
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - centres[owner, 0], xx - centres[owner, 1]
    # per-cell nucleus ellipse
    elong = np.exp(0.15 * z[9] + rng.normal(0, 0.08, n))
    a = r_nuc * np.sqrt(elong) * rng.uniform(0.9, 1.1, n)
    b = r_nuc / np.sqrt(elong) * rng.uniform(0.9, 1.1, n)
    a, b = np.minimum(a, 1.5 * r_nuc), np.minimum(b, 1.5 * r_nuc)
    th = rng.uniform(0, np.pi, n)
    u = dx * np.cos(th[owner]) + dy * np.sin(th[owner])
    v = -dx * np.sin(th[owner]) + dy * np.cos(th[owner])
    dn = np.sqrt((u / a[owner]) ** 2 + (v / b[owner]) ** 2)
    nucleus = dn <= 1.0
    rc = r_cell * rng.uniform(0.85, 1.15, n)
    wobble = ndi.gaussian_filter(rng.normal(size=(size, size)), 4 * scale) * 8 * scale
    cell = (dist + wobble) <= rc[owner]
    cell |= nucleus
    rad = np.clip(dist / rc[owner], 0, 1)  # 0 at the centre, 1 at the membrane
    cyto = cell & ~nucleus
    inten = np.exp(0.25 * z[2:7])  # DNA, ER, RNA, AGP, Mito
    img = np.zeros((5, size, size), np.float32)
    chrom = ndi.gaussian_filter(rng.normal(size=(size, size)), 1.2)
    img[0] = nucleus * inten[0] * (1.0 - 0.3 * dn**2 + 0.8 * chrom)
    peri = np.exp(0.4 * z[8])
    img[1] = cyto * inten[1] * 1.2 * np.exp(-peri * 2.0 * rad)
    nucleoli = ndi.gaussian_filter((rng.random((size, size)) < 0.01).astype(np.float32), 1.0) * 6
    img[2] = cyto * inten[2] * 0.35 + nucleus * inten[2] * (0.15 + nucleoli)
    fibres = np.abs(ndi.gaussian_filter(rng.normal(size=(size, size)), (0.7, 3.0)))
    img[3] = cell * inten[3] * (0.2 + 0.6 * rad**3 + 0.6 * fibres)
    grain = max(0.6, 1.2 * np.exp(0.3 * z[7])) * scale
    # as many mitochondrial spots per cell at any scale: their density falls with the cells' area (else
    # larger cells pile up overlapping spots and saturate the channel: 54 of 80 sites at 1080²)
    density = 0.03 / max(scale, 1.0) ** 2
    spots = ndi.gaussian_filter((rng.random((size, size)) < density).astype(np.float32), grain) * (
        6 * grain**2
    )
    img[4] = cyto * inten[4] * (0.15 + spots)
    img = np.clip(img, 0, None)
    if cell_sd > 0:  # drawn last: a screen without heterogeneity keeps its pixels
        img *= np.exp(cell_sd * rng.normal(size=(5, n))).astype(np.float32)[:, owner]
    blur = ndi.gaussian_filter(img, (0, 0.7, 0.7))
    return blur.astype(np.float32), n
