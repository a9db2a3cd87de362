"""The microscope simulator: known biology, three layouts, atomic streaming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labstream.instruments.microscope import MicroscopeSimulator, PlateSetSpec
from labstream.phenomics.reading import discover, load_site


def spec(**kw: object) -> PlateSetSpec:
    base = dict(
        plates=2,
        complexes=2,
        genes_per_complex=2,
        nulls=1,
        negative_controls=2,
        positive_controls=1,
        sites_per_well=1,
        size=128,
        seed=5,
    )
    base.update(kw)
    return PlateSetSpec(**base)  # type: ignore[arg-type]


def test_platemap_and_relationships_follow_the_biology() -> None:
    sim = MicroscopeSimulator(spec())
    pm = sim.platemap()
    assert set(pm.columns) == {"plate", "well", "perturbation", "role", "sites"}
    per_plate = pm.groupby("plate").perturbation.apply(sorted)
    assert per_plate.iloc[0] == per_plate.iloc[1]  # every plate holds every perturbation
    assert (pm.role == "negative_control").sum() == 2 * 2
    rel = sim.relationships()
    assert len(rel) == 2  # one pair per complex of two genes
    assert all(a[:2] == b[:2] for a, b in zip(rel.gene_a, rel.gene_b, strict=True))
    # members of a complex share a shift; nulls shift nothing
    s = sim.shifts
    assert np.linalg.norm(s["C1G1"] - s["C1G2"]) < np.linalg.norm(s["C1G1"] - s["C2G1"])
    assert not s["NULL1"].any()


def test_render_is_deterministic_and_plates_differ_in_gain() -> None:
    sim = MicroscopeSimulator(spec())
    keys = list(sim.sites())
    a, n = sim.render(keys[0])
    b, m = sim.render(keys[0])
    assert np.array_equal(a, b) and n == m and n > 0
    assert a.dtype == np.uint16 and a.shape == (5, 128, 128)
    assert not np.allclose(sim.gains[0], sim.gains[1])


@pytest.mark.parametrize("layout", ["tiff", "rxrx", "zarr"])
def test_every_layout_reads_back_the_same_pixels(tmp_path, layout: str) -> None:
    sim = MicroscopeSimulator(spec(plates=1))
    out = sim.write(tmp_path, layout)
    sites = discover(out.images)
    truth = pd.read_csv(out.truth.parent / "site_truth.csv")
    assert len(sites) == len(truth)
    key = sorted(sites)[0]
    img = load_site(key, sites[key])
    expected, _ = sim.render(key, layout)
    assert np.array_equal(img.pixels, expected)
    pm = pd.read_csv(out.platemap)
    assert {k.plate for k in sites} == set(pm.plate)


def test_stream_writes_atomically_at_a_rate(tmp_path) -> None:
    sim = MicroscopeSimulator(spec(plates=1, bit_depth=8))
    import time

    t0 = time.perf_counter()
    written = list(sim.stream(tmp_path, "tiff", rate=20.0, limit=4))
    assert time.perf_counter() - t0 >= 3 / 20.0
    assert len(written) == 4
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 4 * 5 and not any(n.startswith(".") for n in names)
    assert len(discover(tmp_path)) == 4
