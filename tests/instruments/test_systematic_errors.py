"""Strand-specific systematic errors: after GGC in read direction only, one wrong base per site."""

from __future__ import annotations

import numpy as np

from labstream.instruments.systematic_errors import motif_sites, strand_errors


def _genome(n: int = 5_000, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).choice(np.frombuffer(b"ACGT", np.uint8), n)


def test_sites_follow_the_motif_in_read_direction() -> None:
    g = _genome()
    seq = g.tobytes()
    (fwd, _), (rev, _) = motif_sites(g, np.random.default_rng(0), 0.6, keep=1.0)
    fwd_sites, rev_sites = set(np.flatnonzero(fwd).tolist()), set(np.flatnonzero(rev).tolist())
    assert fwd_sites == {i for i in range(3, len(seq)) if seq[i - 3 : i] == b"GGC"}
    assert rev_sites == {i for i in range(len(seq) - 3) if seq[i + 1 : i + 4] == b"GCC"}
    assert 0.05 <= fwd[list(fwd_sites)].min() and fwd.max() <= 0.6


def test_errors_hit_one_strand_with_one_wrong_base() -> None:
    g = _genome()
    rng = np.random.default_rng(2)
    (fwd, fwd_shift), _ = motif_sites(g, rng, 0.9, keep=1.0)
    starts = rng.integers(0, len(g) - 100, 400)
    where = starts[:, None] + np.arange(100)
    reads = g[where].copy()
    quals = np.full(reads.shape, 37, dtype=np.uint8)
    out, q = strand_errors(reads.copy(), quals.copy(), (fwd, fwd_shift), where, rng)
    changed = out != g[where]
    assert changed.any() and (fwd[where][changed] > 0).all()  # only at prone positions
    assert (q[changed] < 22).all() and (q[~changed] == 37).all()
    for pos in np.unique(where[changed])[:50].tolist():  # the same wrong base at each site
        assert len(set(out[changed & (where == pos)].tolist())) == 1
