"""Cohort benchmark at scale (thousands of samples x ~1 M sites): prints ONE JSON object.

Steps in separate processes, so the store's peak memory is its own:
  gen DIR  msprime (a growing population: many rare sites, as in real cohorts) streamed site by site into
           DIR/geno.i8 (samples x sites, int8 alt copies; never one matrix in Python), each sample's
           coverage gaps and no-calls drawn from (seed, sample), the truth AC/AN at every site, the
           reference FASTA and bgzipped+indexed gVCFs of the first --gvcfs samples and of the newest one.
  run DIR  = build (the cohort from every sample but the newest: rows read per sample from geno.i8, added
           in batches, one Delta version each; --workers make rows in other processes; --resume goes on
           from an interrupted build), then finish: compacts, adds the newest from its gVCF (timed), then
           the figures of issue 16 and `bcftools merge --gvcf | norm | +fill-tags` on the first k gVCFs
           for each k of --bcftools-k (one run each; bcftools' time at the full size is extrapolated from
           them by a least-squares line in k and labelled so). Its AC/AN are compared with the store's
           sub-cohort of the same k samples.

Usage: python bench/cohort_scale.py gen DIR --samples 2000 --length 80000000
       python bench/cohort_scale.py run DIR [--bcftools-k 25,50,100]   # = build, then finish
       python bench/cohort_scale.py build DIR; python bench/cohort_scale.py finish DIR  # finish: newer code
       python bench/cohort_scale.py bcftools DIR --bcftools-k 100,200  # more k on a built lake
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from _cohort_figures import query_and_size  # noqa: E402
from _cohort_figures import timed as median_timed  # noqa: E402

from labstream.instruments.cohort_sim import (  # noqa: E402
    OneSample,
    covered_mask,
    reference_fasta,
    sample_gvcf,
    sample_rows,
)

CONTIG = "chr1"


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def noise(meta: dict, j: int, positions: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Sample j's not-covered intervals and no-call mask: a function of (seed, j) only."""
    rng = np.random.default_rng([meta["seed"], j])
    starts = np.sort(rng.integers(0, meta["length"], rng.poisson(meta["gaps_per_sample"])))
    gaps = [(int(s), int(min(meta["length"], s + rng.integers(1, meta["gap_len"])))) for s in starts]
    return gaps, rng.random(len(positions)) < meta["nocall_rate"]


def one(d: Path, meta: dict, sites: dict, j: int) -> OneSample:
    g = np.fromfile(d / "geno.i8", np.int8, count=meta["sites"], offset=j * meta["sites"])
    gaps, nocall = noise(meta, j, sites["positions"])
    return OneSample(
        CONTIG, meta["length"], sites["positions"], sites["ref"], sites["alt"], g, gaps, nocall, f"S{j:05d}"
    )


def gen(d: Path, a: argparse.Namespace) -> None:
    import msprime

    t0 = time.perf_counter()
    d.mkdir(parents=True, exist_ok=True)
    n = a.samples + 1  # the last one is "the newest sample"
    dem = msprime.Demography()
    dem.add_population(name="p", initial_size=5_000_000, growth_rate=0.04)
    dem.add_population_parameters_change(time=150, growth_rate=0, initial_size=10_000)
    ts = msprime.sim_ancestry(
        samples={"p": n},
        demography=dem,
        sequence_length=a.length,
        recombination_rate=1e-8,
        random_seed=a.seed,
    )
    ts = msprime.sim_mutations(ts, rate=1.5e-8, random_seed=a.seed)
    keep = np.zeros(ts.num_sites, bool)
    pos, ref, alt = [], [], []
    for site in ts.sites():
        if len(site.mutations) == 1 and int(site.position) > 0:
            keep[site.id] = True
            pos.append(int(site.position))
            ref.append(site.ancestral_state)
            alt.append(site.mutations[0].derived_state)
    s = len(pos)
    meta = {
        "samples": a.samples,
        "length": a.length,
        "seed": a.seed,
        "sites": s,
        "gaps_per_sample": 2.0,
        "gap_len": 20_000,
        "nocall_rate": a.nocall_rate,
    }
    sim_s = time.perf_counter() - t0
    geno = np.memmap(d / "geno.i8", np.int8, "w+", shape=(n, s))  # row per sample: fromfile reads one
    chunk, k, lo = np.empty((20_000, n), np.int8), 0, 0
    for v in ts.variants():
        if keep[v.site.id]:
            chunk[k] = v.genotypes.reshape(n, 2).sum(axis=1)
            k += 1
            if k == len(chunk):
                geno[:, lo : lo + k] = chunk[:k].T
                lo, k = lo + k, 0
    geno[:, lo : lo + k] = chunk[:k].T
    geno.flush()
    del geno, ts
    sites = {"positions": np.array(pos, np.int64), "ref": np.array(ref), "alt": np.array(alt)}
    ac, an, seen = np.zeros(s, np.int64), np.zeros(s, np.int64), np.zeros(s, bool)
    for j in range(n):
        o = one(d, meta, sites, j)
        called = covered_mask(o.positions, o.gaps) & ~o.nocall
        ac += o.genotype * called
        an += 2 * called
        if j < n - 1:
            seen |= o.genotype > 0
    newest_first = (~seen) & (one(d, meta, sites, n - 1).genotype > 0)
    np.savez(d / "sites.npz", **sites, ac=ac, an=an, newest_first=newest_first)
    matrix_s = time.perf_counter() - t0 - sim_s
    ref_fa = reference_fasta(CONTIG, a.length, sites["positions"], sites["ref"], a.seed, d / "ref.fa")
    (d / "gvcf").mkdir(exist_ok=True)
    t1 = time.perf_counter()
    for j in [*range(min(a.gvcfs, n - 1)), n - 1]:
        sample_gvcf(one(d, meta, sites, j), ref_fa, d / "gvcf" / f"S{j:05d}.g.vcf.gz")
    meta |= {
        "simulate_s": round(sim_s, 1),
        "matrix_and_truth_s": round(matrix_s, 1),
        "write_gvcfs_s": round(time.perf_counter() - t1, 1),
        "gvcfs": min(a.gvcfs, n - 1) + 1,
        "gen_peak_rss_mb": rss_mb(),
    }
    (d / "meta.json").write_text(json.dumps(meta))
    print(json.dumps(meta))


def timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    out, seconds = median_timed(fn, repeat)
    return out, round(seconds, 4)


def _rows(d: Path, meta: dict, sites: dict, max_block: int, js: range) -> pa.Table:
    return pa.concat_tables([sample_rows(one(d, meta, sites, j), max_block) for j in js])


def _batches(d: Path, meta: dict, sites: dict, a: argparse.Namespace, batches: list[range]):  # type: ignore[no-untyped-def]
    """The rows of each batch in order; with --workers > 0 made in worker processes while this one
    writes (at most workers + 1 batches in memory at once)."""
    if a.workers <= 0:
        yield from (_rows(d, meta, sites, a.max_block, js) for js in batches)
        return
    import multiprocessing as mp

    with mp.get_context("forkserver").Pool(a.workers) as pool:
        todo = [pool.apply_async(_rows, (d, meta, sites, a.max_block, js)) for js in batches[: a.workers + 1]]
        for k in range(len(batches)):
            rows = todo[k].get()
            todo[k] = None  # type: ignore[call-overload]  # the result holds the batch's rows: let them go
            if k + a.workers + 1 < len(batches):
                more = (d, meta, sites, a.max_block, batches[k + a.workers + 1])
                todo.append(pool.apply_async(_rows, more))
            yield rows


def _done(lake: Path) -> tuple[int, int]:
    """(samples, rows) of a lake an interrupted `build` left: its samples must be S00000.. in order."""
    from labstream.cohort import CohortStore
    from labstream.lake import open_lake

    if not (lake / "cohort_calls").exists():
        return 0, 0
    store = CohortStore(open_lake(lake))
    files = store.dictionary_dataset(store._files())
    names: set[str] = set()
    for frag in files.get_fragments():
        col = frag.to_table(columns=["sample"])["sample"]
        names |= {v for c in col.chunks for v in c.dictionary.to_pylist()}
    rows = sum(f.count_rows() for f in files.get_fragments())
    if names != {f"S{j:05d}" for j in range(len(names))}:
        raise SystemExit(f"{lake}: samples are not S00000..S{len(names) - 1:05d}; build afresh")
    return len(names), rows


def build(d: Path, a: argparse.Namespace) -> None:
    """The cohort of every sample but the newest, from rows in batches (no compaction); its figures go to
    DIR/build.json for `finish`."""
    from labstream.cohort import CohortStore
    from labstream.lake import open_lake

    meta = json.loads((d / "meta.json").read_text())
    z = np.load(d / "sites.npz")
    sites = {k: z[k] for k in ("positions", "ref", "alt")}
    n = meta["samples"]
    out: dict = {"max_block": a.max_block, "batch": a.batch}
    lake = d / "lake"
    first, rows_total = _done(lake) if a.resume else (0, 0)
    if first == 0:
        shutil.rmtree(lake, ignore_errors=True)  # a fresh cohort
    else:
        out |= {"resumed_at_samples": first, "rows_before_resume": rows_total}
    store = CohortStore(open_lake(lake), max_block=a.max_block)
    t0 = time.perf_counter()
    batches = [range(lo, min(n, lo + a.batch)) for lo in range(first, n, a.batch)]
    for js, rows in zip(batches, _batches(d, meta, sites, a, batches), strict=True):
        rows_total += rows.num_rows
        store.add(rows)
        del rows
        print(
            f"built {js[-1] + 1}/{n} samples, {rows_total} rows, {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    out["build_s"] = round(time.perf_counter() - t0, 1)
    out["rows"] = rows_total
    out["build_peak_rss_mb"] = rss_mb()
    (d / "build.json").write_text(json.dumps(out))


def finish(d: Path, a: argparse.Namespace) -> None:
    """On the lake `build` made: compaction, the newest sample added from its gVCF, every figure, bcftools."""
    from labstream.cohort import CohortStore, allele_stats
    from labstream.cohort.gvcf import read_gvcf
    from labstream.lake import open_lake

    meta = json.loads((d / "meta.json").read_text())
    z = np.load(d / "sites.npz")
    sites = {k: z[k] for k in ("positions", "ref", "alt")}
    n, s = meta["samples"], meta["sites"]
    out: dict = {"samples": n + 1, "sites": s, "length_bp": meta["length"]}
    out |= json.loads((d / "build.json").read_text())
    store = CohortStore(open_lake(d / "lake"), max_block=out["max_block"])
    out["compact"], out["compact_s"] = timed(store.compact)
    out["compact_peak_rss_mb"] = rss_mb()
    _partial(d, out)
    allele_stats(store)  # warm the cached summary
    newest = d / "gvcf" / f"S{n:05d}.g.vcf.gz"
    new_rows, out["add_one_parse_gvcf_s"] = timed(lambda: read_gvcf(newest, max_block=store.max_block))
    add, out["add_one_s"] = timed(lambda: store.add(new_rows))
    out["add_one_bytes"] = add.bytes_written
    out["add_one_gvcf_bytes"] = newest.stat().st_size
    out["add_one_bytes_over_gvcf"] = round(add.bytes_written / newest.stat().st_size, 2)
    st, out["af_all_s"] = timed(lambda: allele_stats(store), 3)
    pos = sites["positions"]
    i = np.searchsorted(pos, st["start"].to_numpy())
    ok = (i < s) & (pos[np.minimum(i, s - 1)] == st["start"].to_numpy())
    ok &= sites["ref"][np.minimum(i, s - 1)] == np.array(st["ref"].to_pylist())
    ok &= sites["alt"][np.minimum(i, s - 1)] == np.array(st["alt"].to_pylist())
    exact = (
        ok
        & (z["ac"][i.clip(0, s - 1)] == st["ac"].to_numpy())
        & (z["an"][i.clip(0, s - 1)] == st["an"].to_numpy())
    )
    out["sites_with_alt_called"] = st.num_rows
    out["an_exact_fraction"] = round(float(exact.mean()), 6)
    truth_called = int((z["ac"] > 0).sum())
    found = np.zeros(s, bool)
    found[i[ok]] = True
    out["missing_sites"] = int(((z["ac"] > 0) & ~found).sum()) if truth_called else 0
    nf = np.flatnonzero(z["newest_first"] & (z["ac"] > 0))
    out["sites_first_seen_in_newest"] = len(nf)
    exact_at = np.zeros(s, bool)
    exact_at[i[exact]] = True
    out["newest_sites_exact"] = bool(exact_at[nf].all())
    half = [f"S{j:05d}" for j in range((n + 1) // 2)]
    fast, out["subcohort_af_s"] = timed(lambda: allele_stats(store, samples=half), 3)
    idx = d / "lake" / "cohort_index"
    out["index_bytes"] = sum(f.stat().st_size for f in idx.rglob("*") if f.is_file())
    out["index_bits_per_genotype"] = round(out["index_bytes"] * 8 / (n * s), 3)  # the compacted n samples
    out |= query_and_size(store, CONTIG, int(pos[s // 2]), n + 1, s)
    _partial(d, out)
    rows_, out["subcohort_rows_af_s"] = timed(lambda: allele_stats(store, samples=half, use_index=False))
    out["subcohort_index_equals_rows"] = fast.select(rows_.column_names).equals(rows_.cast(fast.schema))
    out["peak_rss_mb"] = rss_mb()  # of this step; the build's is build_peak_rss_mb
    _partial(d, out)
    out |= bcftools_side(
        d, store, [k for k in map(int, a.bcftools_k.split(",")) if k <= meta["gvcfs"] - 1], n + 1
    )
    out["speedup_af_vs_bcftools_extrapolated"] = round(
        out["bcftools_af_all_s_extrapolated"] / out["af_all_s"], 1
    )
    out["peak_rss_children_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    out["gen"] = meta
    print(json.dumps(out))


def _partial(d: Path, out: dict) -> None:
    """The figures so far, in DIR/finish.partial.json (a long run that stops still leaves them)."""
    (d / "finish.partial.json").write_text(json.dumps(out))


def bcftools_side(d: Path, store, ks: list[int], n_all: int) -> dict:  # type: ignore[no-untyped-def]
    """`bcftools merge --gvcf | norm | +fill-tags` on the first k gVCFs for each k (timed), its AC/AN against
    the store's sub-cohort of the largest k, and its time at n_all samples extrapolated (labelled so)."""
    from labstream.cohort import allele_stats
    from labstream.cohort.bcftools import bcftools_allele_counts

    out: dict = {}
    bc_t = {}
    for k in ks:
        gv = [d / "gvcf" / f"S{j:05d}.g.vcf.gz" for j in range(k)]
        bc, bc_t[k] = timed(lambda gv=gv: bcftools_allele_counts(gv, d / "ref.fa", threads=2))
        print(f"bcftools k={k}: {bc_t[k]} s", file=sys.stderr, flush=True)
    out["bcftools_af_s_by_k"] = bc_t
    kmax = ks[-1]
    mine, out["store_subcohort_same_k_s"] = timed(
        lambda: allele_stats(store, samples=[f"S{j:05d}" for j in range(kmax)])
    )
    mine_d = {(r["contig"], r["start"], r["ref"], r["alt"]): (r["ac"], r["an"]) for r in mine.to_pylist()}
    out["bcftools_agreement"] = sum(mine_d.get(kk) == v for kk, v in bc.items()) / max(1, len(bc))
    out["bcftools_sites"] = len(bc)
    slope, icpt = np.polyfit(np.array(ks, float), np.array([bc_t[k] for k in ks]), 1)
    out["bcftools_af_all_s_extrapolated"] = round(float(icpt + slope * n_all), 1)
    out["bcftools_extrapolation"] = (
        f"least-squares line through k={ks} measured, evaluated at {n_all} samples"
    )
    return out


def more_bcftools(d: Path, a: argparse.Namespace) -> None:
    """On a lake `run` built: write the gVCFs up to the largest k that are missing, run bcftools at each k."""
    from labstream.cohort import CohortStore, allele_stats
    from labstream.lake import open_lake

    meta = json.loads((d / "meta.json").read_text())
    sites = {k: v for k, v in np.load(d / "sites.npz").items() if k in ("positions", "ref", "alt")}
    ks = list(map(int, a.bcftools_k.split(",")))
    t0 = time.perf_counter()
    for j in range(max(ks)):
        path = d / "gvcf" / f"S{j:05d}.g.vcf.gz"
        if not path.exists():
            sample_gvcf(one(d, meta, sites, j), d / "ref.fa", path)
    store = CohortStore(open_lake(d / "lake"))
    _, af_all = timed(lambda: allele_stats(store), 3)
    out = {
        "samples": meta["samples"] + 1,
        "sites": meta["sites"],
        "write_gvcfs_s": round(time.perf_counter() - t0, 1),
    }
    out |= {"af_all_s": af_all, **bcftools_side(d, store, ks, meta["samples"] + 1)}
    out["speedup_af_vs_bcftools_extrapolated"] = round(out["bcftools_af_all_s_extrapolated"] / af_all, 1)
    print(json.dumps(out))


def run(d: Path, a: argparse.Namespace) -> None:
    build(d, a)
    finish(d, a)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["gen", "run", "build", "finish", "bcftools"])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--length", type=int, default=80_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nocall-rate", type=float, default=0.005)
    ap.add_argument("--gvcfs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--workers", type=int, default=0, help="build: processes making rows (0: this one)")
    ap.add_argument("--resume", action="store_true", help="build: go on from the samples the lake holds")
    ap.add_argument("--max-block", type=int, default=10_000)
    ap.add_argument("--bcftools-k", default="25,50,100")
    a = ap.parse_args()
    steps = {"gen": gen, "run": run, "build": build, "finish": finish, "bcftools": more_bcftools}
    steps[a.step](a.dir, a)


if __name__ == "__main__":
    main()
