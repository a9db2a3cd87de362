"""The widened simulator family: its ranges, and that each effect does what it says on the pixels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from labstream.instruments.microscope import N_LATENT, PlateSetSpec, render_site
from labstream.instruments.microscope_family import (
    SIGNLESS_LATENTS,
    Effects,
    FamilySimulator,
    Member,
    draw_family,
    oracle_recall,
    rendered_latent_recall,
)
from labstream.phenomics.image import segment
from labstream.phenomics.model import SiteKey
from labstream.phenomics.profiling import known_relationship_recall

SPEC = PlateSetSpec(plates=2, sites_per_well=1, size=128, complexes=4, nulls=2, seed=3)


def test_members_span_the_stated_ranges_and_differ() -> None:
    fam = draw_family(12, seed=1)
    assert {m.spec.plates for m in fam} <= set(range(2, 7)) and len({m.spec.plates for m in fam}) > 2
    assert {m.spec.sites_per_well for m in fam} <= {1, 2, 3, 4}
    assert all(0.35 <= m.spec.effect <= 1.0 for m in fam)
    assert len({m.spec.seed for m in fam}) == 12
    assert draw_family(3, seed=1) == fam[:3]  # the family is reproducible from its seed


def test_true_vectors_miss_more_pairs_when_complex_members_agree_less() -> None:
    spec = replace(SPEC, complexes=8, nulls=8)
    tight = np.mean(
        [oracle_recall(Member("t", replace(spec, seed=s), Effects(within_complex=0.1))) for s in range(4)]
    )
    loose = np.mean(
        [oracle_recall(Member("l", replace(spec, seed=s), Effects(within_complex=0.6))) for s in range(4)]
    )
    assert tight > 0.95 > loose + 0.2


def _cells_mean(px: np.ndarray, channel: int) -> np.ndarray:
    seg = segment(px)
    lab = seg.cells.ravel()
    v = px[channel].ravel().astype(float)
    return np.bincount(lab, v)[1:] / np.maximum(np.bincount(lab)[1:], 1)


def test_crosstalk_puts_dna_into_the_next_channel_inside_nuclei() -> None:
    key = SiteKey("P01", "B02", 1)
    clean = FamilySimulator(SPEC, Effects()).render(key)[0]
    leaky = FamilySimulator(SPEC, Effects(crosstalk=0.3)).render(key)[0]
    nuclei = segment(clean).nuclei > 0
    assert np.array_equal(clean[0], leaky[0])  # DNA itself unchanged
    gain = leaky[1][nuclei].astype(float).mean() - clean[1][nuclei].astype(float).mean()
    assert gain > 0.2 * clean[0][nuclei].astype(float).mean() * 0.5


def test_per_cell_heterogeneity_spreads_cell_intensities() -> None:
    key = SiteKey("P01", "B02", 1)
    spec = replace(SPEC, size=192, cells_per_site=(18, 20))
    cv = []
    for sd in (0.0, 0.5):
        m = _cells_mean(FamilySimulator(spec, Effects(cell_sd=sd)).render(key)[0], 4)
        cv.append(m.std() / m.mean())
    assert cv[1] > 1.5 * cv[0]


def test_edge_wells_and_the_gradient_shift_morphology_by_position() -> None:
    sim = FamilySimulator(SPEC, Effects(edge=0.5))
    assert np.linalg.norm(sim.position_shift("A05")) > 0.5 and np.linalg.norm(sim.position_shift("H12")) > 0.5
    assert np.allclose(sim.position_shift("C05"), 0)
    grad = FamilySimulator(SPEC, Effects(gradient=0.4))
    top, bottom = grad.position_shift("B05"), grad.position_shift("G05")
    assert np.allclose(top, -bottom) and np.linalg.norm(top) > 0


def test_rendered_latent_ceiling_is_the_truth_without_well_noise_and_falls_with_it() -> None:
    spec = replace(SPEC, complexes=8, nulls=8, sites_per_well=1)
    still = Effects(well_sd=0.0, plate_sd=0.5, edge=0.5)
    members = [Member("q", replace(spec, seed=s), still) for s in range(3)]
    # no site noise: the ceiling is the true vectors' recall (plate and position terms are not in it)
    assert [rendered_latent_recall(m) for m in members] == [oracle_recall(m) for m in members]
    noisy = [Member("n", replace(spec, seed=s), Effects(well_sd=0.6)) for s in range(3)]
    ceiling = np.mean([rendered_latent_recall(m) for m in noisy])
    assert ceiling < np.mean([oracle_recall(m) for m in noisy]) - 0.2


def test_the_ceiling_reads_the_noise_the_sites_were_rendered_with() -> None:
    key = SiteKey("P01", "B03", 1)
    noisy = FamilySimulator(SPEC, Effects(well_sd=0.3))
    draw = noisy.site_draw
    noisy.site_draw = lambda *a: (draw(*a)[0], np.zeros(10))  # type: ignore[method-assign]
    quiet = FamilySimulator(SPEC, Effects(well_sd=0.0))
    assert np.array_equal(noisy.render(key)[0], quiet.render(key)[0])  # site_draw's noise is all there is
    plain = FamilySimulator(SPEC, Effects(well_sd=0.3))
    assert not np.array_equal(plain.render(key)[0], quiet.render(key)[0])


def _nucleus_eccentricity(z9: float, sites: int = 8) -> float:
    from skimage.measure import regionprops

    latent = np.zeros(N_LATENT)
    latent[9] = z9
    ecc = []
    for s in range(sites):
        img = render_site(np.random.default_rng([5, s]), latent, 192, (12, 20))[0]
        px = (np.clip(img + 0.02, 0, None) * 0.22 * 65535).astype(np.uint16)
        ecc += [p.eccentricity for p in regionprops(segment(px).nuclei)]
    return float(np.mean(ecc))


def test_nucleus_elongation_shows_its_size_but_not_its_sign() -> None:
    assert SIGNLESS_LATENTS == (9,)
    plus, minus, zero = (_nucleus_eccentricity(z) for z in (2.0, -2.0, 0.0))
    assert abs(plus - minus) < 0.04  # the same images either way: random orientation hides the sign
    assert min(plus, minus) > zero + 0.1  # while |z9| shows clearly


def test_the_signed_ceiling_leaves_out_the_signless_latents() -> None:
    spec = replace(SPEC, complexes=8, nulls=8, sites_per_well=1)
    for seed in range(3):
        member = Member("q", replace(spec, seed=seed), Effects(well_sd=0.0))
        sim = FamilySimulator(member.spec, member.effects)
        signed = sim.true_profiles().drop(columns=[f"z{i}" for i in SIGNLESS_LATENTS])
        expected = known_relationship_recall(signed, sim.relationships()).recall
        assert rendered_latent_recall(member, signed_only=True) == expected
