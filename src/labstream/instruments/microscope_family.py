"""A family of Cell Painting screens, wider than the one simulator the map was tuned on.

Each member draws its own screen: effect sizes down to the noise floor, complexes whose members agree
only partly (so even the true effect vectors miss some known pairs: `oracle_recall` says how many),
1-4 sites per well and 2-6 replicate plates, per-cell intensity heterogeneity, a batch shift of the
morphology per plate, well-position effects (edge wells and a gradient across the plate, in
morphology, which per-plate control normalisation does not remove), channel crosstalk (each stain
bleeding into the next channel) and its own pixel noise. Methods are chosen on some members and
scored on the others (bench/phenomics_family.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labstream.instruments.microscope import (
    N_LATENT,
    MicroscopeSimulator,
    PlateSetSpec,
    hash_well,
    illumination_field,
    render_site,
)
from labstream.phenomics.model import SiteKey, well_row_col

# Latents whose sign no image shows. Nucleus elongation (z9) stretches each nucleus along an angle drawn
# at random, so a shift of z9 and its negative render the same images in distribution (the nuclei's
# eccentricity rises with |z9| either way: tests/instruments). No assay can place it in a signed profile.
SIGNLESS_LATENTS = (9,)


@dataclass(frozen=True)
class Effects:
    """What a family member adds to the base simulator (0 everywhere: the base simulator's screen)."""

    within_complex: float = 0.15  # SD of a gene's own deviation from its complex, x effect
    well_sd: float = 0.1  # well-to-well latent noise
    plate_sd: float = 0.0  # batch: one latent shift per plate
    edge: float = 0.0  # latent shift of the plate's edge wells (96-well rows A/H, columns 1/12)
    gradient: float = 0.0  # latent shift from the first to the last row of the plate
    cell_sd: float = 0.0  # per-cell log-intensity heterogeneity
    crosstalk: float = 0.0  # fraction of each channel seen in the next one
    pixel_noise: float = 0.004


@dataclass(frozen=True)
class Member:
    name: str
    spec: PlateSetSpec
    effects: Effects


def draw_family(n: int, seed: int = 0, size: int = 256) -> list[Member]:
    """`n` members drawn from the family's ranges (each with its own simulator seed)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        spec = PlateSetSpec(
            plates=int(rng.integers(2, 7)),
            sites_per_well=int(rng.integers(1, 5)),
            size=size,
            complexes=8,
            nulls=8,
            negative_controls=6,
            effect=float(rng.uniform(0.35, 1.0)),
            seed=int(rng.integers(1, 2**31)),
        )
        fx = Effects(
            within_complex=float(rng.uniform(0.25, 0.45)),  # true-vector recall ~0.77 on average
            well_sd=float(rng.uniform(0.1, 0.3)),
            plate_sd=float(rng.uniform(0.0, 0.4)),
            edge=float(rng.uniform(0.0, 0.6)),
            gradient=float(rng.uniform(0.0, 0.4)),
            cell_sd=float(rng.uniform(0.0, 0.35)),
            crosstalk=float(rng.uniform(0.0, 0.15)),
            pixel_noise=float(rng.uniform(0.004, 0.02)),
        )
        out.append(Member(f"m{i + 1}", spec, fx))
    return out


class FamilySimulator(MicroscopeSimulator):
    """The base simulator with a member's effects; writes every layout the base one writes."""

    def __init__(self, spec: PlateSetSpec, effects: Effects) -> None:
        super().__init__(spec)
        self.effects = effects
        rng = np.random.default_rng([spec.seed, 1])  # its own stream: the base draws stay as they were
        for name in list(self.shifts):
            if name[0] == "C" and "G" in name:  # a complex member: its own part of the shift
                extra = rng.normal(scale=effects.within_complex * spec.effect, size=N_LATENT)
                self.shifts[name] = self.shifts[name] + extra
        self.plate_shift = rng.normal(scale=effects.plate_sd, size=(spec.plates, N_LATENT))
        edge_dir, grad_dir = rng.normal(size=(2, N_LATENT))
        self.edge_shift = effects.edge * edge_dir / np.linalg.norm(edge_dir) * np.sqrt(3.0)
        self.grad_shift = effects.gradient * grad_dir / np.linalg.norm(grad_dir) * np.sqrt(3.0)

    def position_shift(self, well: str) -> np.ndarray:
        """Latent shift of a well from its place on a 96-well plate."""
        r, c = well_row_col(well)
        edge = r in (0, 7) or c in (0, 11)
        return self.edge_shift * edge + self.grad_shift * (r / 7.0 - 0.5)

    def site_draw(self, plate_i: int, well: str, site: int) -> tuple[np.random.Generator, np.ndarray]:
        """The site's generator, after it drew the site's latent noise (well_sd), and that noise."""
        seed = (self.spec.seed * 1_000_003 + plate_i * 10_007 + hash_well(well) * 101 + site) % 2**32
        rng = np.random.default_rng(seed)
        return rng, rng.normal(scale=self.effects.well_sd, size=N_LATENT)

    def render(self, key: SiteKey, layout: str = "tiff") -> tuple[np.ndarray, int]:
        s, fx = self.spec, self.effects
        plate_i = self.plate_ids(layout).index(key.plate)
        pm = self._platemap[(self._platemap.plate_index == plate_i) & (self._platemap.well == key.well)]
        pert = str(pm.perturbation.iloc[0])
        rng, noise = self.site_draw(plate_i, key.well, key.site)
        latent = self.shifts[pert] + self.plate_shift[plate_i] + self.position_shift(key.well) + noise
        img, n = render_site(rng, latent, s.size, s.cells_per_site, s.cell_scale, cell_sd=fx.cell_sd)
        if fx.crosstalk:
            img[1:] += fx.crosstalk * img[:-1]  # each stain bleeds into the next channel
        img *= self.gains[plate_i][:, None, None]
        img *= illumination_field(s.size, self.illum_centres[plate_i])[None]
        img += rng.normal(0.0, fx.pixel_noise, size=img.shape).astype(np.float32) + 0.02
        top = 255 if s.bit_depth == 8 else 65535
        out = np.clip(img * 0.22 * top, 0, top).astype(np.uint8 if s.bit_depth == 8 else np.uint16)
        return out, n

    def true_profiles(self) -> pd.DataFrame:
        """One row per treatment: its true latent shift (what a perfect assay would measure)."""
        rows = [
            {
                "Metadata_Perturbation": str(p["perturbation"]),
                **{f"z{i}": v for i, v in enumerate(self.shifts[str(p["perturbation"])])},
            }
            for p in self.perturbations
            if p["role"] == "treatment"
        ]
        return pd.DataFrame(rows)


def oracle_recall(member: Member) -> float:
    """Known-relationship recall of the true effect vectors: the most any assay can reach."""
    from labstream.phenomics.profiling import known_relationship_recall

    sim = FamilySimulator(member.spec, member.effects)
    return float(known_relationship_recall(sim.true_profiles(), sim.relationships()).recall)


def rendered_latent_recall(member: Member, signed_only: bool = False) -> float:
    """Recall of the latent vectors the member's sites were rendered from (true shift plus each site's
    latent noise), averaged over each perturbation's sites and wells; plate and position terms are left
    out, as a perfect correction would remove them. What an assay that read every site's latent state
    exactly could reach with the member's replicates: the well noise it cannot average away stays in.
    `signed_only` leaves out SIGNLESS_LATENTS, which no image shows with their sign: the ceiling of an
    assay that reads everything the pixels do show. A diagnostic ceiling beside `oracle_recall` (the
    noiseless shifts); it never chooses a method."""
    from labstream.phenomics.profiling import known_relationship_recall

    sim = FamilySimulator(member.spec, member.effects)
    pm = sim._platemap[sim._platemap.role == "treatment"]
    sums: dict[str, np.ndarray] = {}
    for plate_i, well, pert in zip(pm.plate_index, pm.well, pm.perturbation, strict=True):
        for site in range(1, member.spec.sites_per_well + 1):
            noise = sim.site_draw(int(plate_i), str(well), site)[1]
            sums[str(pert)] = sums.get(str(pert), 0.0) + sim.shifts[str(pert)] + noise
    keep = [i for i in range(N_LATENT) if not (signed_only and i in SIGNLESS_LATENTS)]
    prof = pd.DataFrame(np.vstack(list(sums.values()))[:, keep], columns=[f"z{i}" for i in keep])
    prof.insert(0, "Metadata_Perturbation", list(sums))
    return float(known_relationship_recall(prof, sim.relationships()).recall)
